#!/usr/bin/env bash
# Was scripts/perf/run-k6-waiting-queue-distributed.sh; now `cargo xtask k6 distributed`.
# Legacy variables still read: DIST_*, K6_*, K6_WARMUP_*.
# Arguments are passed on (--help lists them).
set -euo pipefail
# The repository root, from this script's own path: it works from any folder.
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
exec cargo xtask k6 distributed "$@"
