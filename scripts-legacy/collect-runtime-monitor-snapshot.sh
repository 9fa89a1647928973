#!/usr/bin/env bash
# Was scripts/ops/collect-runtime-monitor-snapshot.sh; now `cargo xtask ops monitor`.
# Legacy variables still read: OPS_COMPOSE_FILE, OPS_COMPOSE_PROJECT, OPS_LOG_TAIL_LINES, OPS_APP_SERVICE.
# Arguments are passed on (--help lists them).
set -euo pipefail
# The repository root, from this script's own path: it works from any folder.
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
exec cargo xtask ops monitor "$@"
