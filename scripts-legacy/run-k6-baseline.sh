#!/usr/bin/env bash
# Was scripts/perf/run-k6-baseline.sh; now `cargo xtask k6 baseline`.
# Legacy variables still read: K6_*, K6_BASELINE_*, API_HOST, CONCERT_ID.
# Arguments are passed on (--help lists them).
set -euo pipefail
# The repository root, from this script's own path: it works from any folder.
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
exec cargo xtask k6 baseline "$@"
