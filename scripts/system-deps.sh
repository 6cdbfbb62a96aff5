#!/usr/bin/env bash
# Install the Debian packages the portal needs and a fresh machine lacks:
# PostgreSQL and Redis (the real services), Chromium and its driver (the real-browser tests),
# docker-registry (Distribution v2: the OCI registry the catalog's OCI source tests push charts to).
# Safe to run repeatedly: it installs only what is missing.
set -euo pipefail

need=()
[ -n "$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null)" ] || need+=(postgresql)
command -v psql >/dev/null || need+=(postgresql-client)
command -v redis-server >/dev/null || need+=(redis-server)
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
{ [ -x /usr/sbin/slapd ] && command -v ldapmodify >/dev/null; } || need+=(slapd ldap-utils)  # scripts/ldap-server.sh
if [ "${PORTAL_SKIP_BROWSER:-0}" != "1" ]; then
  command -v chromium >/dev/null || need+=(chromium)
  command -v chromedriver >/dev/null || need+=(chromium-driver)
fi
# fonts so Korean renders in screenshots of the console
if [ "${PORTAL_SKIP_BROWSER:-0}" != "1" ] && ! fc-list 2>/dev/null | grep -qi -e nanum -e noto.*cjk; then
  need+=(fonts-nanum)
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
[ "$(id -u)" = "0" ] || sudo="sudo"
echo "[system-deps] installing: ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The package enables a registry service on :5000 of every interface; the tests start their own.
if printf '%s\n' "${need[@]}" | grep -qx docker-registry && command -v systemctl >/dev/null; then
  $sudo systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
