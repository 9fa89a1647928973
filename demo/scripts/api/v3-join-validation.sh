#!/usr/bin/env bash
# v3: a join without a user id is refused with 400, and GET on the join path with 405.
set -euo pipefail

API_HOST="${API_HOST:-http://127.0.0.1:8080}"

code="$(curl -sS --connect-timeout 5 --max-time 10 -o /dev/null -w '%{http_code}' \
  -X POST "${API_HOST}/api/v1/waiting-queue/join" \
  -H 'Content-Type: application/json' -d '{"concertId": 1}')"
echo "join without userId -> ${code}"
if [[ "$code" != "400" ]]; then
  echo "FAIL: expected HTTP 400"
  exit 1
fi
code="$(curl -sS --connect-timeout 5 --max-time 10 -o /dev/null -w '%{http_code}' \
  "${API_HOST}/api/v1/waiting-queue/join")"
echo "GET join -> ${code}"
if [[ "$code" != "405" ]]; then
  echo "FAIL: expected HTTP 405"
  exit 1
fi
echo "PASS"
