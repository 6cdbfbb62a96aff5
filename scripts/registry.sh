#!/usr/bin/env bash
# Start, stop or check the portal's built-in OCI registry (issue 13), with its data under var/registry.
# Usage: scripts/registry.sh start|stop|status
#
# Runs Debian's docker-registry package (the CNCF distribution server) on
# 127.0.0.1:${PORTAL_REGISTRY_PORT:-55000} over HTTPS, with what it needs generated once under
# var/registry: a CA and a server certificate for 127.0.0.1/localhost (openssl), an htpasswd file
# (bcrypt) for the user `portal` whose generated password is in var/registry/password (0600).
# Tag deletion is enabled. The portal registers it as the `builtin` registry with
# `manage.py builtin_registry` (settings PORTAL_BUILTIN_REGISTRY_* read these files).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VAR="${PORTAL_VAR_DIR:-$ROOT/var}"
PORT="${PORTAL_REGISTRY_PORT:-55000}"
DIR="$VAR/registry"
BINARY="${PORTAL_REGISTRY_BINARY:-/usr/bin/docker-registry}"
USERNAME=portal

log() { printf '[registry] %s\n' "$*" >&2; }

running_pid() {
  local pid
  [ -f "$DIR/registry.pid" ] || return 1
  pid=$(cat "$DIR/registry.pid")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

answers() {  # the registry's /v2/ answers 401 (auth required) over verified TLS
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$DIR/ca.crt" "https://127.0.0.1:$PORT/v2/" || true)
  [ "$code" = "401" ]
}

certificates() {
  [ -f "$DIR/ca.crt" ] && [ -f "$DIR/server.crt" ] && [ -f "$DIR/server.key" ] && return
  log "generating a CA and a server certificate for 127.0.0.1/localhost in $DIR"
  local tmp; tmp=$(mktemp -d)
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=cluster-portal built-in registry CA" \
    -keyout "$DIR/ca.key" -out "$DIR/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$DIR/server.key" -out "$tmp/server.csr" 2>/dev/null
  cat > "$tmp/ext.cnf" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
  openssl x509 -req -in "$tmp/server.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" -CAcreateserial \
    -days 3650 -extfile "$tmp/ext.cnf" -out "$DIR/server.crt" 2>/dev/null
  chmod 600 "$DIR/ca.key" "$DIR/server.key"
  rm -rf "$tmp"
}

credentials() {
  if [ ! -s "$DIR/password" ]; then
    log "generating the password of user $USERNAME in $DIR/password"
    (umask 077; openssl rand -hex 24 > "$DIR/password")
  fi
  chmod 600 "$DIR/password"
  if [ ! -s "$DIR/htpasswd" ] || [ "$DIR/password" -nt "$DIR/htpasswd" ]; then
    # bcrypt (the only scheme the registry accepts): libxcrypt through Python's crypt module, else
    # apache2-utils' htpasswd
    if ! PASSWORD_FILE="$DIR/password" python3 -W ignore -c '
import crypt, os, sys
password = open(os.environ["PASSWORD_FILE"]).read().strip()
hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024))
if not hashed or not hashed.startswith("$2"):
    sys.exit(1)
print("'"$USERNAME"':" + hashed)' > "$DIR/htpasswd.new" 2>/dev/null; then
      if command -v htpasswd >/dev/null; then
        htpasswd -nbB "$USERNAME" "$(cat "$DIR/password")" | head -n 1 > "$DIR/htpasswd.new"
      else
        log "cannot make a bcrypt hash: neither python3's crypt module nor htpasswd (apache2-utils) is available"
        exit 1
      fi
    fi
    chmod 600 "$DIR/htpasswd.new"
    mv "$DIR/htpasswd.new" "$DIR/htpasswd"
  fi
}

config() {
  [ -s "$DIR/http-secret" ] || (umask 077; openssl rand -hex 32 > "$DIR/http-secret")
  cat > "$DIR/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $DIR/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$PORT
  secret: $(cat "$DIR/http-secret")
  tls:
    certificate: $DIR/server.crt
    key: $DIR/server.key
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: cluster-portal
    path: $DIR/htpasswd
EOF
  chmod 600 "$DIR/config.yml"
}

start() {
  if [ ! -x "$BINARY" ]; then
    log "$BINARY not found; install Debian's docker-registry package (scripts/system-deps.sh)"
    exit 1
  fi
  mkdir -p "$DIR/data"
  chmod 700 "$DIR"
  certificates
  credentials
  config
  if running_pid >/dev/null && answers; then
    log "registry already running on https://127.0.0.1:$PORT"
    return
  fi
  if pid=$(running_pid); then
    log "registry process $pid does not answer; restarting it"
    kill "$pid" 2>/dev/null || true
    sleep 1
  fi
  if answers; then
    log "something else answers on 127.0.0.1:$PORT; set PORTAL_REGISTRY_PORT"
    exit 1
  fi
  nohup "$BINARY" serve "$DIR/config.yml" >>"$DIR/registry.log" 2>&1 </dev/null &
  echo $! > "$DIR/registry.pid"
  for _ in $(seq 1 100); do
    answers && break
    if ! running_pid >/dev/null; then
      log "docker-registry exited; see $DIR/registry.log:"
      tail -n 20 "$DIR/registry.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  if ! answers; then
    log "docker-registry does not answer on https://127.0.0.1:$PORT; see $DIR/registry.log"
    exit 1
  fi
  log "registry started on https://127.0.0.1:$PORT (user $USERNAME, password in $DIR/password, CA $DIR/ca.crt)"
}

stop() {
  local pid
  if pid=$(running_pid); then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    log "registry stopped"
  fi
  rm -f "$DIR/registry.pid"
}

status() {
  if [ -f "$DIR/ca.crt" ] && answers; then
    echo "registry: up (https://127.0.0.1:$PORT)"
  else
    echo "registry: down"
    return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
