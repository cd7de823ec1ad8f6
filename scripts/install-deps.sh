#!/bin/sh
# Install the Debian 12 packages tls_bridge needs to build, test and run,
# but only those missing: a second run does nothing and needs no network.
#   scripts/install-deps.sh            the build and test packages
#   scripts/install-deps.sh PKG...     those packages instead (bench/install-deps.sh)
set -eu
PKGS="trafficserver trafficserver-dev trafficserver-experimental-plugins libpcre2-dev
libyaml-dev libssl-dev libcmocka-dev python3-pytest nginx-light openssl curl make gcc pkg-config
cppcheck clang-tidy clang-format clang libclang-rt-14-dev valgrind"
[ "$#" -eq 0 ] || PKGS="$*"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
