#!/bin/sh
# Debian 12 packages the benchmark needs on top of scripts/install-deps.sh,
# installed only when missing (a second run does nothing and needs no network).
# squid-openssl, not squid: Debian's default squid is built with GnuTLS and
# silently sends no client certificate to a TLS cache_peer.
set -eu
PKGS="squid-openssl redis-server redis-tools postgresql gnuplot-nox socat"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "bench/install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d-less machines would start the packaged services: the bench
# starts its own instances on free ports and does not use them.
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
