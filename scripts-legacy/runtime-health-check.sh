#!/usr/bin/env bash
# Was scripts/ops/runtime-health-check.sh; now `cargo xtask ops health`.
# Legacy variables still read: OPS_HEALTH_API_URL, OPS_{REDIS,KAFKA,POSTGRES}_{HOST,PORT}.
# Arguments are passed on (--help lists them).
set -euo pipefail
# The repository root, from this script's own path: it works from any folder.
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
exec cargo xtask ops health "$@"
