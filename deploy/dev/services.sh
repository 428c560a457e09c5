#!/usr/bin/env bash
# Makes Postgres (15 or later) and Redis (7) available for Kiln and its tests.
#
#   - Services already reachable on 127.0.0.1 are used as they are.
#   - Installed but stopped services are started.
#   - On Debian/Ubuntu without them, they are installed from the OS packages
#     (postgresql, redis-server) and started. No Docker is needed.
#   - The role kiln (password kiln) and the databases kiln and kiln_test are
#     created if missing.
#
# Safe to run any number of times. Needs root (or sudo) only to install or
# start services. Override the address with PGHOST/PGPORT, REDIS_HOST/REDIS_PORT.
set -euo pipefail

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $*"; fi
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "$1 is not running and this is not a Debian/Ubuntu machine; install $1 yourself"
  log "installing $* from the OS packages"
  if [ -z "${APT_UPDATED:-}" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for() { # name host port
  for _ in $(seq 1 60); do port_open "$2" "$3" && return 0; sleep 0.5; done
  die "$1 did not start listening on $2:$3 within 30 s"
}

# --- Postgres -----------------------------------------------------------------

pg_ready() { port_open "$PGHOST" "$PGPORT"; }

start_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt_install postgresql postgresql-contrib
  fi
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$version" ] || die "postgresql is installed but has no cluster in /etc/postgresql"
  [ "${version%%.*}" -ge 15 ] || die "Postgres $version is too old; Kiln needs 15 or later"
  log "starting Postgres $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for Postgres "$PGHOST" "$PGPORT"
}

# psql_admin runs psql as a superuser: over TCP as postgres where the server
# trusts it, else as the postgres OS user over the local socket.
psql_admin() {
  if psql -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
    psql -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
  else
    as_root runuser -u postgres -- psql -p "$PGPORT" -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
  fi
}

setup_postgres_databases() {
  command -v psql >/dev/null 2>&1 || apt_install postgresql-client
  local major
  major=$(psql_admin -c 'show server_version_num')
  [ "$((major / 10000))" -ge 15 ] || die "Postgres on $PGHOST:$PGPORT is $major; Kiln needs 15 or later"
  psql_admin -c "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kiln') THEN
        CREATE ROLE kiln LOGIN SUPERUSER PASSWORD 'kiln';
      END IF;
    END \$\$;"
  for db in kiln kiln_test; do
    if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
      log "creating database $db"
      psql_admin -c "CREATE DATABASE $db OWNER kiln"
    fi
  done
}

# --- Redis --------------------------------------------------------------------

redis_ready() { port_open "$REDIS_HOST" "$REDIS_PORT"; }

start_redis() {
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  log "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" \
    --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/kiln-dev.log
  wait_for Redis "$REDIS_HOST" "$REDIS_PORT"
}

check_redis_version() {
  command -v redis-cli >/dev/null 2>&1 || return 0
  local v
  v=$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" info server | tr -d '\r' | sed -n 's/^redis_version://p')
  [ "${v%%.*}" -ge 7 ] 2>/dev/null || die "Redis on $REDIS_HOST:$REDIS_PORT is ${v:-unknown}; Kiln needs 7 or later"
}

pg_ready || start_postgres
setup_postgres_databases
redis_ready || start_redis
check_redis_version
log "ready: postgres://kiln:kiln@$PGHOST:$PGPORT/kiln and redis://$REDIS_HOST:$REDIS_PORT/0"
