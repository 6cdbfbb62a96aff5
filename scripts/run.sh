#!/usr/bin/env bash
# `make run`: start PostgreSQL, Redis and the built-in registry, migrate, register the registry, make sure an admin exists, start the demo
# sandbox fleet and register its clusters, then run the web server, Celery worker and beat, and
# the watcher together. Ctrl-C stops all of it.
set -euo pipefail
cd "$(dirname "$0")/.."

export PORTAL_ENV="${PORTAL_ENV:-development}"
export DJANGO_SETTINGS_MODULE=portal.settings
PORT="${PORTAL_PORT:-8000}"
export PORTAL_PORT="$PORT"
PY=.venv/bin/python
mkdir -p var/log

# Stop on exit only what this run started: servers someone else started stay up.
# (PostgreSQL and Redis together; the built-in registry on its own, it came later.)
services_were_up=0
[ "$(scripts/services.sh status 2>/dev/null | grep -cE '^(postgres|redis): up')" = "2" ] && services_were_up=1
registry_was_up=0
scripts/registry.sh status >/dev/null 2>&1 && registry_was_up=1
scripts/services.sh start
$PY manage.py migrate --no-input -v 0
$PY manage.py builtin_registry  # the registry scripts/services.sh started (docs/registries.md)
$PY manage.py ensure_admin --password-file var/admin-credentials

sandbox_pid=""
idp_pid=""
cleanup() {
  if [ -n "$sandbox_pid" ]; then kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; fi
  if [ -n "$idp_pid" ]; then kill "$idp_pid" 2>/dev/null || true; wait "$idp_pid" 2>/dev/null || true; fi
  if [ "$services_were_up" = "0" ]; then scripts/services.sh stop || true
  elif [ "$registry_was_up" = "0" ]; then scripts/registry.sh stop || true; fi
}
trap cleanup EXIT

# Demo clusters (PORTAL_DEMO_CLUSTERS=0 to skip): simulated clusters that speak the real
# Kubernetes API over HTTPS. The portal knows them only by their kubeconfig files.
if [ "${PORTAL_DEMO_CLUSTERS:-1}" != "0" ]; then
  $PY -m sandbox serve --config scripts/demo-fleet.yaml --state-dir var/sandbox > var/log/sandbox.log 2>&1 &
  sandbox_pid=$!
  for _ in $(seq 1 120); do
    if $PY - "$sandbox_pid" <<'PYEOF' 2>/dev/null; then break; fi
import json, sys
index = json.load(open("var/sandbox/fleet.json"))
sys.exit(0 if index.get("running") and str(index.get("pid")) == sys.argv[1] else 1)
PYEOF
    kill -0 "$sandbox_pid" 2>/dev/null || { echo "the sandbox fleet did not start; see var/log/sandbox.log" >&2; exit 1; }
    sleep 0.5
  done
  # name  provider  region  stage  display name
  while read -r name provider region stage display; do
    $PY manage.py import_kubeconfig "var/sandbox/$name.kubeconfig" --name "$name" --provider "$provider" \
      --region "$region" --stage "$stage" --display-name "$display" --label demo=true
  done <<'CLUSTERS'
seoul-prod eks ap-northeast-2 prod Seoul-Production
busan-stage gke asia-northeast3 stage Busan-Staging
pangyo-dev onprem pangyo-dc1 dev Pangyo-Dev
CLUSTERS
  $PY manage.py seed_demo_workspace --password-file var/developer-credentials
  $PY manage.py seed_demo_catalog
  # The demo fleet's Cluster API cluster (cluster_api: true) becomes a management cluster (docs/provisioning.md).
  $PY manage.py seed_demo_provisioning --fleet var/sandbox/fleet.json || echo "provisioning demo skipped" >&2
fi

# Demo identity provider (PORTAL_DEMO_OIDC=0 to skip): a real OpenID Connect provider on loopback
# (scripts/oidc-provider, docs/sso.md), registered as "demo-idp" with groups mapped to roles.
idp_note=""
if [ "${PORTAL_DEMO_OIDC:-1}" != "0" ] && command -v node >/dev/null 2>&1 \
    && [ -d scripts/oidc-provider/node_modules/oidc-provider ]; then
  idp_port="${PORTAL_DEMO_OIDC_PORT:-9400}"
  OIDC_PORT="$idp_port" \
    OIDC_REDIRECT_URIS="http://127.0.0.1:${PORT}/api/auth/oidc/demo-idp/callback/,http://localhost:${PORT}/api/auth/oidc/demo-idp/callback/" \
    OIDC_POST_LOGOUT_URIS="http://127.0.0.1:${PORT}/login,http://localhost:${PORT}/login" \
    node scripts/oidc-provider/server.mjs > var/log/oidc-provider.log 2>&1 &
  idp_pid=$!
  $PY manage.py seed_demo_oidc --issuer "http://127.0.0.1:${idp_port}"
  idp_note="  SSO:      \"Demo identity provider\" on the login page: alice, bob or carol, password <name>-password"
fi

user=$(sed -n 1p var/admin-credentials 2>/dev/null || echo admin)
password=$(sed -n 2p var/admin-credentials 2>/dev/null || echo "(set when the account was created)")
cat <<MSG

  Portal:   http://127.0.0.1:${PORT}/
  Log in:   ${user} / ${password}   (also in var/admin-credentials)
  Member:   $(sed -n 1p var/developer-credentials 2>/dev/null || echo developer) / $(sed -n 2p var/developer-credentials 2>/dev/null || echo "(see var/developer-credentials)")   (developer of workspace demo-team: sees only its service maps)
  API docs: http://127.0.0.1:${PORT}/api/docs/
${idp_note}
  Clusters: simulated ones from var/sandbox/*.kubeconfig (try: KUBECONFIG=var/sandbox/seoul-prod.kubeconfig kubectl get pods -A)
  Registry: https://127.0.0.1:${PORTAL_REGISTRY_PORT:-55000} (user portal, password in var/registry/password, CA var/registry/ca.crt)
  Stop:     Ctrl-C

MSG
.venv/bin/honcho start -f Procfile
