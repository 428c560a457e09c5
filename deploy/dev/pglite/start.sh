#!/usr/bin/env bash
# Makes a Postgres with pgvector available for Kiln's vector store where the
# machine's Postgres has none: PGlite (Postgres 18 + pgvector 0.8, compiled
# to WASM) served over TCP by server.mjs beside this script.
#
#   start.sh        start the server if its port does not answer, wait until
#                   it does, and print the VECTOR_DATABASE_URL to use
#   start.sh url    print the URL only
#   start.sh stop   stop the server this script started
#
# Safe to run any number of times, also by several processes at once. Only
# the URL goes to standard output, so `VECTOR_DATABASE_URL=$(start.sh)` works.
# Settings (environment):
#   PGLITE_HOST      address to listen on           (default 127.0.0.1)
#   PGLITE_PORT      port                           (default 5433)
#   PGLITE_DATA_DIR  data directory, or memory://   (default <repo>/.kiln/pglite)
#   PGLITE_LOG       server log                     (default <repo>/.kiln/pglite.log)
# Needs Node.js 20 or later and npm; the packages are installed with `npm ci`
# from the committed package-lock.json on first use.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
state="$repo/.kiln"

HOST=${PGLITE_HOST:-127.0.0.1}
PORT=${PGLITE_PORT:-5433}
DATA_DIR=${PGLITE_DATA_DIR:-$state/pglite}
LOG=${PGLITE_LOG:-$state/pglite.log}
PIDFILE="$state/pglite-$PORT.pid"
URL="postgres://postgres@$HOST:$PORT/postgres?sslmode=disable&default_query_exec_mode=exec&pool_max_conns=1"

log() { printf 'pglite: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

check_node() {
  command -v node >/dev/null 2>&1 || die "node is not installed; install Node.js 20 or later (Debian: apt-get install nodejs npm)"
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || die "node $(node --version) is too old; PGlite needs Node.js 20 or later"
  command -v npm >/dev/null 2>&1 || die "npm is not installed (Debian: apt-get install npm)"
}

install_modules() {
  [ -d "$here/node_modules/@electric-sql/pglite-pgvector" ] && return 0
  log "installing PGlite with npm ci"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed in $here"
}

start_server() {
  mkdir -p "$state" "$(dirname "$LOG")"
  [ "$DATA_DIR" = "memory://" ] || mkdir -p "$DATA_DIR"
  log "starting PGlite on $HOST:$PORT (data $DATA_DIR, log $LOG)"
  # setsid and redirected streams: the server outlives this script and holds
  # none of its caller's pipes open (a `go test` waiting on them would hang).
  setsid node "$here/server.mjs" --host "$HOST" --port "$PORT" --data-dir "$DATA_DIR" \
    </dev/null >>"$LOG" 2>&1 &
  echo $! >"$PIDFILE"
}

wait_ready() {
  local pid
  pid=$(cat "$PIDFILE")
  for _ in $(seq 1 240); do
    port_open && return 0
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$LOG" >&2; die "the PGlite server exited; its log is above ($LOG)"; }
    sleep 0.5
  done
  die "PGlite did not answer on $HOST:$PORT within 120 s; see $LOG"
}

stop_server() {
  if [ ! -f "$PIDFILE" ]; then log "no server started by this script on port $PORT"; return 0; fi
  local pid
  pid=$(cat "$PIDFILE")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then
      log "PGlite (pid $pid) did not stop within 10 s; killing it"
      kill -9 "$pid" 2>/dev/null || true
    fi
    log "stopped PGlite (pid $pid)"
  fi
  rm -f "$PIDFILE"
}

case "${1:-start}" in
  url) echo "$URL" ;;
  stop) stop_server ;;
  start)
    if ! port_open; then
      mkdir -p "$state"
      exec 9>"$state/pglite-$PORT.lock"
      flock 9 # one starter at a time; the others find the port answering
      if ! port_open; then
        check_node
        install_modules
        start_server
        wait_ready
      fi
    fi
    echo "$URL"
    ;;
  *) die "usage: $0 [start|url|stop]" ;;
esac
