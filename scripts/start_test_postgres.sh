#!/usr/bin/env bash
# Install (Debian's package) and start a throw-away PostgreSQL cluster on 127.0.0.1 for tests,
# then print `export AMED_TEST_POSTGRES_URL=...` for the caller to eval.
# Needs root (apt-get, and running the server as the `postgres` user).
set -euo pipefail
PORT="${AMED_TEST_POSTGRES_PORT:-55432}"
BASE="${AMED_TEST_POSTGRES_DIR:-/tmp/amed_test_postgres}"

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
fi
BIN="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")"
as_postgres() { runuser -u postgres -- "$@"; }

if ! as_postgres "$BIN/pg_ctl" -D "$BASE/data" status >/dev/null 2>&1; then
  rm -rf "$BASE"
  mkdir -p "$BASE"
  chown postgres:postgres "$BASE"
  as_postgres "$BIN/initdb" -D "$BASE/data" -U postgres --auth=trust -E UTF8 >&2
  as_postgres "$BIN/pg_ctl" -D "$BASE/data" -l "$BASE/server.log" -w \
    -o "-p $PORT -k $BASE -c listen_addresses=127.0.0.1" start >&2
fi
as_postgres "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname='amed_test'" | grep -q 1 \
  || as_postgres "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres amed_test
echo "export AMED_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:${PORT}/amed_test"
