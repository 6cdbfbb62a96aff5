#!/usr/bin/env bash
# A real OpenLDAP server (Debian's slapd) for the LDAP sign-in tests and for trying LDAP locally.
#
#   scripts/ldap-server.sh start DIR LDAP_PORT LDAPS_PORT   # prints nothing; DIR/ready when it answers
#   scripts/ldap-server.sh stop DIR
#
# Why a script and not the system service: the tests need a throw-away server on free loopback ports
# with a CA made for the test run, and nothing on the machine's own slapd. Everything lives in DIR:
#   ca.pem / ca.key        the test CA (the provider's ca_pem)
#   other-ca.pem           an unrelated CA (a server certificate "not matching the CA")
#   server.pem / .key      the server's certificate, signed by ca.pem, for 127.0.0.1 and localhost
#   slapd.conf, data/      the configuration (slapd.conf, not the system's cn=config) and the database
#   admin.pw               the rootdn's (cn=admin) password, for tests that change the tree
#   slapd.pid, slapd.log
# The server listens on ldap://127.0.0.1:LDAP_PORT (StartTLS) and ldaps://127.0.0.1:LDAPS_PORT.
#
# The tree (dc=example,dc=org; every user's password is "<uid>-pass"):
#   cn=portal,ou=services         the service account the portal binds with (password "service-pass")
#   uid=alice,ou=people           in devs (so also in engineering, which contains devs)
#   uid=bob,ou=people             in engineering and in "ops, on-call"
#   uid=carol,ou=people           in admins
#   cn=Smith\, John,ou=people     uid jsmith, in devs: a DN with an escaped comma
#   cn=devs / cn=engineering / cn=admins / cn=ops\, on-call   (ou=groups, groupOfNames)
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"  # slapd, slapadd and slappasswd live there

cmd=${1:?usage: ldap-server.sh start DIR LDAP_PORT LDAPS_PORT | stop DIR}
dir=${2:?the server directory}
SUFFIX="dc=example,dc=org"

stop() {
  if [ -f "$dir/slapd.pid" ]; then
    pid=$(cat "$dir/slapd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$dir/slapd.pid"
  fi
}

certs() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Portal test LDAP CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Some other CA" \
    -keyout "$dir/other-ca.key" -out "$dir/other-ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 2 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
}

tree() {
  hash() { slappasswd -h '{SSHA}' -s "$1"; }
  cat <<EOF
dn: $SUFFIX
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,$SUFFIX
objectClass: organizationalUnit
ou: people

dn: ou=groups,$SUFFIX
objectClass: organizationalUnit
ou: groups

dn: ou=services,$SUFFIX
objectClass: organizationalUnit
ou: services

dn: cn=portal,ou=services,$SUFFIX
objectClass: person
cn: portal
sn: portal
userPassword: $(hash service-pass)

EOF
  for u in "alice:Alice Liddell:Liddell" "bob:Bob Builder:Builder" "carol:Carol Danvers:Danvers"; do
    IFS=: read -r uid cn sn <<<"$u"
    cat <<EOF
dn: uid=$uid,ou=people,$SUFFIX
objectClass: inetOrgPerson
uid: $uid
cn: $cn
sn: $sn
mail: $uid@example.org
userPassword: $(hash "$uid-pass")

EOF
  done
  cat <<EOF
dn: cn=Smith\, John,ou=people,$SUFFIX
objectClass: inetOrgPerson
uid: jsmith
cn: Smith, John
sn: Smith
mail: jsmith@example.org
userPassword: $(hash jsmith-pass)

dn: cn=devs,ou=groups,$SUFFIX
objectClass: groupOfNames
cn: devs
member: uid=alice,ou=people,$SUFFIX
member: cn=Smith\, John,ou=people,$SUFFIX

dn: cn=engineering,ou=groups,$SUFFIX
objectClass: groupOfNames
cn: engineering
member: cn=devs,ou=groups,$SUFFIX
member: uid=bob,ou=people,$SUFFIX

dn: cn=admins,ou=groups,$SUFFIX
objectClass: groupOfNames
cn: admins
member: uid=carol,ou=people,$SUFFIX

dn: cn=ops\, on-call,ou=groups,$SUFFIX
objectClass: groupOfNames
cn: ops, on-call
member: uid=bob,ou=people,$SUFFIX
EOF
}

start() {
  local ldap_port=${3:?LDAP_PORT} ldaps_port=${4:?LDAPS_PORT}
  stop
  rm -rf "$dir/data" "$dir/ready"
  mkdir -p "$dir/data"
  certs
  # The administrator (rootdn) changes the tree in tests (group membership); its password stays in DIR.
  (umask 077; printf 'admin-%s' "$(openssl rand -hex 12)" > "$dir/admin.pw")
  cat > "$dir/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $dir/slapd.pid
argsfile $dir/slapd.args
TLSCACertificateFile $dir/ca.pem
TLSCertificateFile $dir/server.pem
TLSCertificateKeyFile $dir/server.key
# Readers see nothing anonymously; the service account reads the directory; users only bind.
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="cn=portal,ou=services,$SUFFIX" read by self read by * none
database mdb
suffix "$SUFFIX"
rootdn "cn=admin,$SUFFIX"
rootpw $(slappasswd -h '{SSHA}' -T "$dir/admin.pw")
directory $dir/data
maxsize 16777216
index objectClass,uid,member eq
EOF
  tree > "$dir/tree.ldif"
  slapadd -q -f "$dir/slapd.conf" -l "$dir/tree.ldif"
  slapd -f "$dir/slapd.conf" -h "ldap://127.0.0.1:$ldap_port/ ldaps://127.0.0.1:$ldaps_port/" \
    -d 0 >"$dir/slapd.log" 2>&1 &
  for _ in $(seq 100); do
    if LDAPTLS_CACERT="$dir/ca.pem" ldapsearch -x -LLL -H "ldaps://127.0.0.1:$ldaps_port" \
        -D "cn=portal,ou=services,$SUFFIX" -w service-pass -b "$SUFFIX" -s base dn >/dev/null 2>&1; then
      touch "$dir/ready"
      return 0
    fi
    sleep 0.1
  done
  echo "slapd did not answer on 127.0.0.1:$ldaps_port; see $dir/slapd.log" >&2
  cat "$dir/slapd.log" >&2 || true
  stop
  return 1
}

case "$cmd" in
  start) start "$@" ;;
  stop) stop ;;
  *) echo "usage: ldap-server.sh start DIR LDAP_PORT LDAPS_PORT | stop DIR" >&2; exit 2 ;;
esac
