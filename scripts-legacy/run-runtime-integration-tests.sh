#!/usr/bin/env bash
# Was scripts/ops/run-runtime-integration-tests.sh; now `cargo xtask integration`.
# Legacy variables still read: IT_*.
# Arguments are passed on (--help lists them).
set -euo pipefail
# The repository root, from this script's own path: it works from any folder.
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
exec cargo xtask integration "$@"
