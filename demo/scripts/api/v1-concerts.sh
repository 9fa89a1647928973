#!/usr/bin/env bash
# v1: the concert list answers 200 with a JSON array.
set -euo pipefail

API_HOST="${API_HOST:-http://127.0.0.1:8080}"

response="$(curl -sS --connect-timeout 5 --max-time 10 -w '\n%{http_code}' "${API_HOST}/api/concerts")"
code="$(printf '%s\n' "$response" | tail -n 1)"
body="$(printf '%s\n' "$response" | sed '$d')"
echo "GET /api/concerts -> ${code} ${body}"
if [[ "$code" != "200" ]]; then
  echo "FAIL: expected HTTP 200"
  exit 1
fi
if [[ "$body" != \[* ]]; then
  echo "FAIL: expected a JSON array"
  exit 1
fi
echo "PASS"
