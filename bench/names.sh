#!/usr/bin/env bash
# Issue 4 figures, on SQLite and on PostgreSQL, in one run on this machine:
#  - `import-names` of the public file (19,418 rows), timed (migrations applied beforehand);
#  - `import-names` of a generated 1,000,000-row file (bench/names_csv.py), in rows per second;
#  - on those 1,000,000 rows, the cost of a request measured by wrk on one connection (mean latency):
#    a Relay page and a babyNamesFromIndex page 900,000 rows deep against their first pages, and the first page of
#    babyNamesPage (with totalCount and totalPages) against the Relay first page.
# Needs wrk and python3; PostgreSQL at $PG_URL (a scratch database is created and dropped).
# Usage: bench/names.sh [seconds per wrk run]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/alx-backend/target}"
duration="${1:-5}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
real_file="../shared/data/Popular_Baby_Names.csv"
cargo build --release --quiet --bin alx-backend
bin="$CARGO_TARGET_DIR/release/alx-backend"
work=$(mktemp -d)
pg_base="${PG_URL%/*}"
pg_db="bench_names_$$"
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

python3 bench/names_csv.py 1000000 > "$work/names-1m.csv"

now_ns() { date +%s%N; }
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }

# import URL FILE [--replace] -> milliseconds for the command, migrations already applied
import_ms() {
  local url=$1 file=$2
  shift 2
  local start
  start=$(now_ns)
  (cd "$work" && DATABASE_URL="$url" ALX_LOG=warn "$bin" import-names "$file" "$@" >/dev/null 2>&1)
  ms_since "$start"
}

lua() { # name body -> lua script path; the body goes to $work/name.json as is
  printf '%s' "$2" > "$work/$1.json"
  cat > "$work/$1.lua" <<LUA
wrk.method = "POST"
wrk.body = io.open("$work/$1.json"):read("*a")
wrk.headers["Content-Type"] = "application/json"
LUA
  echo "$work/$1.lua"
}

latency_ms() { # lua -> mean latency in ms over one connection
  wrk -t1 -c1 -d"${duration}s" --latency -s "$1" http://127.0.0.1:18090/graphql |
    awk '/Requests\/sec/ { printf "%.3f", 1000 / $2 }'
}

row='index yearOfBirth gender ethnicity firstName count rank'
# The cursor the server hands out for the row at index 899,999 in the default order (see CursorKey in connection.rs).
deep_cursor=$(printf 'babyNames.index.asc|899999' | base64 | tr '+/' '-_' | tr -d '=')
relay_first=$(lua relay_first "{\"query\":\"{ babyNames(first: 10) { edges { cursor node { $row } } pageInfo { hasNextPage endCursor } } }\"}")
relay_deep=$(lua relay_deep "{\"query\":\"{ babyNames(first: 10, after: \\\"$deep_cursor\\\") { edges { cursor node { $row } } pageInfo { hasNextPage endCursor } } }\"}")
index_first=$(lua index_first "{\"query\":\"{ babyNamesFromIndex(index: 0, pageSize: 10) { nextIndex data { $row } } }\"}")
index_deep=$(lua index_deep "{\"query\":\"{ babyNamesFromIndex(index: 900000, pageSize: 10) { nextIndex data { $row } } }\"}")
page_first=$(lua page_first "{\"query\":\"{ babyNamesPage(page: 1, pageSize: 10) { totalCount totalPages nextPage data { $row } } }\"}")
page_filtered=$(lua page_filtered "{\"query\":\"{ babyNamesPage(page: 1, pageSize: 10, filter: { gender: FEMALE, firstNamePrefix: \\\"e\\\" }) { totalCount totalPages nextPage data { $row } } }\"}")

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

run_engine() { # name url
  local name=$1 url=$2
  (cd "$work" && DATABASE_URL="$url" ALX_LOG=warn "$bin" migrate up >/dev/null)
  local real_ms
  real_ms=$(import_ms "$url" "$(realpath "$real_file")")
  local million_ms
  million_ms=$(import_ms "$url" "$work/names-1m.csv" --replace)
  local rows_per_s=$(( 1000000 * 1000 / million_ms ))

  (cd "$work" && DATABASE_URL="$url" ALX_LISTEN=127.0.0.1:18090 ALX_LOG=warn exec "$bin" serve) &
  local server=$!
  until curl -fsS http://127.0.0.1:18090/readyz >/dev/null 2>&1; do sleep 0.05; done
  local check
  check=$(curl -fsS -X POST -H 'content-type: application/json' --data-binary "@$work/relay_deep.json" http://127.0.0.1:18090/graphql)
  case "$check" in *'"index":900000'*) ;; *) echo "the deep Relay page does not start at index 900000: $check" >&2; exit 1 ;; esac
  latency_ms "$relay_first" >/dev/null # warm-up
  local rf rd xf xd pf pt
  rf=$(latency_ms "$relay_first")
  rd=$(latency_ms "$relay_deep")
  xf=$(latency_ms "$index_first")
  xd=$(latency_ms "$index_deep")
  pf=$(latency_ms "$page_first")
  pt=$(latency_ms "$page_filtered")
  kill "$server"
  wait "$server" 2>/dev/null || true

  echo "== $name"
  echo "import of the public file (19,418 rows):  ${real_ms} ms"
  echo "import of 1,000,000 generated rows:       ${million_ms} ms = ${rows_per_s} rows/s"
  echo "Relay first page:                          ${rf} ms"
  echo "Relay page 900,000 rows deep:              ${rd} ms  ($(ratio "$rd" "$rf")x the first page)"
  echo "babyNamesFromIndex first page:             ${xf} ms"
  echo "babyNamesFromIndex 900,000 rows deep:      ${xd} ms  ($(ratio "$xd" "$xf")x the first page)"
  echo "babyNamesPage first page with totalCount:  ${pf} ms  ($(ratio "$pf" "$rf")x the Relay first page)"
  echo "  same, filtered (FEMALE, prefix \"e\"):     ${pt} ms  ($(ratio "$pt" "$rf")x the Relay first page)"
}

echo "wrk: 1 connection, ${duration} s per figure; latencies are means; pages of 10 rows with 7 fields"
run_engine "SQLite" "sqlite://$work/names.db"
if psql "$PG_URL" -qc "CREATE DATABASE $pg_db" >/dev/null 2>&1; then
  run_engine "PostgreSQL" "$pg_base/$pg_db"
else
  echo "== PostgreSQL does not answer at $PG_URL: skipped"
fi
