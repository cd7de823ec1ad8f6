#!/bin/sh
# Debian 12 packages the benchmark needs on top of scripts/install-deps.sh,
# installed only when missing (a second run does nothing and needs no network).
# squid-openssl, not squid: Debian's default squid is built with GnuTLS and
# silently sends no client certificate to a TLS cache_peer.
set -eu
# The services they bring are not used: the bench starts its own instances
# on free ports.
exec "$(dirname "$0")/../scripts/install-deps.sh" squid-openssl redis-server redis-tools postgresql gnuplot-nox socat
