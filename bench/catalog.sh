#!/usr/bin/env bash
# Issue 5: the nested catalog query at 64 connections, GraphQL server vs a hand-written handler running the same
# three SQL statements (bench/catalog_handwritten.rs), side by side in one run, on PostgreSQL and SQLite.
# Data: 1,000 users, 2,000 products, 100,000 reservations (bench/catalog_seed.rs). Needs wrk.
# Usage: bench/catalog.sh [seconds per run] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/alx-backend/target}"
duration="${1:-15}"
connections="${2:-64}"
cargo build --release --quiet --bin alx-backend --example catalog_seed --example catalog_handwritten
bin="$CARGO_TARGET_DIR/release/alx-backend"
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
export ALX_JWT_SECRET="bench-secret-bench-secret-bench-secret-42" ALX_LOG=warn

source bench/wrk.sh
query='{ products(first: 50) { nodes { name reservations(first: 10) { nodes { quantity user { name email } } } } } }'

measure() { # name url pid lua
  local before after requests
  before=$(cpu_ticks "$3")
  wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$4" "$2" > "$work/$1.txt"
  after=$(cpu_ticks "$3")
  requests=$(awk '/requests in/ { print $1 }' "$work/$1.txt")
  local rps p50 p99 peak
  rps=$(awk '/Requests\/sec/ { print $2 }' "$work/$1.txt")
  p50=$(awk '$1 == "50%" { print $2 }' "$work/$1.txt")
  p99=$(awk '$1 == "99%" { print $2 }' "$work/$1.txt")
  peak=$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$3/status")
  printf '  %-22s %9s req/s  p50 %8s  p99 %8s  peak RSS %4s MiB  CPU/request %s ms\n' "$1" "$rps" "$p50" "$p99" "$peak" \
    "$(python3 -c "print(f'{($after - $before) * 1000 / $(getconf CLK_TCK) / $requests:.2f}')")"
  echo "$rps" > "$work/$1.rps"
}

run_engine() { # engine database_url
  echo "== $1"
  DATABASE_URL="$2" "$CARGO_TARGET_DIR/release/examples/catalog_seed" | tail -n 1
  (cd "$work" && DATABASE_URL="$2" ALX_LISTEN=127.0.0.1:18090 ALX_LOGIN_ATTEMPTS_PER_MINUTE=1000 exec "$bin" serve) &
  local server=$!
  pids+=("$server")
  DATABASE_URL="$2" "$CARGO_TARGET_DIR/release/examples/catalog_handwritten" 127.0.0.1:18093 &
  local handwritten=$!
  pids+=("$handwritten")
  wait_graphql_ready http://127.0.0.1:18090/graphql
  wait_graphql_ready http://127.0.0.1:18093/graphql
  local token
  token=$(curl -fsS -X POST -H 'content-type: application/json' http://127.0.0.1:18090/graphql \
    -d '{"query":"mutation { login(email: \"bench-admin@example.com\", password: \"bench-password\") { accessToken } }"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])')
  # Every measured request must be a success: a fast error would flatter the figure.
  curl -fsS -X POST -H 'content-type: application/json' -H "authorization: Bearer $token" \
    -d "{\"query\":\"$query\"}" http://127.0.0.1:18090/graphql | python3 -c \
    'import json, sys; body = json.load(sys.stdin); assert "errors" not in body and len(body["data"]["products"]["nodes"]) == 50, body'
  wrk_script "$work/nested.lua" "{\"query\":\"$query\"}" "$token"
  wrk -t2 -c"$connections" -d3s -s "$work/nested.lua" http://127.0.0.1:18090/graphql > /dev/null # warm-up
  measure "$1-handwritten" http://127.0.0.1:18093/graphql "$handwritten" "$work/nested.lua"
  measure "$1-graphql" http://127.0.0.1:18090/graphql "$server" "$work/nested.lua"
  echo "  ratio graphql / handwritten: $(python3 -c "print(f'{$(cat "$work/$1-graphql.rps") / $(cat "$work/$1-handwritten.rps"):.2f}')")"
  kill "$server" "$handwritten"
  wait "$server" "$handwritten" 2>/dev/null || true
}

pg_admin="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
database="bench_catalog_$$"
psql "$pg_admin" -qc "CREATE DATABASE $database"
run_engine postgres "${pg_admin%/*}/$database"
psql "$pg_admin" -qc "DROP DATABASE $database"
run_engine sqlite "sqlite://$work/catalog.db"
