# Shared by the reliability scripts: build or find `snodo`, prepare a demo data dir, start and
# stop servers on loopback. Source it; it defines functions only.

# SNODO_BIN, or the debug build (built if missing).
snodo_bin() {
  if [ -n "${SNODO_BIN:-}" ]; then echo "$SNODO_BIN"; return; fi
  local root; root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [ ! -x "$root/target/debug/snodo" ] || [ "${SNODO_REBUILD:-1}" = 1 ]; then
    (cd "$root" && cargo build -q --locked -p snodo-cli) >&2
  fi
  echo "$root/target/debug/snodo"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_listening LOGFILE PID: until the process prints "listening on http://…"; echoes the URL.
wait_listening() {
  local log=$1 pid=$2 i
  for i in $(seq 1 600); do
    if grep -q '^listening on ' "$log" 2>/dev/null; then
      grep -m1 '^listening on ' "$log" | sed 's/^listening on //'
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "the server exited before listening:" >&2; cat "$log" >&2; return 1; }
    sleep 0.2
  done
  echo "the server did not start in 120 s" >&2
  return 1
}

# stop PID: SIGTERM, then SIGKILL after 30 s.
stop() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

# demo_data DIR: harvest the demo's sample platforms into DIR once (snodo demo, then stop it).
demo_data() {
  local dir=$1 bin port log pid
  bin=$(snodo_bin); port=$(free_port); log="$dir.demo.log"
  "$bin" demo --listen "127.0.0.1:$port" --data-dir "$dir" >"$log" 2>&1 &
  pid=$!
  wait_listening "$log" "$pid" >/dev/null
  stop "$pid"
  wait "$pid" 2>/dev/null || true
}

# serve_config DATA_DIR SERVER_KEYS: a config file (printed path) serving DATA_DIR.
serve_config() {
  local dir=$1 keys=$2 cfg="$1.toml"
  printf '[storage]\ndata_dir = "%s"\n\n[server]\n%b\n\n[log]\nlevel = "warn"\n' "$dir" "$keys" >"$cfg"
  echo "$cfg"
}
