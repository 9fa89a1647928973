#!/usr/bin/env bash
# Was scripts/ops/run-release-gate.sh; now `cargo xtask release-gate`.
# Legacy variables still read: RELEASE_GATE_*.
# Arguments are passed on (--help lists them).
set -euo pipefail
# The repository root, from this script's own path: it works from any folder.
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
exec cargo xtask release-gate "$@"
