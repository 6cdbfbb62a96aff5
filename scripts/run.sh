#!/usr/bin/env bash
# `make run`: start PostgreSQL and Redis, migrate, make sure an admin exists, then run the web
# server, Celery worker and beat, and the watcher together. Ctrl-C stops all of it.
set -euo pipefail
cd "$(dirname "$0")/.."

export PORTAL_ENV="${PORTAL_ENV:-development}"
export DJANGO_SETTINGS_MODULE=portal.settings
PORT="${PORTAL_PORT:-8000}"
export PORTAL_PORT="$PORT"

scripts/services.sh start
.venv/bin/python manage.py migrate --no-input -v 0
.venv/bin/python manage.py ensure_admin --password-file var/admin-credentials

cleanup() {
  scripts/services.sh stop || true
}
trap cleanup EXIT

user=$(sed -n 1p var/admin-credentials 2>/dev/null || echo admin)
password=$(sed -n 2p var/admin-credentials 2>/dev/null || echo "(set when the account was created)")
cat <<MSG

  Portal:   http://127.0.0.1:${PORT}/
  Log in:   ${user} / ${password}   (also in var/admin-credentials)
  API docs: http://127.0.0.1:${PORT}/api/docs/
  Stop:     Ctrl-C

MSG
.venv/bin/honcho start -f Procfile
