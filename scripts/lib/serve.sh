# Sourced by scripts that check Lanyard against an outside client: starts `lanyard serve` on a
# free loopback port and reads its address from the "listening" log line.
#
#   start_lanyard <bin> <dir> <database-url> [serve flags...]
#
# sets `operator_key` (made with the CLI first), `server_pid` and `base`; the caller kills
# `server_pid` when done.

start_lanyard() {
  local bin=$1 dir=$2 url=$3
  shift 3
  mkdir -p "$dir"
  operator_key=$("$bin" --data-dir "$dir" --database-url "$url" --json operator-key create 2>"$dir/cli.log" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
  "$bin" --data-dir "$dir" --database-url "$url" --log-format json \
    serve --listen 127.0.0.1:0 "$@" 2>"$dir/server.log" &
  server_pid=$!
  local address=""
  for _ in $(seq 1 100); do
    address=$(python3 - "$dir/server.log" <<'PY' || true
import json, sys
for line in open(sys.argv[1]):
    try:
        entry = json.loads(line)
    except ValueError:
        continue
    if entry.get("message") == "listening":
        print(entry["address"])
PY
)
    [ -n "$address" ] && break
    sleep 0.1
  done
  if [ -z "$address" ]; then
    echo "the server did not start:" >&2
    cat "$dir/server.log" >&2
    return 1
  fi
  base="http://$address"
}
