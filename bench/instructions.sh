#!/usr/bin/env bash
# User-space instructions per request under callgrind, for the benched requests: `{ __typename }`, `welcome`,
# the nested catalog query and a response-cache hit, on PostgreSQL or SQLite. Unlike requests per second on this shared 2-core machine, the count
# does not move from run to run, so it is what judges a change to the request path. Needs valgrind and wrk.
# Usage: [ENGINE=sqlite] bench/instructions.sh [binary]   (default: the release build on PostgreSQL; give another
# binary to compare two builds)
# CALLGRIND_KEEP=dir keeps each request's profile there, for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/alx-backend/target}"
if [ -z "${1:-}" ]; then
  cargo build --release --quiet --bin alx-backend --example catalog_seed
fi
bin="${1:-$CARGO_TARGET_DIR/release/alx-backend}"
work=$(mktemp -d)
port=18190
pg_admin="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
database="bench_instructions_$$"
created=""
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  [ -n "$created" ] && { psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1 || true; }
  rm -rf "$work"
}
trap cleanup EXIT
export ALX_JWT_SECRET="bench-secret-bench-secret-bench-secret-42" ALX_LOG=warn

case "${ENGINE:-postgres}" in
  sqlite) database_url="sqlite://$work/catalog.db" ;;
  postgres)
    psql "$pg_admin" -qc "CREATE DATABASE $database"
    created=1
    database_url="${pg_admin%/*}/$database"
    ;;
  *) echo "ENGINE must be postgres or sqlite, not ${ENGINE}" >&2; exit 2 ;;
esac
DATABASE_URL="$database_url" "$CARGO_TARGET_DIR/release/examples/catalog_seed" | tail -n 1
(cd "$work" && DATABASE_URL="$database_url" ALX_LISTEN="127.0.0.1:$port" ALX_REQUEST_TIMEOUT_SECS=600 ALX_EXECUTION_TIMEOUT_MS=600000 \
  exec valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" "$bin" serve) 2>"$work/valgrind.log" &
server=$!
url="http://127.0.0.1:$port/graphql"
until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do sleep 0.2; done

token=$(curl -fsS -X POST -H 'content-type: application/json' "$url" \
  -d '{"query":"mutation { login(email: \"bench-admin@example.com\", password: \"bench-password\") { accessToken } }"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])')

source bench/wrk.sh
count() { # name body [authorization]
  wrk_script "$work/$1.lua" "$2" "${3:-}"
  # Every measured request must be a success: a fast error would flatter the figure.
  curl -fsS -X POST -H 'content-type: application/json' ${3:+-H "authorization: Bearer $3"} -d "$2" "$url" |
    python3 -c 'import json, sys; body = json.load(sys.stdin); assert "errors" not in body and body.get("data"), body'
  wrk -t1 -c2 -d3s -s "$work/$1.lua" "$url" >/dev/null
  callgrind_control -z "$server" >/dev/null
  local requests
  requests=$(wrk -t1 -c2 -d8s -s "$work/$1.lua" "$url" | awk '/requests in/ { print $1 }')
  rm -f "$work"/callgrind.out.*
  callgrind_control -d "$server" >/dev/null
  local instructions
  instructions=$(awk '/^summary:/ { print $2 }' "$work"/callgrind.out.*)
  [ -n "${CALLGRIND_KEEP:-}" ] && cp "$work"/callgrind.out.* "$CALLGRIND_KEEP/$1.callgrind"
  printf '%-10s %10d instructions/request  (%s requests)\n' "$1" $((instructions / requests)) "$requests"
}

count typename '{"query":"{ __typename }"}'
count welcome '{"query":"{ welcome(locale: \"fr\", timezone: \"Europe/Paris\") { title greeting loggedInAs currentTime { formatted } } }"}'
count catalog '{"query":"{ products(first: 50) { nodes { name reservations(first: 10) { nodes { quantity user { name email } } } } } }"}' "$token"
# The response cache's hit (issue 13). At two connections nearly every hit waits for its own epoch read (strict mode);
# ALX_RESPONSE_CACHE_MODE=fast in the environment counts the hit path alone.
count cached '{"query":"{ products(first: 50) { nodes { name price currentStock } } }"}'
