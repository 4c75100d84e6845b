#!/usr/bin/env bash
# Issue 13: the public catalog listing served from the response cache, against the bare axum handler
# (bench/bare_axum.rs) and against the same server with the cache off, side by side in one run, on PostgreSQL and
# SQLite, in the default (strict) mode: on PostgreSQL every hit waits for a read of the write epoch shared by the
# requests that arrived before it was sent; on SQLite only while the wal-index shows a commit since the last read.
# All get the same POST body; the cached server and the uncached one share one database, seeded with
# bench/catalog_seed.rs (2,000 products). Needs wrk.
# Usage: [ACCEPT_ENCODING=gzip] bench/response_cache.sh [seconds per run] [connections] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/alx-backend/target}"
duration="${1:-10}"
connections="${2:-64}"
rounds="${3:-1}"
cargo build --release --quiet --bin alx-backend --example catalog_seed --example bare_axum
bin="$CARGO_TARGET_DIR/release/alx-backend"
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
export ALX_JWT_SECRET="bench-secret-bench-secret-bench-secret-42" ALX_LOG=warn

source bench/wrk.sh
query='{ products(first: 50) { nodes { name price currentStock } } }'
body="{\"query\":\"$query\"}"
wrk_script "$work/products.lua" "$body"
# ACCEPT_ENCODING=gzip measures what browsers and Apollo Client get (they always send it); bare axum ignores it.
if [ -n "${ACCEPT_ENCODING:-}" ]; then
  echo "wrk.headers[\"Accept-Encoding\"] = \"$ACCEPT_ENCODING\"" >> "$work/products.lua"
fi

# Every measured request must be a success with the whole listing: a fast error would flatter the figure.
expect_listing() { # url expected-x-cache
  local headers="$work/headers"
  curl -fsS -D "$headers" -X POST -H 'content-type: application/json' -d "$body" "$1" | python3 -c \
    'import json, sys; body = json.load(sys.stdin); assert "errors" not in body and len(body["data"]["products"]["nodes"]) == 50, body'
  if [ -n "$2" ]; then
    grep -qi "^x-cache: $2" "$headers" || { echo "expected x-cache: $2 from $1" >&2; cat "$headers" >&2; exit 1; }
  fi
}

# The response cache's hits so far, from the server's /metrics.
cache_hits() { curl -fsS "$1/metrics" | awk '/^cache_hits_total\{cache="responses"\}/ { print $2 }'; }
# The SQL statements the server has run so far: in strict mode, what the barrier cost the hits.
statements() { curl -fsS "$1/metrics" | awk '/^db_statements_total / { print $2 }'; }

measure() { # name url pid [metrics base url: report the share of requests that were cache hits]
  local before after requests rps p50 p99 hits_before statements_before
  [ -n "${4:-}" ] && hits_before=$(cache_hits "$4") && statements_before=$(statements "$4")
  before=$(cpu_ticks "$3")
  wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$work/products.lua" "$2" > "$work/$1.txt"
  after=$(cpu_ticks "$3")
  if grep -q "Non-2xx" "$work/$1.txt"; then
    echo "$1 answered errors:" >&2
    cat "$work/$1.txt" >&2
    exit 1
  fi
  requests=$(awk '/requests in/ { print $1 }' "$work/$1.txt")
  rps=$(awk '/Requests\/sec/ { print $2 }' "$work/$1.txt")
  p50=$(awk '$1 == "50%" { print $2 }' "$work/$1.txt")
  p99=$(awk '$1 == "99%" { print $2 }' "$work/$1.txt")
  printf '  %-20s %9s req/s  p50 %8s  p99 %8s  CPU/request %s µs' "$1" "$rps" "$p50" "$p99" \
    "$(python3 -c "print(f'{($after - $before) * 1e6 / $(getconf CLK_TCK) / $requests:.0f}')")"
  if [ -n "${4:-}" ]; then
    # The figure counts only if the cache served it: every request but the few that refreshed an expired answer.
    local hits
    hits=$(( $(cache_hits "$4") - hits_before ))
    printf '  hits %s %%  statements/hit %s' "$(python3 -c "print(f'{$hits * 100 / $requests:.2f}')")" \
      "$(python3 -c "print(f'{($(statements "$4") - $statements_before) / $hits:.3f}')")"
    python3 -c "import sys; sys.exit(0 if $hits >= 0.99 * $requests else 1)" || { echo; echo "$1: too few hits" >&2; exit 1; }
  fi
  echo
  echo "$rps" > "$work/$1.rps"
  echo "$rps" >> "$work/$1.all"
}

ratio() { python3 -c "print(f'{$(cat "$work/$1.rps") / $(cat "$work/$2.rps"):.2f}')"; }

run_engine() { # engine database_url
  echo "== $1 (${ALX_RESPONSE_CACHE_MODE:-strict})"
  DATABASE_URL="$2" "$CARGO_TARGET_DIR/release/examples/catalog_seed" | tail -n 1
  (cd "$work" && DATABASE_URL="$2" ALX_LISTEN=127.0.0.1:18090 exec "$bin" serve) &
  local cached=$!
  (cd "$work" && DATABASE_URL="$2" ALX_LISTEN=127.0.0.1:18091 ALX_RESPONSE_CACHE_MODE=off exec "$bin" serve) &
  local uncached=$!
  "$CARGO_TARGET_DIR/release/examples/bare_axum" 127.0.0.1:18081 &
  local bare=$!
  pids+=("$cached" "$uncached" "$bare")
  wait_graphql_ready http://127.0.0.1:18090/graphql
  wait_graphql_ready http://127.0.0.1:18091/graphql
  wait_graphql_ready http://127.0.0.1:18081/graphql
  expect_listing http://127.0.0.1:18090/graphql MISS
  expect_listing http://127.0.0.1:18090/graphql HIT
  expect_listing http://127.0.0.1:18091/graphql ""
  # Not the issue's measure, a second reference: bare axum writing the cached listing's own bytes, so that the
  # comparison leaves out what the answer's size costs the kernel and wrk.
  curl -fsS -X POST -H 'content-type: application/json' -d "$body" -o "$work/listing.json" http://127.0.0.1:18090/graphql
  "$CARGO_TARGET_DIR/release/examples/bare_axum" 127.0.0.1:18082 "$work/listing.json" &
  local bare_same=$!
  pids+=("$bare_same")
  wait_graphql_ready http://127.0.0.1:18082/graphql
  expect_listing http://127.0.0.1:18082/graphql ""
  for port in 18081 18082 18090 18091; do # warm-up
    wrk -t2 -c"$connections" -d2s -s "$work/products.lua" "http://127.0.0.1:$port/graphql" > /dev/null
  done
  for round in $(seq "$rounds"); do
    [ "$rounds" -gt 1 ] && echo " round $round"
    measure "$1-bare-axum" http://127.0.0.1:18081/graphql "$bare"
    measure "$1-cached" http://127.0.0.1:18090/graphql "$cached" http://127.0.0.1:18090
    measure "$1-uncached" http://127.0.0.1:18091/graphql "$uncached"
    measure "$1-bare-same-body" http://127.0.0.1:18082/graphql "$bare_same"
    echo "  cached / bare axum: $(ratio "$1-cached" "$1-bare-axum")   cached / uncached: $(ratio "$1-cached" "$1-uncached")" \
      "  (cached / bare axum writing the same body: $(ratio "$1-cached" "$1-bare-same-body"))"
  done
  if [ "$rounds" -gt 1 ]; then
    # Rounds minutes apart see the machine at different speeds (bare axum moves by a fifth between them here);
    # each ratio is taken within its round, and the verdict is on their mean and on the worst of them.
    python3 - "$work/$1-cached.all" "$work/$1-bare-axum.all" "$work/$1-uncached.all" <<'PY'
import statistics, sys
cached, bare, uncached = ([float(line) for line in open(path)] for path in sys.argv[1:])
to_bare = [c / b for c, b in zip(cached, bare)]
to_uncached = [c / u for c, u in zip(cached, uncached)]
print(f"  over {len(to_bare)} rounds: cached / bare axum mean {statistics.mean(to_bare):.2f} (min {min(to_bare):.2f},"
      f" max {max(to_bare):.2f}); cached / uncached mean {statistics.mean(to_uncached):.1f} (min {min(to_uncached):.1f})")
PY
  fi
  kill "$cached" "$uncached" "$bare" "$bare_same"
  wait "$cached" "$uncached" "$bare" "$bare_same" 2>/dev/null || true
}

pg_admin="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
database="bench_response_cache_$$"
psql "$pg_admin" -qc "CREATE DATABASE $database"
run_engine postgres "${pg_admin%/*}/$database"
psql "$pg_admin" -qc "DROP DATABASE $database"
run_engine sqlite "sqlite://$work/catalog.db"
