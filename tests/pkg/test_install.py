"""`make install` and `make uninstall` (Makefile; docs/packaging.md).

Runs without Traffic Server instances: `make install DESTDIR=<temp>` must
install exactly the plugin (as tls_bridge_ng.so, in the modules directory,
not under PREFIX), the checker and its man page, and the documentation and
samples under PREFIX/share/doc/tls-bridge; `make uninstall` with the same
variables must remove all of it.  The man page names every option the
checker's --help does, and the sample ingress configuration passes the
checker.  MODULEDIR is passed, so neither tsxs nor
traffic_layout is needed; building the plugin needs the ATS headers.

    /usr/bin/python3 -m pytest tests/pkg        (or: make test-pkg)
"""

import glob
import os
import re
import stat
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULEDIR = "/usr/lib/trafficserver/modules"
EXAMPLES = [
    "examples/README.md",
    "examples/ingress/ip_allow.yaml",
    "examples/ingress/plugin.config",
    "examples/ingress/records.config",
    "examples/ingress/remap.config",
    "examples/ingress/tls_bridge.yaml",
    "examples/peer/ip_allow.yaml",
    "examples/peer/records.config",
    "examples/peer/remap.config",
    "examples/peer/ssl_multicert.config",
]


def make(*args):
    r = subprocess.run(["make", "--no-print-directory", "-C", REPO] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert r.returncode == 0, "make %s failed:\n%s" % (" ".join(args), r.stdout)
    return r.stdout


def files_under(root):
    """Every file (and symlink) under root, as absolute paths below root."""
    out = set()
    for d, _, names in os.walk(root):
        for n in names:
            out.add("/" + os.path.relpath(os.path.join(d, n), root))
    return out


def expected(prefix, docdir=None):
    docdir = docdir or prefix + "/share/doc/tls-bridge"
    want = {MODULEDIR + "/tls_bridge_ng.so", docdir + "/README.md", docdir + "/LICENSE"}
    want |= {docdir + "/" + f for f in EXAMPLES}
    want |= {docdir + "/docs/" + os.path.basename(f)
             for f in glob.glob(os.path.join(REPO, "docs", "*.md")) +
             glob.glob(os.path.join(REPO, "docs", "*.png"))}
    want |= {prefix + "/bin/tls_bridge_check", prefix + "/share/man/man1/tls_bridge_check.1"}
    return want


def test_examples_list_is_complete():
    """EXAMPLES is every file in examples/: a new sample file must be added
    to it, and is then checked to be installed."""
    found = {os.path.relpath(os.path.join(d, n), REPO)
             for d, _, names in os.walk(os.path.join(REPO, "examples")) for n in names}
    assert found == set(EXAMPLES)


@pytest.mark.parametrize("prefix", ["/usr/local", "/opt/tb"])
def test_install_then_uninstall(tmp_path, prefix):
    dest = str(tmp_path / "root")
    args = ["DESTDIR=" + dest, "MODULEDIR=" + MODULEDIR]
    if prefix != "/usr/local":
        args.append("PREFIX=" + prefix)  # the default is /usr/local
    make("install", *args)
    got = files_under(dest)
    assert got == expected(prefix), "unexpected: %s; missing: %s" % (
        sorted(got - expected(prefix)), sorted(expected(prefix) - got))

    plugin = os.path.join(dest, MODULEDIR.lstrip("/"), "tls_bridge_ng.so")
    assert stat.S_IMODE(os.stat(plugin).st_mode) == 0o644
    with open(plugin, "rb") as f, open(os.path.join(REPO, "build", "tls_bridge.so"), "rb") as g:
        assert f.read() == g.read(), "the installed plugin is not the one built"
    for f in EXAMPLES + ["README.md"]:
        with open(os.path.join(dest, prefix.lstrip("/"), "share/doc/tls-bridge", f), "rb") as a, \
                open(os.path.join(REPO, f), "rb") as b:
            assert a.read() == b.read(), f

    with open(os.path.join(dest, prefix.lstrip("/"), "share/man/man1/tls_bridge_check.1")) as f:
        man = f.read()
    with open(os.path.join(REPO, "VERSION")) as f:
        assert '"tls_bridge %s"' % f.read().strip() in man and "@VERSION@" not in man

    make("uninstall", *args)
    assert files_under(dest) == set(), "left after uninstall: %s" % sorted(files_under(dest))
    assert not os.path.exists(os.path.join(dest, prefix.lstrip("/"), "share/doc/tls-bridge"))


def test_docdir_override(tmp_path):
    """DOCDIR (what debian/rules uses) moves the documentation only."""
    dest = str(tmp_path / "root")
    docdir = "/usr/share/doc/trafficserver-plugin-tls-bridge"
    args = ["DESTDIR=" + dest, "MODULEDIR=" + MODULEDIR, "PREFIX=/usr", "DOCDIR=" + docdir]
    make("install", *args)
    assert files_under(dest) == expected("/usr", docdir)
    make("uninstall", *args)
    assert files_under(dest) == set()


def test_version_single_source():
    """VERSION is the version; the plugin carries it (TB_VERSION) and
    debian/changelog agrees."""
    with open(os.path.join(REPO, "VERSION")) as f:
        version = f.read().strip()
    assert version and all(p.isdigit() for p in version.split(".")), version
    make("build")
    with open(os.path.join(REPO, "build", "tls_bridge.so"), "rb") as f:
        assert version.encode() + b"\0" in f.read(), "TB_VERSION is not in the plugin"
    with open(os.path.join(REPO, "debian", "changelog")) as f:
        first = f.readline()
    assert first.startswith("tls-bridge (%s" % version), first


def test_man_page_names_every_option():
    """man/tls_bridge_check.1 documents each option of `tls_bridge_check
    --help` (roff writes '-' as '\\-')."""
    make("build")
    checker = os.path.join(REPO, "build", "tls_bridge_check")
    usage = subprocess.run([checker, "--help"], capture_output=True, text=True, check=True).stdout
    options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", usage))
    assert {"--confdir", "--match", "--from-reference", "--quiet", "--help"} <= options, usage
    with open(os.path.join(REPO, "man", "tls_bridge_check.1")) as f:
        man = f.read().replace("\\-", "-")
    missing = sorted(o for o in options if o not in man)
    assert not missing, "not in the man page: %s" % missing
    r = subprocess.run(["man", "--warnings", "-l", "-Tutf8", "-Z",
                        os.path.join(REPO, "man", "tls_bridge_check.1")],
                       capture_output=True, text=True, env=dict(os.environ, MANWIDTH="80"))
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr


def test_sample_ingress_configuration_passes_the_checker():
    """examples/ingress: the plugin.config line's arguments and the YAML file
    they name are valid, with the rules the samples promise."""
    make("build")
    checker = os.path.join(REPO, "build", "tls_bridge_check")
    confdir = os.path.join(REPO, "examples", "ingress")
    with open(os.path.join(confdir, "plugin.config")) as f:
        line = [l for l in f.read().splitlines() if l.strip() and not l.startswith("#")]
    assert len(line) == 1 and line[0].split()[0] == "tls_bridge_ng.so", line
    r = subprocess.run([checker, "--confdir", confdir, "--match", "db.internal:5432",
                        "--match", "cache.internal:6379", "--match", "db.internal:6379",
                        "--"] + line[0].split()[1:], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout.splitlines()
    assert out[0].startswith("configuration OK: 2 rules; unmatched CONNECTs denied (403)"), out
    assert 'rule 1 "postgres"' in out[1] and "peer.example.net:4443" in out[1], out
    assert 'rule 2 "redis"' in out[2], out
    assert "no rule: denied (403)" in out[3], out
