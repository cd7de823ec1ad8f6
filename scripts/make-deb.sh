#!/bin/sh
# Build the Debian package (make deb; docs/packaging.md).
#
# Installs the packaging tools if missing (scripts/install-deps.sh), copies
# the source tree (what git tracks plus new files it does not ignore; without
# git, everything but build/ and .git) to build/deb/tls-bridge-VERSION, runs
# `dpkg-buildpackage -us -uc -b` there, so the working tree gets no build
# products, then lintian on the result.  Output in build/deb/: the .deb (and
# its -dbgsym .deb, .buildinfo, .changes) and lintian.txt.  Exit status: 1 if
# the build fails, lintian reports an error or a warning, or debian/changelog
# disagrees with VERSION.  The copy is removed after a successful build.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
version=$(cat VERSION)
out="$root/build/deb"

scripts/install-deps.sh devscripts dpkg-dev debhelper lintian fakeroot

# The Build-Depends (dpkg-checkbuilddeps says which are missing).
missing=$(dpkg-checkbuilddeps 2>&1 | sed -n 's/.*Unmet build dependencies: //p' |
  sed 's/([^)]*)//g; s/<[^>]*>//g; s/|[^ ]*//g')
if [ -n "$missing" ]; then
  # shellcheck disable=SC2086
  scripts/install-deps.sh $missing
fi

changelog_version=$(dpkg-parsechangelog -S Version)
if [ "${changelog_version%%-*}" != "$version" ]; then
  echo "make deb: debian/changelog says $changelog_version, VERSION says $version" >&2
  exit 1
fi

src="$out/tls-bridge-$version"
rm -rf "$src"
mkdir -p "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    tar --null --no-recursion --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$src" -xf -
else
  tar --exclude=./build --exclude=./.git -cf - . | tar -C "$src" -xf -
fi
rm -f "$out"/trafficserver-plugin-tls-bridge*_"$version"_*.deb "$out"/tls-bridge_"$version"_*

echo "make deb: dpkg-buildpackage in $src"
(cd "$src" && dpkg-buildpackage -us -uc -b) > "$out/build.log" 2>&1 || {
  tail -n 40 "$out/build.log"
  echo "make deb: dpkg-buildpackage failed; log in $out/build.log, tree in $src" >&2
  exit 1
}
rm -rf "$src"

changes="$out/tls-bridge_${version}_$(dpkg-architecture -qDEB_HOST_ARCH).changes"
# Errors and warnings fail; info tags (I:) are shown, not fatal.
lintian --display-info "$changes" > "$out/lintian.txt" 2>&1 || true
cat "$out/lintian.txt"
if grep -qE '^[EW]: ' "$out/lintian.txt"; then
  echo "make deb: lintian reports errors or warnings (above)" >&2
  exit 1
fi
ls -l "$out"/*.deb
