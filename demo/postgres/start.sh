#!/bin/sh
# PostgreSQL for the demo's postgres-db service, on either image the compose
# file allows: the official postgres image (its own entrypoint does it all),
# or the offline Debian image (package postgresql), set up here the way the
# official image reads POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB.
set -eu
if command -v docker-entrypoint.sh >/dev/null 2>&1; then
  exec docker-entrypoint.sh postgres
fi

bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
data=${PGDATA:-/var/lib/postgresql/data}
user=${POSTGRES_USER:-postgres}
mkdir -p "$data" /var/run/postgresql
chown postgres:postgres "$data" /var/run/postgresql
chmod 700 "$data"

if [ ! -s "$data/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-postgres}" > "$pwfile"
  chown postgres "$pwfile"
  runuser -u postgres -- "$bin/initdb" -D "$data" -U "$user" --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  # As the official image: password logins from anywhere on the network.
  echo "host all all all scram-sha-256" >> "$data/pg_hba.conf"
  db=${POSTGRES_DB:-$user}
  if [ "$db" != "postgres" ]; then
    echo "CREATE DATABASE \"$db\";" |
      runuser -u postgres -- "$bin/postgres" --single -D "$data" postgres >/dev/null
  fi
fi

exec runuser -u postgres -- "$bin/postgres" -D "$data" \
  -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql
