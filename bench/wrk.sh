# Shared by the bench scripts: source it.

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
