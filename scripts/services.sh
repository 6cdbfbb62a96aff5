#!/usr/bin/env bash
# Start, stop or check the project's own PostgreSQL, Redis and built-in OCI registry, with data under var/.
# Usage: scripts/services.sh start|stop|status|install
#
# Uses Debian's postgresql, redis-server and docker-registry packages (installed by `install`).
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user.
# The registry is scripts/registry.sh's (HTTPS on 127.0.0.1:${PORTAL_REGISTRY_PORT:-55000}).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VAR="${PORTAL_VAR_DIR:-$ROOT/var}"
PG_PORT="${PORTAL_PG_PORT:-54329}"
REDIS_PORT="${PORTAL_REDIS_PORT:-63799}"
PG_DATA="$VAR/postgres"
PG_RUN="$VAR/run"
REDIS_DIR="$VAR/redis"

log() { printf '[services] %s\n' "$*" >&2; }

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
    log "PostgreSQL server binaries not found; run: scripts/services.sh install"
    exit 1
  fi
  echo "$dir"
}

as_pg() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install() {
  local need=()
  [ -n "$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null)" ] || need+=(postgresql)
  command -v redis-server >/dev/null || need+=(redis-server)
  [ -x /usr/bin/docker-registry ] || need+=(docker-registry)
  if [ ${#need[@]} -gt 0 ]; then
    local sudo=""; [ "$(id -u)" = "0" ] || sudo="sudo"
    log "installing ${need[*]} with apt-get"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
}

start_postgres() {
  local bin; bin=$(pg_bin)
  mkdir -p "$VAR" "$PG_RUN"
  if [ "$(id -u)" = "0" ]; then
    chown postgres:postgres "$PG_RUN"
    if ! runuser -u postgres -- test -x "$VAR"; then
      log "the postgres user cannot reach $VAR; set PORTAL_VAR_DIR to a directory it can reach"
      exit 1
    fi
  fi
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    log "initialising PostgreSQL in $PG_DATA"
    mkdir -p "$PG_DATA"
    [ "$(id -u)" = "0" ] && chown postgres:postgres "$PG_DATA"
    local pwfile; pwfile=$(mktemp); echo "portal" > "$pwfile"; chmod 644 "$pwfile"
    as_pg "$bin/initdb" -D "$PG_DATA" -U portal --pwfile="$pwfile" -A scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    {
      echo "listen_addresses = '127.0.0.1'"
      echo "port = $PG_PORT"
      echo "unix_socket_directories = '$PG_RUN'"
      echo "max_connections = 200"
      echo "fsync = off"            # a development/test server: speed over crash safety
      echo "synchronous_commit = off"
      echo "full_page_writes = off"
      echo "shared_buffers = 256MB"
    } | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
  fi
  if as_pg "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
  else
    as_pg "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 start >/dev/null
    log "PostgreSQL started on 127.0.0.1:$PG_PORT"
  fi
  if ! PGPASSWORD=portal psql -h 127.0.0.1 -p "$PG_PORT" -U portal -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='portal'" | grep -q 1; then
    PGPASSWORD=portal psql -h 127.0.0.1 -p "$PG_PORT" -U portal -d postgres -qc "CREATE DATABASE portal" >/dev/null
    log "created database portal"
  fi
}

start_redis() {
  mkdir -p "$REDIS_DIR"
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    log "Redis already running on 127.0.0.1:$REDIS_PORT"
    return
  fi
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" --daemonize yes \
    --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" --save "" --appendonly no >/dev/null
  for _ in $(seq 1 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$REDIS_PORT" ping >/dev/null
  log "Redis started on 127.0.0.1:$REDIS_PORT"
}

stop_all() {
  if [ -f "$PG_DATA/PG_VERSION" ]; then
    as_pg "$(pg_bin)/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 && log "PostgreSQL stopped" || true
  fi
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 && log "Redis stopped" || true
  "$ROOT/scripts/registry.sh" stop
}

status() {
  local rc=0
  if PGPASSWORD=portal psql -h 127.0.0.1 -p "$PG_PORT" -U portal -d portal -tAc "SELECT 1" >/dev/null 2>&1; then
    echo "postgres: up (127.0.0.1:$PG_PORT)"; else echo "postgres: down"; rc=1; fi
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    echo "redis: up (127.0.0.1:$REDIS_PORT)"; else echo "redis: down"; rc=1; fi
  "$ROOT/scripts/registry.sh" status || rc=1
  return $rc
}

case "${1:-}" in
  install) install ;;
  start) install; start_postgres; start_redis; "$ROOT/scripts/registry.sh" start ;;
  stop) stop_all ;;
  status) status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
