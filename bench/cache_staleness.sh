#!/usr/bin/env bash
# Issue 13: staleness of the response cache across two servers on one PostgreSQL, in `fast` mode (notifications
# alone) and, as the control, in `strict` mode (bench/cache_staleness.rs says how it is measured).
# Usage: bench/cache_staleness.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/alx-backend/target}"
rounds="${1:-1000}"
cargo build --release --quiet --bin alx-backend --example catalog_seed --example cache_staleness
bin="$CARGO_TARGET_DIR/release/alx-backend"
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
export ALX_JWT_SECRET="bench-secret-bench-secret-bench-secret-42" ALX_LOG=warn ALX_LOGIN_ATTEMPTS_PER_MINUTE=1000
wait_ready() { until curl -fsS -o /dev/null "$1/readyz" 2>/dev/null; do sleep 0.05; done; }

pg_admin="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
database="bench_staleness_$$"
psql "$pg_admin" -qc "CREATE DATABASE $database"
url="${pg_admin%/*}/$database"
DATABASE_URL="$url" "$CARGO_TARGET_DIR/release/examples/catalog_seed" | tail -n 1
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in fast strict; do
  echo "== $mode"
  (cd "$work" && DATABASE_URL="$url" ALX_LISTEN=127.0.0.1:18095 ALX_RESPONSE_CACHE_MODE=$mode exec "$bin" serve) &
  writer=$!
  (cd "$work" && DATABASE_URL="$url" ALX_LISTEN=127.0.0.1:18096 ALX_RESPONSE_CACHE_MODE=$mode exec "$bin" serve) &
  reader=$!
  pids+=("$writer" "$reader")
  wait_ready http://127.0.0.1:18095
  wait_ready http://127.0.0.1:18096
  "$CARGO_TARGET_DIR/release/examples/cache_staleness" http://127.0.0.1:18095/graphql http://127.0.0.1:18096/graphql "$rounds"
  kill "$writer" "$reader"
  wait "$writer" "$reader" 2>/dev/null || true
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
psql "$pg_admin" -qc "DROP DATABASE $database"
