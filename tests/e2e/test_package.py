"""The Debian package end to end (docs/packaging.md): install the .deb that
`make deb` built, check what dpkg installed, run a tunnel through the
installed plugin with the installed sample configuration (example_deploy.py:
only ports, paths, certificates and addresses replaced; the plugin.config
line is the sample's own, `tls_bridge_ng.so`, found in the modules
directory), then purge the package and check that nothing of it is left.

Runs only (marker `package`) when build/deb/ holds the package of this
VERSION and it is newer than the sources (else: skipped, "run make deb"), or
with TB_PKG_BUILD=1, which runs `make deb` first.  Needs root; skipped when
the package is already installed (the test removes it at the end) and under
make e2e-asan (the packaged plugin has no sanitizers).  Dependencies missing
from the machine are installed with apt-get."""

import glob
import os
import platform
import re
import subprocess

import pytest

import harness
from conftest import note_instances
from example_deploy import (CLIENT_ADDR, ExampleSite, open_tunnel_from, server_pid,
                            wait_version_line)

pytestmark = [pytest.mark.package,
              pytest.mark.skipif(harness.ATS.major >= 10,
                                 reason="the package is for Debian 12's ATS 9.2 (it depends on Debian's trafficserver)")]

PKG = "trafficserver-plugin-tls-bridge"
REPO = harness.REPO_ROOT
with open(os.path.join(REPO, "VERSION")) as _f:
    VERSION = _f.read().strip()
ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                      text=True).stdout.strip() or platform.machine()
DEB = os.path.join(REPO, "build", "deb", "%s_%s_%s.deb" % (PKG, VERSION, ARCH))
MODULE = "/usr/lib/trafficserver/modules/tls_bridge_ng.so"
REFERENCE = "/usr/lib/trafficserver/modules/tls_bridge.so"
DOC = "/usr/share/doc/" + PKG
# Sources the package is built from: a .deb older than any of them is stale.
SOURCES = ["VERSION", "Makefile", "debian", "src", "examples", "docs", "README.md"]


def run(*argv, check=True):
    r = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and r.returncode != 0:
        raise AssertionError("%s: exit %d\n%s" % (" ".join(argv), r.returncode, r.stdout))
    return r.stdout


def installed():
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", PKG], capture_output=True, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def newest_source():
    newest = 0.0
    for rel in SOURCES:
        path = os.path.join(REPO, rel)
        for d, _, names in os.walk(path) if os.path.isdir(path) else [("", [], [path])]:
            for n in names:
                newest = max(newest, os.stat(os.path.join(d, n)).st_mtime)
    return newest


def ensure_deb():
    if os.environ.get("TB_PKG_BUILD") == "1":
        subprocess.run(["nice", "-n", "10", "make", "-C", REPO, "deb"], check=True)
    if not os.path.isfile(DEB):
        pytest.skip("no %s: run `make deb` (or TB_PKG_BUILD=1)" % os.path.relpath(DEB, REPO))
    if os.stat(DEB).st_mtime < newest_source():
        pytest.skip("%s is older than the sources: run `make deb` (or TB_PKG_BUILD=1)"
                    % os.path.relpath(DEB, REPO))


@pytest.fixture(scope="module")
def package():
    """The package installed for the module's tests; purged at the end
    whatever happened (test_purge_leaves_nothing checks the purge)."""
    if harness.UNDER_ASAN:
        pytest.skip("the packaged plugin is not built with sanitizers")
    if os.geteuid() != 0:
        pytest.skip("installing a package needs root")
    if installed():
        pytest.skip("%s is installed already: this test would remove it" % PKG)
    ensure_deb()
    r = subprocess.run(["dpkg", "-i", DEB], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode != 0:
        # Missing dependencies: dpkg leaves the package unconfigured; apt
        # installs them and finishes the configuration.
        run("apt-get", "install", "-y", "-q", "-f", "--no-install-recommends")
    assert installed(), r.stdout
    files = run("dpkg", "-L", PKG).split()
    try:
        yield files
    finally:
        if installed():
            run("dpkg", "--purge", PKG, check=False)


def test_dpkg_contents(package):
    """dpkg -L: the plugin under its own name beside the reference, the
    checker and its man page, the samples uncompressed, documentation,
    copyright and changelog.  The plugin's libraries resolve, and the
    package depends on them and on Traffic Server 9.2.  The installed
    checker finds the installed sample configuration valid, and man finds
    its page."""
    files = {f for f in package if os.path.isfile(f)}
    examples = {os.path.relpath(f, os.path.join(REPO, "examples"))
                for f in glob.glob(os.path.join(REPO, "examples", "**"), recursive=True)
                if os.path.isfile(f)}
    want = {MODULE, DOC + "/copyright", DOC + "/changelog.gz"}
    want |= {DOC + "/examples/" + e for e in examples}
    docs = {"README.md"} | {"docs/" + os.path.basename(f)
                            for f in glob.glob(os.path.join(REPO, "docs", "*.md"))}
    doc_files = {f for f in files if f.startswith(DOC + "/") and
                 re.sub(r"\.gz$", "", f)[len(DOC) + 1:] in docs}
    assert {re.sub(r"\.gz$", "", f)[len(DOC) + 1:] for f in doc_files} == docs
    pngs = {DOC + "/docs/" + os.path.basename(f)
            for f in glob.glob(os.path.join(REPO, "docs", "*.png"))}
    want |= {"/usr/bin/tls_bridge_check", "/usr/share/man/man1/tls_bridge_check.1.gz"}
    extra = files - want - doc_files - pngs
    assert want <= files, "missing: %s" % sorted(want - files)
    assert not extra, "unexpected: %s" % sorted(extra)

    ldd = run("ldd", MODULE)
    assert "not found" not in ldd, ldd
    assert "libpcre2-8.so" in ldd and "libyaml-0.so" in ldd, ldd
    depends = run("dpkg-query", "-W", "-f=${Depends}", PKG)
    for dep in ("libpcre2-8-0", "libyaml-0-2", "trafficserver (>= 9.2~)",
                "trafficserver (<< 9.3~)"):
        assert dep in depends, depends
    if os.path.exists(REFERENCE):
        assert "trafficserver-experimental-plugins" in run("dpkg", "-S", REFERENCE), \
            "the reference plugin is no longer Debian's"

    out = run("/usr/bin/tls_bridge_check", "--confdir", DOC + "/examples/ingress",
              "--config", "tls_bridge.yaml")
    assert out.startswith("configuration OK: 2 rules"), out
    assert run("man", "-w", "tls_bridge_check").strip() == \
        "/usr/share/man/man1/tls_bridge_check.1.gz"


def test_tunnel_through_the_installed_plugin(package, workspace, request):
    """The installed samples and the installed plugin: the start-up line and
    the version answer carry VERSION, traffic_server has the installed file
    mapped, and a tunnel from the clients' network is bridged byte for byte;
    an unmatched CONNECT gets 403."""
    site = ExampleSite(workspace, DOC + "/examples", plugin=None,
                       debug=os.environ.get("TB_E2E_DEBUG", "1") != "0")
    try:
        site.start()
        note_instances(request, *site.instances())
        ing = site.ingress
        ing.wait_log("[tls_bridge] tls_bridge %s: 2 rules loaded" % VERSION)
        with open("/proc/%d/maps" % server_pid(ing)) as f:
            assert MODULE in f.read()
        assert wait_version_line(ing).group(1) == VERSION
        data = b"".join(harness.random_stream(1 << 20, 21))
        with open_tunnel_from(CLIENT_ADDR, ing.port, "db.internal", site.ports["db"]) as t:
            assert t.status == 200, t.response
            assert site.upload(t, data) is True
        with open_tunnel_from(CLIENT_ADDR, ing.port, "nowhere.internal", site.ports["db"]) as t:
            assert t.status == 403, t.response
    finally:
        site.stop()


def test_purge_leaves_nothing(package):
    """dpkg --purge: the package is gone and so is every file it had (the
    directories it shares with other packages stay)."""
    run("dpkg", "--purge", PKG)
    assert not installed()
    left = [f for f in package if os.path.isfile(f) or os.path.islink(f)]
    assert not left, left
    assert not os.path.exists(DOC)
    if os.path.exists(REFERENCE):
        assert os.path.isfile(REFERENCE), "the reference plugin went with ours"
