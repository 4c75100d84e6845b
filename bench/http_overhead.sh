#!/usr/bin/env bash
# Issue 2 and 3 figures, side by side in one run on this machine:
#  - `{ __typename }` over POST through every middleware vs a bare axum handler (bench/bare_axum.rs) that parses
#    the same JSON and writes the same answer;
#  - `welcome` (translation + ICU4X formatting) vs `{ __typename }`;
#  - idle memory (RSS) and time from exec to a ready server on SQLite.
# Needs wrk (apt-get install wrk). Usage: bench/http_overhead.sh [seconds per run] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/alx-backend/target}"
duration="${1:-10}"
connections="${2:-64}"
cargo build --release --quiet --bin alx-backend --example bare_axum --example bare_async_graphql
bin="$CARGO_TARGET_DIR/release/alx-backend"
bare="$CARGO_TARGET_DIR/release/examples/bare_axum"
library="$CARGO_TARGET_DIR/release/examples/bare_async_graphql"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

now_ms() { date +%s%3N; }
wait_ready() { until curl -fsS "$1" >/dev/null 2>&1; do sleep 0.005; done; }

body_typename='{"query":"{ __typename }"}'
body_welcome='{"query":"{ welcome(locale: \"fr\", timezone: \"Europe/Paris\") { title greeting loggedInAs currentTime { formatted } } }"}'
source bench/wrk.sh
lua() { # name body -> a wrk script
  wrk_script "$work/$1.lua" "$2"
  echo "$work/$1.lua"
}

# Every measured request must be a success: a fast error would flatter the figure.
expect_data() { # url body
  curl -fsS -X POST -H 'content-type: application/json' -d "$2" "$1" | python3 -c \
    'import json, sys; body = json.load(sys.stdin); assert "errors" not in body and body.get("data"), body'
}

rps() { # url luafile -> requests/s
  wrk -t2 -c"$connections" -d"${duration}s" -s "$2" "$1" | awk '/Requests\/sec/ { print $2 }'
}

start=$(now_ms)
(cd "$work" && ALX_LISTEN=127.0.0.1:18080 ALX_LOG=warn exec "$bin" serve) &
wait_ready http://127.0.0.1:18080/readyz
ready_ms=$(( $(now_ms) - start ))
server_pid=$(pgrep -f "$bin serve" | head -n 1)
idle_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$server_pid/status")

"$bare" 127.0.0.1:18081 &
"$library" 127.0.0.1:18082 &
for port in 18081 18082; do
  until curl -fsS -X POST -H 'content-type: application/json' -d "$body_typename" "http://127.0.0.1:$port/graphql" >/dev/null 2>&1; do sleep 0.005; done
done

expect_data http://127.0.0.1:18080/graphql "$body_typename"
expect_data http://127.0.0.1:18080/graphql "$body_welcome"
typename_lua=$(lua typename "$body_typename")
welcome_lua=$(lua welcome "$body_welcome")
rps http://127.0.0.1:18080/graphql "$typename_lua" >/dev/null # warm-up
# Interleaved twice, so a passing disturbance touches every contender; each figure is the better of its two runs.
best() { python3 -c "import sys; print(max(float(x) for x in sys.argv[1:]))" "$@"; }
bare_runs=() library_runs=() app_runs=() welcome_runs=()
for _ in 1 2; do
  bare_runs+=("$(rps http://127.0.0.1:18081/graphql "$typename_lua")")
  library_runs+=("$(rps http://127.0.0.1:18082/graphql "$typename_lua")")
  app_runs+=("$(rps http://127.0.0.1:18080/graphql "$typename_lua")")
  welcome_runs+=("$(rps http://127.0.0.1:18080/graphql "$welcome_lua")")
done
bare_rps=$(best "${bare_runs[@]}")
library_rps=$(best "${library_runs[@]}")
app_rps=$(best "${app_runs[@]}")
welcome_rps=$(best "${welcome_runs[@]}")
loaded_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$server_pid/status")

echo "ready (exec to /readyz 200, SQLite, fresh database): ${ready_ms} ms"
echo "idle RSS: $((idle_kb / 1024)) MiB; RSS after load: $((loaded_kb / 1024)) MiB"
echo "bare axum handler:          ${bare_rps} req/s"
echo "async-graphql alone:        ${library_rps} req/s  ($(python3 -c "print(f'{$library_rps / $bare_rps:.2f}')")x of bare)"
echo "alx-backend { __typename }: ${app_rps} req/s  ($(python3 -c "print(f'{$app_rps / $bare_rps:.2f}')")x of bare)"
echo "alx-backend welcome (fr):   ${welcome_rps} req/s  ($(python3 -c "print(f'{$welcome_rps / $app_rps:.2f}')")x of __typename)"
