# Shared by the bench scripts: source it.

# cpu_ticks PID: the process's user + system CPU so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# wait_graphql_ready URL: until a `{ __typename }` POST to URL succeeds (the server, or a bare handler, is up).
wait_graphql_ready() { until curl -fsS -o /dev/null -X POST -H 'content-type: application/json' -d '{"query":"{ __typename }"}' "$1" 2>/dev/null; do sleep 0.05; done; }

# wrk_script FILE BODY [TOKEN]: a wrk Lua script that POSTs BODY as JSON, with a bearer TOKEN when given.
# Lua reads backslashes as escapes, so BODY's are doubled.
wrk_script() {
  local escaped=${2//\\/\\\\}
  cat > "$1" <<LUA
wrk.method = "POST"
wrk.body = '$escaped'
wrk.headers["Content-Type"] = "application/json"
LUA
  if [ -n "${3:-}" ]; then
    echo "wrk.headers[\"Authorization\"] = \"Bearer $3\"" >> "$1"
  fi
}
