#!/usr/bin/env bash
# Was scripts/api/run-api-script-tests.sh; now `cargo xtask api-scripts`.
# Legacy variables still read: API_SCRIPT_HEALTH_URL, TICKETRUSH_HEALTH_URL, APP_PUSH_MODE, STEP7_PUSH_MODE.
# Arguments (script names) are passed on (--help lists the options).
set -euo pipefail
# The repository root, from this script's own path: it works from any folder.
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
exec cargo xtask api-scripts "$@"
