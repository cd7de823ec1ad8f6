"""Tests for tls_bridge_check (docs/tls_bridge_check.md), run against the
built binary: TB_CHECK (default build/tls_bridge_check; `make check-tool`
runs this file against that and against an AddressSanitizer build).

- Every bad configuration in tests/config_cases.py (the e2e suite's and the
  unit tests' error cases) gives exactly the plugin's message on stderr,
  nothing on stdout, exit 1.
- A good one gives the one-line summary, exit 0 (--quiet: nothing).
- --match: indexed, regex, port-list, unmatched (passthrough, deny) and
  failed answers, in the plugin's words.
- --from-reference: each kind of difference, a rule with none, the options
  the reference cannot parse, exit 0 / 3.
- The checker's own options: usage errors (exit 2), '--', --help, and that
  none of them is a plugin option.
- Engines (issue 14): the summary and --match name each rule's engine and
  TLS settings once some rule uses engine direct; a TLS file the user
  running the checker cannot read is an error at its key (run as nobody).
- Access control: --client against a rule's clients list, a deny rule, the
  summary's access part; a peer-role file: its summary, --identity and
  --cert (PEM and DER, made here with the openssl CLI) answered by the
  policy, the usage errors of the new options, --from-reference.
"""

import os
import shutil
import stat
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from config_cases import NO_RULES, TLS_FILES, cases  # noqa: E402

CHECK = os.environ.get("TB_CHECK") or os.path.join(REPO, "build", "tls_bridge_check")
LIMIT_UNSET = "unset (Traffic Server's timeouts apply)"
DEFAULTS = ("defaults: connect_timeout 10000 ms, idle_timeout %s, max_lifetime %s, client_identity keep; "
            "pool: 2 warm connections per peer, max_age 30000 ms" % (LIMIT_UNSET, LIMIT_UNSET))


def run(*args, cwd=None):
    """Run the checker; (exit status, stdout, stderr)."""
    p = subprocess.run([CHECK] + list(args), capture_output=True, text=True, cwd=cwd, timeout=60)
    return p.returncode, p.stdout, p.stderr


def write_files(confdir, files):
    for rel, content in files.items():
        path = os.path.join(confdir, rel)
        mode = "wb" if isinstance(content, bytes) else "w"
        with open(path, mode) as f:
            f.write(content)


@pytest.fixture
def confdir(tmp_path):
    return str(tmp_path)


def test_binary_exists():
    assert os.access(CHECK, os.X_OK), "build it first: make build (or set TB_CHECK)"


# ---- every error path: the plugin's message, exactly -----------------------

@pytest.mark.parametrize("case", [c.name for c in cases("CONFDIR")])
def test_bad_configuration(confdir, case):
    """The checker refuses what the plugin refuses, in the same words: stderr
    is exactly the message the plugin logs after 'configuration error: '."""
    c = {c.name: c for c in cases(confdir)}[case]
    write_files(confdir, c.files)
    code, out, err = run("--confdir", confdir, "--", *c.args)
    assert (code, out, err) == (1, "", c.message + "\n")
    if c.e2e:
        # the e2e suite finds this text in traffic_server's log line
        assert c.text in c.message


def test_file_too_big(confdir):
    path = os.path.join(confdir, "big.conf")
    with open(path, "w") as f:
        f.truncate((16 << 20) + 1)
    code, out, err = run("--confdir", confdir, "--file", "big.conf")
    assert (code, out, err) == (1, "", path + ": larger than 16 MiB\n")


def test_relative_paths_default_to_etc_trafficserver():
    """Without --confdir, relative paths are Traffic Server's: /etc/trafficserver."""
    code, out, err = run("--config", "tls-bridge-check-test-no-such-file.yaml")
    assert (code, out) == (1, "")
    assert err == ("/etc/trafficserver/tls-bridge-check-test-no-such-file.yaml: cannot open: "
                   "No such file or directory\n")


def test_absolute_paths_ignore_confdir(confdir):
    path = os.path.join(confdir, "rules.conf")
    write_files(confdir, {"rules.conf": "a[.]example p:1\n"})
    code, out, err = run("--confdir", "/nonexistent", "--file", path)
    assert (code, err) == (0, "")
    assert out == "configuration OK: 1 rule; unmatched CONNECTs left to Traffic Server; %s\n" % DEFAULTS


# ---- a valid configuration ---------------------------------------------------

def test_summary_for_arguments():
    code, out, err = run("a[.]example", "p:1", "b", "[::1]")
    assert (code, err) == (0, "")
    assert out == "configuration OK: 2 rules; unmatched CONNECTs left to Traffic Server; %s\n" % DEFAULTS


def test_summary_for_yaml(confdir):
    write_files(confdir, {"tls_bridge.yaml": "unmatched: deny\nidle_timeout: 15m\nmax_lifetime: 0\n"
                                             "client_identity: forwarded\npool: {size: 0}\n"
                                             "rules:\n  - {host: a, peer: p}\n"})
    code, out, err = run("--confdir", confdir, "--config", "tls_bridge.yaml")
    assert (code, err) == (0, "")
    assert out == ("configuration OK: 1 rule; unmatched CONNECTs denied (403); defaults: connect_timeout "
                   "10000 ms, idle_timeout 900000 ms, max_lifetime never, client_identity forwarded; "
                   "pool: off\n")


def test_quiet():
    assert run("--quiet", "a", "p") == (0, "", "")


def test_separator_is_optional_and_only_the_first_counts():
    assert run("--quiet", "--", "a", "p") == (0, "", "")
    # a second '--' is a plugin argument, which the plugin refuses
    assert run("--quiet", "--", "--", "a") == (1, "", "plugin.config argument 1 ('--'): unknown option\n")


def test_empty_plugin_line():
    assert run("--") == (1, "", NO_RULES + "\n")


# ---- --match -------------------------------------------------------------------

MATCH_YAML = """\
unmatched: deny
client_identity: forwarded
rules:
  - name: databases
    host: db[.]internal
    ports: [5432, 6379]
    peer: peer-dc1.example.net:4443
    idle_timeout: 0
  - name: web
    host: .*[.]service[.]example
    ports: 443
    peer: peer-dc1.example.net:4443
  - name: legacy-range
    host: (legacy|old)[.]internal
    ports: 8000-8999
    peer: "[2001:db8::7]:4443"
    connect_timeout: 2s
    max_lifetime: 12h
    client_identity: strip
"""

SETTINGS_DB = ("connect_timeout 10000 ms, idle_timeout never, max_lifetime %s, client_identity forwarded"
               % LIMIT_UNSET)


@pytest.mark.parametrize("target,answer", [
    # indexed: an exact name, any case, a trailing dot
    ("db.internal:5432", 'match db.internal:5432: rule 1 "databases" (host \'db[.]internal\', ports '
                         '5432,6379) -> peer peer-dc1.example.net:4443; ' + SETTINGS_DB),
    ("DB.Internal.:6379", 'match DB.Internal:6379: rule 1 "databases" (host \'db[.]internal\', ports '
                          '5432,6379) -> peer peer-dc1.example.net:4443; ' + SETTINGS_DB),
    # indexed: a dot suffix; no port means 443
    ("a.b.service.example", 'match a.b.service.example:443: rule 2 "web" (host \'.*[.]service[.]example\', '
                            'ports 443) -> peer peer-dc1.example.net:4443; connect_timeout 10000 ms, '
                            'idle_timeout %s, max_lifetime %s, client_identity forwarded'
                            % (LIMIT_UNSET, LIMIT_UNSET)),
    # a regex, a port range, the rule's own settings
    ("old.internal:8080", 'match old.internal:8080: rule 3 "legacy-range" (host \'(legacy|old)[.]internal\', '
                          'ports 8000-8999) -> peer [2001:db8::7]:4443; connect_timeout 2000 ms, idle_timeout '
                          '%s, max_lifetime 43200000 ms, client_identity strip' % LIMIT_UNSET),
    # a port outside the lists, a host no rule takes, the whole host only
    ("db.internal:80", "match db.internal:80: no rule: denied (403)"),
    ("old.internal:7999", "match old.internal:7999: no rule: denied (403)"),
    ("www.example.org:443", "match www.example.org:443: no rule: denied (403)"),
    ("a.service.example.evil.net:443", "match a.service.example.evil.net:443: no rule: denied (403)"),
])
def test_match(confdir, target, answer):
    write_files(confdir, {"tls_bridge.yaml": MATCH_YAML})
    code, out, err = run("--quiet", "--confdir", confdir, "--match", target, "--config", "tls_bridge.yaml")
    assert (code, out, err) == (0, answer + "\n", "")


def test_match_several_in_order_and_passthrough():
    code, out, err = run("--quiet", "--match", "x.test", "--match", "nowhere:22", "x[.]test", "peer:8443")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        'match x.test:443: rule 1 "plugin.config argument 1" (host \'x[.]test\', ports any) -> peer '
        "peer:8443; connect_timeout 10000 ms, idle_timeout %s, max_lifetime %s, client_identity keep"
        % (LIMIT_UNSET, LIMIT_UNSET),
        "match nowhere:22: no rule: left to Traffic Server",
    ]


def test_match_failed_exits_1():
    """A PCRE2 limit while matching: the plugin would refuse the CONNECT (502);
    the checker says so and exits 1."""
    host = "x" * 60 + "-"  # a DNS character that fails the end anchor after every split of the x's
    code, out, err = run("--quiet", "--match", host + ":443", "(x+)+", "p")
    assert (code, err) == (1, "")
    assert out == ("match %s:443: matching failed (PCRE2 limit or out of memory): a CONNECT would be "
                   "refused (502)\n" % host)


def test_match_on_a_bad_configuration_answers_nothing():
    assert run("--match", "a:1", "a") == (
        1, "", "plugin.config argument 1: regex 'a' has no peer (arguments come in pairs)\n")


# ---- --from-reference ------------------------------------------------------------

def test_reference_no_difference():
    code, out, err = run("--quiet", "--from-reference", "(?i).*[.]svc[.]example.*", "peer:443",
                         "--file", "/dev/null")
    assert (code, err) == (0, "")
    assert out == "same meaning for the reference: 1 rule, no option it cannot parse\n"


def test_reference_every_kind_of_difference(confdir):
    write_files(confdir, {"tls_bridge.yaml": (
        "rules:\n"
        "  - {host: 'db[.]internal', peer: 'peer:4443', name: db}\n"           # anchoring, case
        "  - {host: '(?i)legacy[.]internal$', peer: 'peer:4443', name: leg}\n"  # trailing dot
        "  - {host: '(?i).*[.]x.*', peer: peer, name: noport}\n"               # peer port
        "  - {host: '(?i).*[.]y.*', peer: 'peer:4443', ports: [5432, 6000-6010], name: ports}\n"
        "  - {host: '(?i).*[.]z.*', peer: 'peer:4443', name: same}\n")})
    code, out, err = run("--quiet", "--from-reference", "--confdir", confdir, "--config", "tls_bridge.yaml")
    assert (code, err) == (3, "")
    assert out.splitlines() == [
        "plugin.config argument 1 ('--config'): an option of this plugin only: the reference cannot parse it",
        "rule 1 \"db\" (host 'db[.]internal', ports any) -> peer peer:4443:",
        "  anchoring: the reference also matched hosts that merely start with this pattern, "
        "e.g. 'db.internal.example'",
        "  case: the reference matched case-sensitively: 'DB.INTERNAL' was not bridged there",
        "rule 2 \"leg\" (host '(?i)legacy[.]internal$', ports any) -> peer peer:4443:",
        "  trailing dot: the reference did not drop a trailing dot: 'legacy.internal.' was not bridged there",
        "rule 3 \"noport\" (host '(?i).*[.]x.*', ports any) -> peer peer:443:",
        "  peer port: peer has no port: the reference connected to port 80, this plugin to 443",
        "rule 4 \"ports\" (host '(?i).*[.]y.*', ports 5432,6000-6010) -> peer peer:4443:",
        "  ports: the reference ignored the CONNECT port: it bridged every port of a matching host, "
        "this rule only 5432,6000-6010",
        "differs from the reference: 4 of 5 rules, 1 option it cannot parse",
    ]


def test_reference_undecided_pattern_says_may():
    code, out, err = run("--quiet", "--from-reference", "(?=a)b", "p:1")
    assert (code, err) == (3, "")
    assert out.splitlines()[1:4] == [
        "  anchoring: the reference anchored the pattern at the start only: it may also have matched "
        "longer hosts that start with a match (no example derived)",
        "  case: the reference matched case-sensitively: a host written in another case may not have been "
        "bridged there (no example derived)",
        "  trailing dot: the reference did not drop a trailing dot: a host written with one may not have "
        "been bridged there (no example derived)",
    ]


def test_reference_options_only_difference():
    """Arguments in the reference's form plus our options: the options alone
    differ, each named by its argument number; --file does not."""
    code, out, err = run("--quiet", "--from-reference", "(?i).*[.]a.*", "p:1", "--pool", "4",
                         "--file", "/dev/null", "--unmatched", "deny")
    assert (code, err) == (3, "")
    assert out.splitlines() == [
        "plugin.config argument 3 ('--pool'): an option of this plugin only: the reference cannot parse it",
        "plugin.config argument 7 ('--unmatched'): an option of this plugin only: the reference cannot "
        "parse it",
        "differs from the reference: 0 of 1 rule, 2 options it cannot parse",
    ]


def test_reference_with_summary_and_match():
    """The summary, then the --match answers, then the comparison."""
    code, out, err = run("--match", "a.svc:443", "--from-reference", ".*[.]svc", "p:1")
    assert (code, err) == (3, "")
    lines = out.splitlines()
    assert lines[0].startswith("configuration OK: 1 rule;")
    assert lines[1].startswith('match a.svc:443: rule 1 "plugin.config argument 1"')
    assert lines[2] == "rule 1 \"plugin.config argument 1\" (host '.*[.]svc', ports any) -> peer p:1:"
    assert lines[-1] == "differs from the reference: 1 of 1 rule, 0 options it cannot parse"


def test_reference_on_a_bad_configuration_is_1():
    assert run("--from-reference", "(", "p")[0] == 1


def test_match_failure_outranks_reference_differences():
    code, out, _ = run("--quiet", "--from-reference", "--match", "x" * 60 + "-:1", "(x+)+", "p")
    assert code == 1
    assert "matching failed" in out and "differs from the reference" in out


# ---- the checker's own options ---------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["--match"], "--match needs HOST[:PORT]"),
    (["--match", "x:0", "a", "p"], "--match: expected HOST:PORT, got 'x:0': peer 'x:0': port must be 1-65535"),
    (["--match", "", "a", "p"], "--match: expected HOST:PORT, got ''"),
    (["--match", "a b", "a", "p"], "--match: expected HOST:PORT, got 'a b': peer 'a b': contains whitespace"),
    (["--confdir"], "--confdir needs a directory"),
    (["--confdir", "", "a", "p"], "--confdir needs a directory"),
])
def test_usage_errors(args, message):
    code, out, err = run(*args)
    assert (code, out) == (2, "")
    assert err == "tls_bridge_check: %s\nTry 'tls_bridge_check --help'.\n" % message


@pytest.mark.parametrize("args", [[], ["--quiet"], ["--match", "a:1", "--from-reference"]])
def test_no_plugin_arguments_is_a_usage_error(args):
    code, out, err = run(*args)
    assert (code, out) == (2, "")
    assert err.startswith("usage: tls_bridge_check [--confdir DIR]")


def test_help():
    code, out, err = run("--help")
    assert (code, err) == (0, "")
    assert out.startswith("usage: tls_bridge_check [--confdir DIR] [--match HOST[:PORT]]... [--client ADDR]\n"
                          "                        [--identity NAME]... [--cert FILE]... [--from-reference] "
                          "[--quiet]\n")
    assert "Exit status: 0 valid; 1 invalid" in out


@pytest.mark.parametrize("option", ["--confdir", "--match", "--from-reference", "--quiet", "--help"])
def test_own_options_are_not_plugin_options(option):
    """The checker's options cannot clash with the plugin's: the plugin knows
    none of them.  (Should the plugin ever get one, this fails, and '--'
    remains the way to pass it.)"""
    code, out, err = run("--", option, "x")
    assert (code, out, err) == (1, "", "plugin.config argument 1 ('%s'): unknown option\n" % option)


def test_regex_starting_with_a_dash_is_a_plugin_argument():
    """Only long options: '-q' is a regex, as the plugin reads it."""
    code, out, err = run("--quiet", "-q", "p:1")
    assert (code, out, err) == (0, "", "")


# ---- several peers and templates (issue 12) -----------------------------------

PEERS_YAML = """\
health: {failures: 5, down_for: 30s}
rules:
  - name: sites
    host: (.*)[.]site-(a|b)[.]corp
    peers: [gw.site-$2.corp:4443, fallback.corp:4443]
  - name: one
    host: (.*)[.]one
    peer: $1.gw:4443
  - name: db
    host: db[.]internal
    peers: [peer-a:4443, peer-b:4443]
    balance: hash
    health: {failures: 1}
"""

SETTINGS_UNSET = ("connect_timeout 10000 ms, idle_timeout %s, max_lifetime %s, client_identity keep"
                  % (LIMIT_UNSET, LIMIT_UNSET))


def test_summary_with_several_peers(confdir):
    write_files(confdir, {"tls_bridge.yaml": PEERS_YAML})
    code, out, err = run("--confdir", confdir, "--config", "tls_bridge.yaml")
    assert (code, err) == (0, "")
    assert out == ("configuration OK: 3 rules; unmatched CONNECTs left to Traffic Server; %s; "
                   "3 distinct peers (2 rules with several, 2 with a template); health: failures 5, "
                   "down_for 30000 ms\n" % DEFAULTS)


@pytest.mark.parametrize("target,answer", [
    # the template made into the peer for this host, then the fallback
    ("db.site-b.corp", 'match db.site-b.corp:443: rule 1 "sites" (host \'(.*)[.]site-(a|b)[.]corp\', ports any) '
                       "-> peers gw.site-b.corp:4443 (template 'gw.site-$2.corp:4443'), fallback.corp:4443 "
                       "(failover); health failures 5, down_for 30000 ms; " + SETTINGS_UNSET),
    ("Api.ONE:8443", 'match Api.ONE:8443: rule 2 "one" (host \'(.*)[.]one\', ports any) -> peer api.gw:4443 '
                     "(template '$1.gw:4443'); " + SETTINGS_UNSET),
    ("db.internal:5432", 'match db.internal:5432: rule 3 "db" (host \'db[.]internal\', ports any) -> peers '
                         "peer-a:4443, peer-b:4443 (hash); health failures 1, down_for 30000 ms; "
                         + SETTINGS_UNSET),
])
def test_match_peers(confdir, target, answer):
    write_files(confdir, {"tls_bridge.yaml": PEERS_YAML})
    code, out, err = run("--quiet", "--confdir", confdir, "--match", target, "--config", "tls_bridge.yaml")
    assert (code, out, err) == (0, answer + "\n", "")


def test_match_template_without_valid_peer_exits_1(confdir):
    """A host whose capture makes no valid peer: the plugin would refuse the
    CONNECT (502); the checker says so and exits 1, after every answer."""
    write_files(confdir, {"tls_bridge.yaml": PEERS_YAML + "  - {host: '(.*)[.]two', peer: '$1:4443', name: two}\n"})
    code, out, err = run("--quiet", "--confdir", confdir, "--match", "a_.one", "--match", "10.0.two",
                         "--match", "db.internal", "--config", "tls_bridge.yaml")
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[0].startswith('match a_.one:443: rule 2 "one"')  # '_' is a host name character
    assert lines[1] == ('match 10.0.two:443: rule 4 "two" (host \'(.*)[.]two\', ports any) -> peer none '
                        "(peer template '$1:4443' gave '10.0:4443': host is not a valid IPv4 address); no valid "
                        "peer for this host: a CONNECT would be refused (502)")
    assert lines[2].startswith('match db.internal:443: rule 3 "db"')


def test_reference_peer_lists_and_templates():
    """A peer list or a template in the arguments is an option of this plugin
    only; the rule that holds it differs too."""
    code, out, err = run("--quiet", "--from-reference", "(?i).*[.]a.*", "p:1,q:1", "(?i)(.*)[.]b.*", "$1.gw:1")
    assert (code, err) == (3, "")
    assert out.splitlines() == [
        "plugin.config argument 2 ('p:1,q:1'): a peer list, an option of this plugin only: the reference takes "
        "one peer per rule",
        "plugin.config argument 4 ('$1.gw:1'): a peer template, an option of this plugin only: the reference "
        "takes the peer as written",
        "rule 1 \"plugin.config argument 1\" (host '(?i).*[.]a.*', ports any) -> peers p:1, q:1 (failover):",
        "  peers: several peers (failover), an option of this plugin only: the reference took one peer per "
        "rule, as written",
        "rule 2 \"plugin.config argument 3\" (host '(?i)(.*)[.]b.*', ports any) -> peer template '$1.gw:1':",
        "  peers: a peer template ($1..$9 from the host), an option of this plugin only: the reference took "
        "one peer per rule, as written",
        "differs from the reference: 2 of 2 rules, 2 options it cannot parse",
    ]


@pytest.mark.parametrize("option", ["--health-failures", "--health-down-for"])
def test_reference_health_options(option):
    code, out, _ = run("--quiet", "--from-reference", "(?i).*[.]a.*", "p:1", option, "5")
    assert code == 3
    assert out.splitlines()[0] == ("plugin.config argument 3 ('%s'): an option of this plugin only: the "
                                   "reference cannot parse it" % option)


# ---- engines and TLS settings (issue 14) ---------------------------------------

ENGINES_YAML = """\
engine: direct
tls:
  client_cert: cert.pem
  client_key: key.pem
  verify: true
rules:
  - {name: web, host: 'www[.]example', peer: 'peer:4443'}
  - {name: db, host: 'db[.]example', peer: 'peer:4443', sni: DB.Peer.Example., ca: cadir}
  - {name: legacy, host: 'old[.]example', peer: 'peer:4443', engine: ats}
  - {name: db2, host: 'db2[.]example', peer: 'peer:4443', sni: db.peer.example, ca: cadir}
"""


def write_engine_files(confdir):
    write_files(confdir, dict(TLS_FILES, **{"tls_bridge.yaml": ENGINES_YAML}))
    os.mkdir(os.path.join(confdir, "cadir"))


def test_engines_summary_and_match(confdir):
    write_engine_files(confdir)
    code, out, err = run("--confdir", confdir, "--match", "www.example", "--match", "db.example:5432",
                         "--match", "old.example", "--config", "tls_bridge.yaml")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == ("configuration OK: 4 rules; unmatched CONNECTs left to Traffic Server; %s; engine direct "
                        "by default: 3 rules direct (2 distinct TLS client settings), 1 ats" % DEFAULTS)
    assert lines[1] == ("match www.example:443: rule 1 \"web\" (host 'www[.]example', ports any) -> peer "
                        "peer:4443; %s; engine direct: client_cert '%s/cert.pem', client_key '%s/key.pem', ca "
                        "from Traffic Server's records, sni the peer's host, verify true"
                        % (SETTINGS_UNSET, confdir, confdir))
    assert lines[2] == ("match db.example:5432: rule 2 \"db\" (host 'db[.]example', ports any) -> peer peer:4443; "
                        "%s; engine direct: client_cert '%s/cert.pem', client_key '%s/key.pem', ca '%s/cadir', "
                        "sni 'db.peer.example', verify true" % (SETTINGS_UNSET, confdir, confdir, confdir))
    assert lines[3] == ("match old.example:443: rule 3 \"legacy\" (host 'old[.]example', ports any) -> peer "
                        "peer:4443; %s; engine ats" % SETTINGS_UNSET)


def test_engine_ats_reads_as_before():
    """--engine ats (the default, said aloud): not a word about engines."""
    code, out, err = run("--match", "a", "a", "p:1", "--engine", "ats")
    assert (code, err) == (0, "")
    assert "engine" not in out
    code, out, err = run("--quiet", "--match", "a", "a", "p:1", "--engine", "direct")
    assert (code, err) == (0, "")
    assert out.endswith("; engine direct: client_cert from Traffic Server's records, client_key from Traffic "
                        "Server's records, ca from Traffic Server's records, sni the peer's host, verify from "
                        "Traffic Server's records\n")


def test_reference_engine_option():
    code, out, _ = run("--quiet", "--from-reference", "(?i).*[.]a.*", "p:1", "--engine", "direct")
    assert code == 3
    assert out.splitlines()[0] == ("plugin.config argument 3 ('--engine'): an option of this plugin only: the "
                                   "reference cannot parse it")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the checker as nobody")
def test_unreadable_tls_file_as_another_user():
    """The checker reads as whoever runs it: a key only root may read is an
    error at its key for nobody, as it would be for Traffic Server's user."""
    confdir = tempfile.mkdtemp(prefix="tb-check-")
    try:
        os.chmod(confdir, 0o755)
        write_engine_files(confdir)
        for name in ("tls_bridge.yaml", "cert.pem"):
            os.chmod(os.path.join(confdir, name), 0o644)
        os.chmod(os.path.join(confdir, "key.pem"), 0o600)
        os.chmod(os.path.join(confdir, "cadir"), 0o755)
        assert run("--quiet", "--confdir", confdir, "--config", "tls_bridge.yaml") == (0, "", "")
        p = subprocess.run([CHECK, "--confdir", confdir, "--config", "tls_bridge.yaml"], capture_output=True,
                           text=True, timeout=60, user=65534, group=65534, extra_groups=[])
        assert (p.returncode, p.stdout, p.stderr) == (
            1, "", "%s/tls_bridge.yaml:4:15: client_key '%s/key.pem': cannot open: Permission denied\n"
            % (confdir, confdir))
        os.chmod(os.path.join(confdir, "cadir"), 0o700)  # a CA directory only root may search
        os.chmod(os.path.join(confdir, "key.pem"), 0o644)
        p = subprocess.run([CHECK, "--confdir", confdir, "--config", "tls_bridge.yaml"], capture_output=True,
                           text=True, timeout=60, user=65534, group=65534, extra_groups=[])
        assert (p.returncode, p.stdout, p.stderr) == (
            1, "", "%s/tls_bridge.yaml:8:84: ca '%s/cadir': directory cannot be searched: Permission denied\n"
            % (confdir, confdir))
    finally:
        shutil.rmtree(confdir)


# ---- access control: clients lists, deny rules, the peer role (issue 13) ----

ACL_YAML = """\
rules:
  - {host: 'secret[.]internal', action: deny, name: no-secret}
  - {host: 'db[.]internal', peer: 'pg:5432', name: db, clients: [10.0.0.0/8, '2001:db8::/32']}
"""

DB_ANSWER = ('match db.internal:5432: rule 2 "db" (host \'db[.]internal\', ports any) -> peer pg:5432; '
             "connect_timeout 10000 ms, idle_timeout %s, max_lifetime %s, client_identity keep; clients "
             "10.0.0.0/8,2001:db8::/32" % (LIMIT_UNSET, LIMIT_UNSET))


@pytest.mark.parametrize("client,answer", [
    (None, DB_ANSWER),
    ("10.1.2.3", DB_ANSWER + ": client 10.1.2.3 allowed"),
    ("[2001:db8::5]", DB_ANSWER + ": client 2001:db8::5 allowed"),
    ("::ffff:10.0.0.1", DB_ANSWER + ": client 10.0.0.1 allowed"),
    ("192.0.2.1", DB_ANSWER + ": client 192.0.2.1 refused (403)"),
])
def test_match_with_a_client(confdir, client, answer):
    """A refusal by a clients list is an answer (exit 0), as the plugin's."""
    write_files(confdir, {"tls_bridge.yaml": ACL_YAML})
    extra = ["--client", client] if client else []
    code, out, err = run("--quiet", "--confdir", confdir, *extra, "--match", "db.internal:5432",
                         "--config", "tls_bridge.yaml")
    assert (code, out, err) == (0, answer + "\n", "")


def test_match_deny_rule_and_summary(confdir):
    write_files(confdir, {"tls_bridge.yaml": ACL_YAML})
    code, out, err = run("--confdir", confdir, "--match", "secret.internal:22", "--config", "tls_bridge.yaml")
    assert (code, err) == (0, "")
    summary, answer = out.splitlines()
    assert summary.endswith("; access: 1 deny rule, 1 rule with a clients list"), summary
    assert answer == ('match secret.internal:22: rule 1 "no-secret" (host \'secret[.]internal\', ports any): '
                      "action deny: refused (403)")


PEER_YAML = """\
role: peer
policy:
  - name: branch-1
    identity: branch-1[.]corp[.]example
    allow: [{host: 'db[.]internal', ports: 5432}]
    deny: ['admin[.]internal']
  - identity: 'spiffe://corp[.]example/ingress/branch-2'
    allow: ['web[.]internal']
"""


def test_peer_role_summary_and_answers(confdir):
    write_files(confdir, {"peer.yaml": PEER_YAML})
    code, out, err = run("--confdir", confdir, "--identity", "branch-1.corp.example", "--match", "db.internal:5432",
                         "--match", "db.internal:22", "--match", "admin.internal", "--config", "peer.yaml")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "configuration OK: role peer: 2 policy entries (2 allow and 1 deny target); CONNECTs over TLS are "
        "authorised by the client certificate's names, others refused (403)",
        'authz name:branch-1.corp.example -> db.internal:5432: allowed: policy entry 1 "branch-1" (identity '
        "'branch-1[.]corp[.]example' matched name:branch-1.corp.example), allow target 1 (host 'db[.]internal', "
        "ports 5432)",
        'authz name:branch-1.corp.example -> db.internal:22: refused (403, target_not_allowed): policy entry 1 '
        "\"branch-1\" (identity 'branch-1[.]corp[.]example' matched name:branch-1.corp.example), allows no target "
        "for this host and port (1 allow target)",
        'authz name:branch-1.corp.example -> admin.internal:443: refused (403, target_not_allowed): policy entry 1 '
        "\"branch-1\" (identity 'branch-1[.]corp[.]example' matched name:branch-1.corp.example), deny target 1 "
        "(host 'admin[.]internal', ports any)",
    ]
    # several names: the first entry any of them matches decides
    code, out, err = run("--quiet", "--confdir", confdir, "--identity", "other", "--identity",
                         "spiffe://corp.example/ingress/branch-2", "--match", "web.internal:8443",
                         "--config", "peer.yaml")
    assert (code, err) == (0, "")
    assert out.startswith("authz name:other name:spiffe://corp.example/ingress/branch-2 -> web.internal:8443: "
                          'allowed: policy entry 2 "'), out
    code, out, err = run("--quiet", "--confdir", confdir, "--identity", "nobody", "--match", "web.internal",
                         "--config", "peer.yaml")
    assert (code, out, err) == (0, "authz name:nobody -> web.internal:443: refused (403, unknown_identity): no "
                                   "policy entry's identity matches\n", "")


def make_cert(directory, name, san):
    """A self-signed certificate with subjectAltName san, PEM and DER."""
    key, pem, der = (os.path.join(directory, name + ext) for ext in (".key", ".pem", ".der"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", pem, "-days", "1", "-subj", "/CN=" + name, "-addext",
                    "subjectAltName=" + san], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-in", pem, "-outform", "DER", "-out", der], check=True,
                   capture_output=True)
    return pem, der


def test_peer_role_cert(confdir):
    """--cert reads a certificate's names as the plugin reads the TLS client's."""
    write_files(confdir, {"peer.yaml": PEER_YAML})
    pem, der = make_cert(confdir, "b2", "URI:spiffe://corp.example/ingress/branch-2,DNS:*.corp.example")
    for path in (pem, der):
        code, out, err = run("--quiet", "--confdir", confdir, "--cert", path, "--match", "web.internal",
                             "--config", "peer.yaml")
        assert (code, err) == (0, "")
        assert out.startswith("authz dns:*.corp.example uri:spiffe://corp.example/ingress/branch-2 cn:b2 -> "
                              "web.internal:443: allowed: policy entry 2"), out
    bad = os.path.join(confdir, "bad.pem")
    write_files(confdir, {"bad.pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"})
    code, out, err = run("--quiet", "--confdir", confdir, "--cert", bad, "--match", "web.internal",
                         "--config", "peer.yaml")
    assert (code, out, err) == (1, "", PROG_PREFIX + "--cert %s: no PEM certificate in it\n" % bad)
    code, out, err = run("--quiet", "--confdir", confdir, "--cert", "/nonexistent.pem", "--match", "web.internal",
                         "--config", "peer.yaml")
    assert (code, out, err) == (1, "", PROG_PREFIX + "--cert /nonexistent.pem: cannot open it\n")


PROG_PREFIX = "tls_bridge_check: "


@pytest.mark.parametrize("args,words", [
    (["--match", "web.internal"], "--match on a peer-role configuration needs the client's names"),
    (["--client", "10.0.0.1", "--match", "web.internal"], "--client is for an ingress configuration"),
    (["--identity", "tab\there", "--match", "web.internal"],
     "--identity 'tab\\x09here': a certificate could not carry it (name with a control character)"),
])
def test_peer_role_usage_errors(confdir, args, words):
    write_files(confdir, {"peer.yaml": PEER_YAML})
    code, out, err = run("--quiet", "--confdir", confdir, *args, "--config", "peer.yaml")
    assert code == 2 and out == "", (code, out, err)
    assert err.startswith(PROG_PREFIX + words), err


@pytest.mark.parametrize("args,words", [
    (["--client", "lan", "--", "a", "p"], "--client: expected an IPv4 or IPv6 address, got 'lan'"),
    (["--client"], "--client: expected an IPv4 or IPv6 address, got ''"),
    (["--identity"], "--identity needs a NAME"),
    (["--cert", "", "--", "a", "p"], "--cert needs a FILE"),
    (["--identity", "x", "--match", "a", "--", "a", "p"],
     "--identity and --cert are for a peer-role configuration"),
])
def test_access_usage_errors(args, words):
    """(An option takes the next argument as its value, '--' included, as
    --match and --confdir do.)"""
    code, out, err = run("--quiet", *args)
    assert code == 2 and out == "", (code, out, err)
    assert err.startswith(PROG_PREFIX + words), err


def test_peer_role_from_reference(confdir):
    write_files(confdir, {"peer.yaml": PEER_YAML})
    code, out, err = run("--quiet", "--confdir", confdir, "--from-reference", "--config", "peer.yaml")
    assert (code, out, err) == (3, "role peer: the reference runs on the ingress only; it has no peer role to "
                                   "compare with\n", "")
