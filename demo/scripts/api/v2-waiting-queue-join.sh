#!/usr/bin/env bash
# v2: users join the waiting queue; each answer is 200 with a known status.
set -euo pipefail

API_HOST="${API_HOST:-http://127.0.0.1:8080}"
CONCERT_ID="${CONCERT_ID:-1}"
# Users of our own, apart from the k6 runs' (900000000 and up).
USER_ID_BASE="${USER_ID_BASE:-700000000}"

failed=0
for i in 1 2 3; do
  user_id=$((USER_ID_BASE + $$ * 10 + i))
  response="$(curl -sS --connect-timeout 5 --max-time 10 -w '\n%{http_code}' \
    -X POST "${API_HOST}/api/v1/waiting-queue/join" \
    -H 'Content-Type: application/json' \
    -d "{\"userId\": ${user_id}, \"concertId\": ${CONCERT_ID}}")"
  code="$(printf '%s\n' "$response" | tail -n 1)"
  body="$(printf '%s\n' "$response" | sed '$d')"
  echo "join user ${user_id} -> ${code} ${body}"
  if [[ "$code" != "200" ]] || ! grep -Eq '"status" *: *"(WAITING|ACTIVE|REJECTED)"' <<<"$body"; then
    echo "FAIL: expected HTTP 200 with status WAITING, ACTIVE or REJECTED"
    failed=1
  fi
done
if [[ "$failed" -ne 0 ]]; then
  exit 1
fi
echo "PASS"
