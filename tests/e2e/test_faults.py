"""Fault injection on a real ingress: a peer that misbehaves in every way the
bridge must survive, and a real peer or service that dies mid-transfer.

Two rigs, one per kind, each with its own ingress (so a crash or a leak is
attributed to this file, and the shared session instances are not touched):

- fault rig: a FakePeer (tests/e2e/fakepeer.py, a TLS server this file
  controls, with the peer's certificate for peer.test and requiring the
  ingress's client certificate) behind the rule fault[.]test; the standard
  rules (service.internal through the session's real peer) follow it, so
  "the ingress still bridges" is checked through the real peer as well.
  The ingress runs --pool 0 --connect-timeout 2 (our plugin only).
- peer rig: a peer ATS of its own (killed and restarted here) behind the rule
  own[.]internal, and a service that resets its connection mid-transfer.

Every test checks what docs/reference.md "What the client sees" promises (status,
X-TLS-Bridge-Error on our own answers, how fast, no hang), that the ingress
process is the same one afterwards and still bridges, and that its fd count
and RSS come back near a baseline taken just before the scenario.

Why --pool 0 for the fd check: with warm connections the ingress keeps up
to N idle TLS connections per peer and event thread, opened and retired on
their own schedule (and refilled with back-off while a peer fails), so its
fd count moves by up to 2 x N for reasons unrelated to the scenario.  With
the pool off, every fd a scenario opens must be closed again, and a slack of
FD_SLACK fds (for files and sockets ATS itself opens lazily) is tight enough
that a leak of one fd per failed tunnel shows: fast scenarios are repeated
REPS times and slow ones run CONCURRENT clients.  The pool path under faults
is checked for statuses only (test_faults_over_warm_connections).

The baseline is the fd count at rest (steady_fds): the lowest count seen at
rest on that ingress, or a count that has not moved for 2 s.  A tunnel
closed with a FIN can stay open about 1.3 s (docs/reference.md, Limits), so the
checks between scenarios (a good tunnel, a GET through the real peer) end
their connections with a reset, which ends a tunnel at once.

RSS: ATS keeps freed memory on its freelists, so RSS does not shrink back;
after the rig's warm-up (which runs every fault once) a scenario must not
grow it by more than RSS_SLACK_KIB.

Each scenario's observed outcome is printed (pytest -s, and the "tls_bridge
measurements" summary) and, with TB_E2E_FAULTS_TABLE=path, written there as
a Markdown table."""

import os
import select
import signal
import socket
import threading
import time

import pytest

import fakepeer
import harness
from harness import LOOPBACK4, PEER_HOST, SERVICE_HOST, WaitTimeout, open_tunnel, wait_until
from tbtest.wait import poll, wait_steady

try:
    from conftest import note_instances, plugin_is_reference
except ImportError:  # pragma: no cover - conftest always importable under pytest
    def note_instances(request, *instances):
        pass

    def plugin_is_reference():
        return False

FAULT_HOST = "fault.test"    # routed to the fake peer; resolves nowhere
OWN_HOST = "own.internal"    # routed to the peer rig's own peer; resolves there only
CONNECT_TIMEOUT = 2          # --connect-timeout of the fault rig (s)
QUICK = 1.0                  # "at once": an answer later than this is a failure
FD_SLACK = 2
# Under AddressSanitizer RSS grows with every allocation (harness.UNDER_ASAN;
# measured: up to 5 MiB in one scenario here) and says nothing about leaks.
RSS_SLACK_KIB = (64 if harness.UNDER_ASAN else 6) * 1024
REPS = 8                     # repetitions of each fast scenario
CONCURRENT = 3               # simultaneous clients in the timeout scenarios
END_BOUND = 5.0              # a tunnel whose other end died must end within this (s)

OUTCOMES = []


# --------------------------------------------------------------------------
# Measurement helpers.


_IDLE_FDS = {}  # ingress pid -> the lowest fd count seen at rest


def steady_fds(inst, window=2.0, timeout=8.0):
    """The ingress's fd count at rest.  At once when it is at the lowest
    count seen at rest before (the usual case); else once it has not changed
    for `window` seconds (connections of the previous scenario can take a
    second or two to close: a tunnel may end only about 1 s after one side
    closed, checked on a timer, and ATS closes some sockets late); the lowest
    count seen if it never settles within timeout."""
    idle = _IDLE_FDS.get(inst.pid)
    result = wait_steady(inst.fd_count, window, timeout,
                         good=lambda n: idle is not None and n <= idle)
    _IDLE_FDS[inst.pid] = result if idle is None else min(idle, result)
    return result


def fds_back(inst, base, timeout=8.0, exact_for=3.0):
    """Poll until the fd count is back to base (closes are asynchronous),
    giving up on exactly base after exact_for seconds and then waiting only
    until it is within FD_SLACK of base; returns the last count."""
    t0 = time.monotonic()
    return poll(inst.fd_count, lambda n: n <= base or (n <= base + FD_SLACK
                                                       and time.monotonic() - t0 >= exact_for),
                timeout)


class Scenario:
    """with Scenario(name, ingress, measure) as sc: <the scenario>.

    On entry the ingress's fd count and RSS are taken (the baseline).  On
    exit the outcome row is recorded whatever happened, so a scenario that
    fails is in the table too; and if the scenario itself passed, the
    ingress must be the same live process, its fd count back within
    FD_SLACK of the baseline (polled) and its RSS grown by less than
    RSS_SLACK_KIB.  resources=False skips the fd/RSS part."""

    def __init__(self, name, ingress, measure, resources=True):
        self.name = name
        self.ing = ingress
        self.measure = measure
        self.resources = resources
        self.pid = ingress.pid
        self.fd0 = steady_fds(ingress) if resources else None
        self.rss0 = ingress.rss_kib() if resources else None
        self.answer = "-"
        self.error_header = "-"
        self.seconds = None
        self.note = ""

    def saw(self, resp=None, seconds=None, answer=None, note=None):
        """What the client saw (the first, or the first unexpected, answer)."""
        if resp is not None:
            self.answer = "%d %s" % (resp.status, resp.reason)
            err = resp.header("X-TLS-Bridge-Error")
            self.error_header = "yes" if err else "no"
            self.note = err or ""
        if answer is not None:
            self.answer = answer
        if seconds is not None:
            self.seconds = seconds
        if note is not None:
            self.note = note

    def __enter__(self):
        return self

    def __exit__(self, etype, exc, tb):
        alive = self.ing.alive() and self.ing.pid == self.pid
        problems = []
        if not alive:
            problems.append("ingress died (exit %s)" % self.ing.process.returncode())
        fds = rss = None
        if self.resources and alive:
            fds = fds_back(self.ing, self.fd0, timeout=8.0 if etype is None else 3.0)
            rss = self.ing.rss_kib()
            if fds > self.fd0 + FD_SLACK:
                problems.append("ingress fd count %d, baseline %d: connections leaked"
                                % (fds, self.fd0))
            if rss - self.rss0 >= RSS_SLACK_KIB:
                problems.append("ingress RSS grew by %d KiB (%d -> %d)"
                                % (rss - self.rss0, self.rss0, rss))
        if etype is not None:
            verdict = "FAILED: %s" % (str(exc).strip().splitlines() or [etype.__name__])[0]
        elif problems:
            verdict = "FAILED: %s" % "; ".join(problems)
        else:
            verdict = "as documented"
        row = {"scenario": self.name, "answer": self.answer, "header": self.error_header,
               "seconds": "-" if self.seconds is None else "%.2f" % self.seconds,
               "fds": "-" if fds is None else "%d -> %d" % (self.fd0, fds),
               "rss": "-" if rss is None else "%d -> %d" % (self.rss0, rss),
               "alive": "yes" if alive else "NO (exit %s)" % self.ing.process.returncode(),
               "verdict": verdict, "note": self.note}
        OUTCOMES.append(row)
        self.measure("%(scenario)s: client got %(answer)s, X-TLS-Bridge-Error %(header)s, "
                     "after %(seconds)s s; ingress fds %(fds)s, RSS KiB %(rss)s, alive %(alive)s;"
                     " %(verdict)s%(note_s)s"
                     % dict(row, note_s=("; " + row["note"]) if row["note"] else ""))
        if etype is None and problems:
            raise AssertionError("; ".join(problems) + "\n" + self.ing.log_tail(40))
        return False


def write_table():
    path = os.environ.get("TB_E2E_FAULTS_TABLE")
    if not path or not OUTCOMES:
        return
    cols = [("scenario", "scenario"), ("answer", "client got"), ("header", "X-TLS-Bridge-Error"),
            ("seconds", "time to answer / to the end (s)"), ("fds", "ingress fds before -> after"),
            ("rss", "ingress RSS KiB before -> after"), ("alive", "ingress alive"),
            ("verdict", "verdict"), ("note", "detail")]
    with open(path, "w") as f:
        f.write("| %s |\n" % " | ".join(c[1] for c in cols))
        f.write("|" + "---|" * len(cols) + "\n")
        for row in OUTCOMES:
            f.write("| %s |\n" % " | ".join(str(row[c[0]]).replace("|", "\\|") for c in cols))


@pytest.fixture(scope="module", autouse=True)
def _outcome_table():
    yield
    write_table()


def check_own_answer(resp, status, peer_name, words=()):
    """An answer the plugin wrote itself: the status, an
    X-TLS-Bridge-Error header naming the peer (and words), and a complete
    response (no client left waiting for a body)."""
    err = resp.header("X-TLS-Bridge-Error")
    assert resp.status == status, "got %d %s, expected %d (X-TLS-Bridge-Error: %s)" \
        % (resp.status, resp.reason, status, err)
    assert err, "no X-TLS-Bridge-Error header: %r" % (resp,)
    assert peer_name in err, "X-TLS-Bridge-Error does not name the peer %s: %r" % (peer_name, err)
    for w in words:
        assert w in err, "X-TLS-Bridge-Error does not say %r: %r" % (w, err)
    assert resp.body_complete, "incomplete answer: %r" % (resp,)


def parallel(fn, n):
    """Run fn(i) in n threads at once; their results (or exceptions) in order."""
    out = [None] * n

    def run(i):
        try:
            out[i] = fn(i)
        except BaseException as e:  # reported by the caller
            out[i] = e

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


class PrefixChecker:
    """Checks that the bytes fed are a prefix of harness.random_stream(n, seed)
    (chunked as the source server does)."""

    def __init__(self, nbytes, seed):
        self.gen = harness.random_stream(nbytes, seed, chunk=256 << 10)
        self.ahead = b""
        self.seen = 0
        self.ok = True

    def feed(self, data):
        while self.ok and data:
            if not self.ahead:
                self.ahead = next(self.gen, b"")
                if not self.ahead:
                    self.ok = False  # more bytes than were ever sent
                    return False
            k = min(len(data), len(self.ahead))
            if data[:k] != self.ahead[:k]:
                self.ok = False
                return False
            data, self.ahead = data[k:], self.ahead[k:]
            self.seen += k
        return self.ok


def read_to_end(sock, checker, timeout):
    """Read until EOF or reset, feeding checker; (how, bytes, seconds)."""
    t0 = time.monotonic()
    n = 0
    deadline = t0 + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout", n, time.monotonic() - t0
        sock.settimeout(left)
        try:
            data = sock.recv(1 << 20)
        except socket.timeout:
            return "timeout", n, time.monotonic() - t0
        except ConnectionResetError:
            return "reset", n, time.monotonic() - t0
        if not data:
            return "eof", n, time.monotonic() - t0
        n += len(data)
        if checker is not None:
            checker.feed(data)


def still_bridges(d, ingress):
    """A GET to nginx through the session's real peer works (as
    Deployment.probe_bridged, but the client resets the connection at the
    end, for the reason given in FaultRig.good_tunnel)."""
    t = open_tunnel(ingress.port, SERVICE_HOST, d.ports["nginx_http"], timeout=10)
    try:
        assert t.status == 200, t.response
        status, body = harness.http_get_through(t, SERVICE_HOST, "/index.html", timeout=10)
        assert (status, body) == (200, d.page), "GET through the real peer: %d %r" \
            % (status, body[:200])
    finally:
        t.close(rst=True)


# --------------------------------------------------------------------------
# The fault rig: fake peer + ingress.


class FaultRig:
    def __init__(self, d, fake, ingress):
        self.d = d
        self.fake = fake
        self.ing = ingress
        self.peer_name = "%s:%d" % (PEER_HOST, fake.port)

    def connect(self, timeout=15.0, **kw):
        return open_tunnel(self.ing.port, FAULT_HOST, self.d.ports["echo"], timeout=timeout, **kw)

    def answer(self, timeout=15.0):
        """One CONNECT fault.test: (response, seconds to the header); the
        client's connection is closed afterwards."""
        with self.connect(timeout=timeout) as t:
            return t.response, t.header_elapsed

    def good_tunnel(self, msg=b"still bridging\n"):
        """A normal tunnel through the fake peer (mode ok) echoes.  The
        client then resets the connection: an error ends a tunnel at once,
        whereas after a FIN it may stay open up to about 1.3 s (docs/reference.md,
        Limits), which would blur the next scenario's fd baseline."""
        self.fake.set_mode(fakepeer.OK, close_after=len(msg))
        t = self.connect(timeout=10)
        try:
            assert t.status == 200, t.response
            t.sendall(msg)
            assert t.recv_exact(len(msg)) == msg
        finally:
            t.close(rst=True)

    def check_still_bridges(self):
        self.good_tunnel()
        still_bridges(self.d, self.ing)

    def start(self):
        self.ing.start()
        self.d.wait_bridged(self.ing)


def _warm_up(rig):
    """Every fault once (first-use allocations are not a leak), then normal
    tunnels through both peers."""
    f = rig.fake
    for mode, params in [(fakepeer.MALFORMED_STATUS, {}), (fakepeer.NOT_HTTP, {}),
                         (fakepeer.ENDLESS_HEADER, {}), (fakepeer.REFUSE, {}),
                         (fakepeer.CLOSE_MID_HEADER, {}), (fakepeer.EARLY_DATA, {}),
                         (fakepeer.SLOW_HEADER, {"delay": 0.001})]:
        f.set_mode(mode, **params)
        try:
            rig.answer(timeout=10)
        except (OSError, harness.ProtocolError):
            pass
    for i in range(3):
        rig.good_tunnel()
        still_bridges(rig.d, rig.ing)
    f.wait_idle(5)
    steady_fds(rig.ing, window=2.0, timeout=10.0)


@pytest.fixture(scope="module")
def fault_rig(deployment):
    d = deployment
    fake = fakepeer.FakePeer(d.certs, name="fakepeer")
    args = ["--pool", "0", "--connect-timeout", str(CONNECT_TIMEOUT),
            r"fault[.]test", "%s:%d" % (PEER_HOST, fake.port)] + d.rules()
    ing = d.new_ingress(name="ingress-faults", plugin_args=args,
                        connect_ports=d.ingress_connect_ports() + [fake.port])
    rig = FaultRig(d, fake, ing)
    try:
        rig.start()
        _warm_up(rig)
        yield rig
    finally:
        ing.stop()
        fake.stop()


@pytest.fixture
def faults(request, bridge, fault_rig):
    """The fault rig for one test: restarted if an earlier test killed its
    ingress; fake peer back in mode ok with a clean record."""
    rig = fault_rig
    note_instances(request, rig.ing)
    if not rig.ing.alive():
        rig.ing.stop()
        rig.start()
    rig.fake.set_mode(fakepeer.OK)
    rig.fake.wait_idle(5)
    rig.fake.reset()
    return rig


def _bad_answer_case(rig, measure, name, mode, status=502, words=(), **params):
    """REPS CONNECTs against a fake peer in `mode`: each gets our own answer
    `status` at once, naming the peer; the fake peer got every CONNECT and
    the ingress closed every connection to it; then the usual after-checks.
    Stops at the first unexpected answer (and records it)."""
    rig.fake.set_mode(mode, **params)
    with Scenario(name, rig.ing, measure) as sc:
        for i in range(REPS):
            resp, secs = rig.answer()
            if i == 0 or resp.status != status or secs >= QUICK:
                sc.saw(resp, secs)
                if i:
                    sc.note = "attempt %d of %d: %s" % (i + 1, REPS, sc.note)
            check_own_answer(resp, status, rig.peer_name, words)
            assert secs < QUICK, "attempt %d: %d after %.2f s" % (i + 1, status, secs)
        conns = list(rig.fake.conns)
        assert len(rig.fake.requests) == REPS, \
            "the fake peer got %d CONNECTs for %d clients: %r" \
            % (len(rig.fake.requests), REPS, conns)
        assert rig.fake.wait_idle(5), "the ingress kept connections to the fake peer open: %r" \
            % [c for c in rig.fake.conns if c.ended_at is None]
    rig.check_still_bridges()
    return conns


# --------------------------------------------------------------------------
# Fault rig tests.


@pytest.mark.our_plugin_only
def test_fake_peer_sees_the_clients_connect(faults, measure):
    """Mode ok: the fake peer's record of the CONNECT it received is the
    client's CONNECT fault.test:<port> (request line and Host; a header the
    client added is passed on), over TLS with SNI peer.test and the ingress's
    client certificate; the tunnel echoes."""
    rig = faults
    with rig.connect(extra_headers=["X-Fault-Trace: 1234"]) as t:
        assert t.status == 200, t.response
        t.sendall(b"hello\n")
        assert t.recv_exact(6) == b"hello\n"
    reqs = rig.fake.wait_requests(1)
    assert len(reqs) == 1, rig.fake.conns
    req = reqs[0]
    target = "%s:%d" % (FAULT_HOST, rig.d.ports["echo"])
    measure("fake peer saw: %r" % (req,))
    assert req.line == "CONNECT %s HTTP/1.1" % target, req
    assert req.header("Host") == target, req
    assert req.header("X-Fault-Trace") == "1234", req
    conn = rig.fake.conns[0]
    assert conn.handshake == "ok" and conn.sni == PEER_HOST, conn
    assert conn.client_cert_cn == "ingress.test", conn


@pytest.mark.our_plugin_only
def test_malformed_status_line_gives_502(faults, measure):
    """(a) The fake peer answers 'HTTP/1.1 2O0 Connection established' (a
    letter in the status code) and keeps the connection open: 502 at once
    with X-TLS-Bridge-Error naming the peer ('not HTTP'), REPS times."""
    _bad_answer_case(faults, measure, "(a) malformed status line", fakepeer.MALFORMED_STATUS,
                     words=("not HTTP",))


@pytest.mark.our_plugin_only
def test_bytes_that_are_not_http_give_502(faults, measure):
    """(b) The fake peer answers with an SSH banner and binary bytes: 502 at
    once with X-TLS-Bridge-Error naming the peer, REPS times."""
    _bad_answer_case(faults, measure, "(b) bytes that are not HTTP", fakepeer.NOT_HTTP,
                     words=("not HTTP",))


@pytest.mark.our_plugin_only
def test_endless_header_gives_502(faults, measure):
    """(d) The fake peer sends a 200 status line and then header lines
    without end (up to 4 MiB): 502 at once (the 16 KiB bound), and the
    ingress drops the connection, so the fake peer could not send its 4 MiB."""
    conns = _bad_answer_case(faults, measure, "(d) endless header past 16 KiB",
                             fakepeer.ENDLESS_HEADER, words=("16384",))
    sent = [c.sent for c in conns]
    measure("endless header: the fake peer got to send %s bytes before the ingress closed"
            % sent)
    assert all(s > 16384 for s in sent), sent
    assert all(s < (4 << 20) for s in sent), "the ingress read on past the bound: %s" % sent


@pytest.mark.parametrize("how", ["fin", "close_notify", "rst"])
@pytest.mark.our_plugin_only
def test_close_in_the_middle_of_the_header_gives_502(faults, measure, how):
    """(i) The fake peer sends half a 200 header and closes (TCP FIN without
    a TLS close_notify, a clean close_notify, or a TCP RST): the peer closed
    before answering, so 502 at once with X-TLS-Bridge-Error naming the
    peer, REPS times."""
    _bad_answer_case(faults, measure, "(i) close mid-header (%s)" % how,
                     fakepeer.CLOSE_MID_HEADER, how=how)


@pytest.mark.our_plugin_only
def test_close_before_any_answer_byte_gives_502(faults, measure):
    """(i, the limit case) The fake peer reads the CONNECT and closes (FIN)
    without sending a byte: 502 at once naming the peer, REPS times."""
    _bad_answer_case(faults, measure, "(i0) close before any answer byte (fin)",
                     fakepeer.CLOSE_MID_HEADER, how="fin", payload=b"")


@pytest.mark.our_plugin_only
def test_header_one_byte_at_a_time_succeeds(faults, measure):
    """(c) The fake peer sends its 200 header one byte per TLS record, 20 ms
    apart (about 0.75 s in all, under the 2 s connect timeout): the client
    gets 200 no sooner than the trickle takes, and the tunnel echoes.  Two
    clients at once."""
    rig = faults
    delay = 0.02
    min_secs = (len(fakepeer.SLOW_HEADER_BYTES) - 1) * delay
    rig.fake.set_mode(fakepeer.SLOW_HEADER, delay=delay, close_after=7)

    def one(i):
        with rig.connect(timeout=15) as t:
            msg = b"slow %d\n" % i
            echoed = None
            if t.status == 200:
                t.sendall(msg)
                echoed = t.recv_exact(len(msg))
            return t.response, t.header_elapsed, echoed == msg

    with Scenario("(c) header one byte at a time, within the timeout", rig.ing, measure) as sc:
        results = parallel(one, 2)
        for r in results:
            assert not isinstance(r, BaseException), results
        sc.saw(results[0][0], results[0][1], note="2 clients at once, %.2f s and %.2f s; "
               "both echo" % (results[0][1], results[1][1]))
        for resp, secs, echoed in results:
            assert resp.status == 200, resp
            assert resp.header("X-Fake-Peer") == "slow", resp
            assert min_secs * 0.9 <= secs < CONNECT_TIMEOUT, "200 after %.2f s" % secs
            assert echoed
    rig.check_still_bridges()


@pytest.mark.our_plugin_only
def test_header_trickling_past_the_timeout_gives_504(faults, measure):
    """(c, the other side of it) The same trickle at 100 ms a byte would take
    about 3.7 s: the connect timeout (2 s) is not reset by each byte, so the
    client gets 504 after about 2 s."""
    rig = faults
    rig.fake.set_mode(fakepeer.SLOW_HEADER, delay=0.1)
    with Scenario("(c') header one byte at a time, past the timeout", rig.ing, measure) as sc:
        resp, secs = rig.answer()
        sc.saw(resp, secs)
        check_own_answer(resp, 504, rig.peer_name, ("did not answer",))
        assert CONNECT_TIMEOUT - 0.3 <= secs <= CONNECT_TIMEOUT + 3, "504 after %.2f s" % secs
        assert rig.fake.wait_idle(5), rig.fake.conns
    rig.check_still_bridges()


@pytest.mark.our_plugin_only
def test_tunnel_bytes_in_the_same_record_as_the_200(faults, measure):
    """(e) The fake peer sends its 200 and tunnel bytes in one write (one TLS
    record, one TCP segment on loopback): 1, 100, 4000 and 15000 bytes, each
    REPS/2 times.  The client gets 200 and exactly those bytes, then the
    tunnel echoes."""
    rig = faults
    with Scenario("(e) 200 + tunnel bytes in one packet", rig.ing, measure) as sc:
        for size in (1, 100, 4000, 15000):
            for i in range(REPS // 2):
                data = (b"%d/%d:" % (size, i) + os.urandom(size))[:size]
                rig.fake.set_mode(fakepeer.EARLY_DATA, data=data, close_after=6)
                with rig.connect(timeout=10) as t:
                    if sc.seconds is None:
                        sc.saw(t.response, t.header_elapsed)
                    assert t.status == 200, t.response
                    got = t.recv_exact(len(data))
                    assert got == data, "size %d, attempt %d: got %d different bytes" \
                        % (size, i, len(got))
                    t.sendall(b"after\n")
                    assert t.recv_exact(6) == b"after\n"
        sc.note = "1/100/4000/15000 early bytes, each %d times: all exact" % (REPS // 2)
    rig.check_still_bridges()


@pytest.mark.parametrize("status,reason", [(403, "Forbidden By Fake Peer"),
                                           (503, "Fake Peer Unavailable")])
@pytest.mark.our_plugin_only
def test_peer_refusal_with_a_body_is_relayed(faults, measure, status, reason):
    """(f) The fake peer answers a non-2xx with a reason of its own and a
    body: the client gets that status and reason at once, with
    X-TLS-Bridge-Error naming the peer, a complete answer and none of the
    peer's body (ATS 9.2 would drop a CONNECT answer's body and leave the
    client waiting); REPS times."""
    rig = faults
    rig.fake.set_mode(fakepeer.REFUSE, status=status, reason=reason)
    with Scenario("(f) peer answers %d with a body" % status, rig.ing, measure) as sc:
        for i in range(REPS):
            resp, secs = rig.answer()
            if i == 0 or resp.status != status:
                sc.saw(resp, secs)
            check_own_answer(resp, status, rig.peer_name, ("refused",))
            assert resp.reason == reason, resp
            assert fakepeer.REFUSE_BODY not in resp.body, resp
            assert secs < QUICK, "answer after %.2f s" % secs
        assert rig.fake.wait_idle(5), rig.fake.conns
    rig.check_still_bridges()


def _timeout_case(rig, measure, name, mode):
    rig.fake.set_mode(mode)
    with Scenario(name, rig.ing, measure) as sc:
        results = parallel(lambda i: rig.answer(timeout=CONNECT_TIMEOUT + 10), CONCURRENT)
        for r in results:
            assert not isinstance(r, BaseException), results
        sc.saw(*results[0])
        sc.note = "%d clients at once: %s s; %s" % (
            CONCURRENT, "/".join("%.2f" % secs for _, secs in results), sc.note)
        for resp, secs in results:
            check_own_answer(resp, 504, rig.peer_name, ("did not answer",))
            assert CONNECT_TIMEOUT - 0.3 <= secs <= CONNECT_TIMEOUT + 3, \
                "504 after %.2f s" % secs
        assert len(rig.fake.conns) == CONCURRENT, rig.fake.conns
        bound = harness.ATS.abandoned_handshake_s() if mode == fakepeer.TLS_STALL else 5
        assert rig.fake.wait_idle(bound), "the ingress kept connections to the fake peer open: %r" \
            % rig.fake.conns
    rig.check_still_bridges()
    return results


@pytest.mark.our_plugin_only
def test_peer_that_never_answers_gives_504(faults, measure):
    """(g) The fake peer completes TLS, reads the CONNECT and says nothing at
    all: with --connect-timeout 2, each of 3 simultaneous clients gets 504
    after about 2 s, naming the peer; the ingress then drops its connections
    to the fake peer."""
    _timeout_case(faults, measure, "(g) peer silent after the CONNECT", fakepeer.SILENT)
    assert all(c.request is not None for c in faults.fake.conns), faults.fake.conns


@pytest.mark.our_plugin_only
def test_tls_handshake_that_never_completes_gives_504(faults, measure):
    """(h) The fake peer accepts TCP and never answers the ClientHello: the
    peer does not answer within --connect-timeout 2, so each of 3
    simultaneous clients gets 504 after about 2 s, naming the peer; the
    ingress drops its connections to the fake peer (9.x at once, 10.x at
    Traffic Server's own no-activity timeout: harness.ATS.abandoned_handshake_s)."""
    _timeout_case(faults, measure, "(h) TLS handshake never completes", fakepeer.TLS_STALL)


@pytest.mark.our_plugin_only
def test_faults_over_warm_connections(ingress_factory, measure):
    """The same bad answers when the CONNECT goes over a warm pooled
    connection (--pool 2): statuses only (see the module docstring for why
    fds are not compared here).  After a first good tunnel has put the peer
    in use, each fault gets the same answer as without the pool, each case
    sent once the fake peer holds 2 warm connections, and a good tunnel
    works afterwards; at least 3 of these 9 tunnels went over a warm
    connection (pool.warm_used: the ingress is declared ready by a CONNECT
    that matches no rule, so only this test's tunnels count)."""
    d = ingress_factory.d
    fake = fakepeer.FakePeer(d.certs, name="fakepeer-pool")
    try:
        args = ["--pool", "2", "--connect-timeout", str(CONNECT_TIMEOUT),
                r"fault[.]test", "%s:%d" % (PEER_HOST, fake.port)] + d.rules()
        ing = ingress_factory.start(name="ingress-faults-pool", plugin_args=args,
                                    connect_ports=d.ingress_connect_ports() + [fake.port],
                                    extra_plugin_lines=["stats_over_http.so"], ready="direct")
        rig = FaultRig(d, fake, ing)
        rig.good_tunnel()
        cases = [(fakepeer.MALFORMED_STATUS, {}, 502), (fakepeer.NOT_HTTP, {}, 502),
                 (fakepeer.ENDLESS_HEADER, {}, 502), (fakepeer.CLOSE_MID_HEADER, {}, 502),
                 (fakepeer.CLOSE_MID_HEADER, {"payload": b""}, 502),
                 (fakepeer.REFUSE, {}, 403), (fakepeer.SILENT, {}, 504)]
        with Scenario("faults over warm connections (--pool 2)", ing, measure,
                      resources=False) as sc:
            seen = []
            for mode, params, want in cases:
                wait_until(lambda: fake.warm_count() >= 2, 10,
                           "2 warm connections at the fake peer")
                fake.set_mode(mode, **params)
                resp, secs = rig.answer()
                seen.append("%s%s %d %.2fs" % (mode, " (no byte)" if "payload" in params else "",
                                               resp.status, secs))
                sc.saw(answer="as expected" if resp.status == want else "%d for %s"
                       % (resp.status, mode), note=", ".join(seen))
                check_own_answer(resp, want, rig.peer_name)
                assert secs < (QUICK if want != 504 else CONNECT_TIMEOUT + 3), seen
            rig.good_tunnel()
            got = ing.wait_metrics({"tunnels.started": (len(cases) + 2,),
                                    "tunnels.active": (0,)})
            warm = got.get("pool.warm_used", 0)
            sc.note += "; %d tunnels used a warm connection" % warm
            assert got.get("tunnels.started") == len(cases) + 2, got
            assert warm >= 3, "only %d tunnels used a warm connection: %r" % (warm, got)
    finally:
        fake.stop()


# --------------------------------------------------------------------------
# The peer rig: a real peer of its own, killed and restarted; a service
# that resets.


def _rst_service(conn, server):
    """'RST <nbytes> <seed> <seconds>\n': send the seeded stream for
    `seconds` (as much of nbytes as the connection takes: a client that does
    not read stalls it), then reset the connection (SO_LINGER 0: whatever
    is still in the send queue is dropped).  Records bytes handed to the
    kernel and the time of the reset."""
    line = harness._recv_line(conn).split()
    nbytes, seed, secs = int(line[1]), int(line[2]), float(line[3])
    sent = 0
    deadline = time.monotonic() + secs
    chunks = harness.random_stream(nbytes, seed, chunk=256 << 10)
    pending = b""
    conn.setblocking(False)
    try:
        while time.monotonic() < deadline:
            if not pending:
                pending = next(chunks, b"")
                if not pending:
                    break
            _, writable, _ = select.select([], [conn], [], max(0.0, deadline - time.monotonic()))
            if writable:
                try:
                    k = conn.send(pending)
                except BlockingIOError:
                    continue
                pending = pending[k:]
                sent += k
    except OSError as e:
        server.record({"sent": sent, "error": repr(e), "time": time.monotonic()})
        return
    conn.setblocking(True)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    conn.close()
    server.record({"sent": sent, "rst": True, "time": time.monotonic()})


class PeerRig:
    def __init__(self, d, peer, rst, ingress):
        self.d = d
        self.peer = peer
        self.rst = rst
        self.ing = ingress

    def echo_once(self, msg, timeout=5.0):
        """A tunnel through the own peer echoes msg (then a reset ends it at
        once, as in FaultRig.good_tunnel)."""
        t = open_tunnel(self.ing.port, OWN_HOST, self.d.ports["echo"], timeout=timeout)
        try:
            if t.status != 200:
                return False
            t.sendall(msg)
            return t.recv_exact(len(msg)) == msg
        finally:
            t.close(rst=True)

    def wait_tunnels_work(self, timeout=20.0):
        """Seconds until a tunnel through the own peer echoes (polling)."""
        t0 = time.monotonic()
        try:
            wait_until(lambda: self.echo_once(b"back\n", timeout=3), timeout,
                       "a tunnel through the peer %s to echo" % self.peer.name,
                       retry=(OSError, harness.ProtocolError))
        except WaitTimeout as e:
            pytest.fail("%s\n%s" % (e, self.peer.log_tail(30)))
        return time.monotonic() - t0

    def ensure_peer(self):
        if not self.peer.alive():
            self.peer.stop()
            self.peer.start()
            self.peer.wait_listening()
            self.wait_tunnels_work()

    def kill_peer(self):
        os.kill(self.peer.pid, signal.SIGKILL)
        self.peer.process.wait_exit(10)


@pytest.fixture(scope="module")
def peer_rig(deployment):
    d = deployment
    rst = harness.TcpServer(_rst_service, name="rst-service")
    peer_hosts = dict(d.peer_hosts())
    peer_hosts[OWN_HOST] = LOOPBACK4
    peer = harness.make_peer(d.ws, d.certs, harness.free_port(),
                             d.peer_connect_ports() + [rst.port], peer_hosts,
                             name="peer-faults", debug=d.debug)
    # Our plugin: no warm pool, so the fd count only moves with the scenario
    # (the reference has no pool and cannot parse the option).
    opts = [] if plugin_is_reference() else ["--pool", "0"]
    args = opts + [r"own[.]internal", "%s:%d" % (PEER_HOST, peer.port)] + d.rules()
    ing = d.new_ingress(name="ingress-peerfaults", plugin_args=args,
                        connect_ports=d.ingress_connect_ports() + [peer.port, rst.port])
    rig = PeerRig(d, peer, rst, ing)
    try:
        peer.start()
        peer.wait_listening()
        ing.start()
        d.wait_bridged(ing)
        rig.wait_tunnels_work()
        for i in range(2):  # warm-up
            rig.echo_once(b"warm %d\n" % i)
            t = open_tunnel(ing.port, OWN_HOST, d.ports["source"], timeout=10)
            try:
                t.sendall(b"SOURCE %d %d hold\n" % (4 << 20, 70 + i))
                t.recv_exact(4 << 20)
            finally:
                t.close(rst=True)
        steady_fds(ing, window=2.0, timeout=10.0)
        yield rig
    finally:
        ing.stop()
        peer.stop()
        rst.stop()


@pytest.fixture
def peers(request, bridge, peer_rig):
    rig = peer_rig
    note_instances(request, rig.ing, rig.peer)
    if not rig.ing.alive():
        rig.ing.stop()
        rig.ing.start()
        rig.d.wait_bridged(rig.ing)
    rig.ensure_peer()
    rig.rst.reset()
    return rig


def test_peer_killed_mid_transfer_ends_the_tunnel(peers, measure):
    """(j) A client downloads 256 MiB from the source through the rig's own
    peer; after 4 MiB (checked byte for byte) the peer ATS is killed
    (SIGKILL).  The client's connection ends (EOF or reset) within
    END_BOUND s, every byte it got is a prefix of the stream, and the
    ingress releases the tunnel's fds and still bridges (through the
    session's peer; the own peer is restarted for the next tests)."""
    rig = peers
    total, seed = 256 << 20, 4711
    with Scenario("(j) real peer SIGKILLed mid-transfer", rig.ing, measure) as sc:
        check = PrefixChecker(total, seed)
        with open_tunnel(rig.ing.port, OWN_HOST, rig.d.ports["source"], timeout=10) as t:
            assert t.status == 200, t.response
            t.sendall(b"SOURCE %d %d hold\n" % (total, seed))
            assert check.feed(t.recv_exact(4 << 20)), "corrupt bytes before the kill"
            rig.kill_peer()
            how, n, secs = read_to_end(t.sock, check, timeout=30)
        sc.saw(answer="200, then %s" % how, seconds=secs,
               note="%.1f MiB received in all, %.1f MiB of them after the kill; prefix intact: %s"
                    % (check.seen / 2.0 ** 20, n / 2.0 ** 20, check.ok))
        assert how in ("eof", "reset"), "client still connected %.1f s after the peer died" \
            % secs
        assert secs < END_BOUND, "the tunnel ended %.2f s after the peer died" % secs
        assert check.ok, "bytes after %d are not the stream's" % check.seen
        assert check.seen < total
    still_bridges(rig.d, rig.ing)
    rig.ensure_peer()


def test_peer_restart_tunnels_work_again_within_seconds(peers, measure):
    """(k) The rig's own peer is killed (SIGKILL) and started again on the
    same port.  While it is down a CONNECT gets 502 at once with
    X-TLS-Bridge-Error naming the peer; after the restart a tunnel through
    it echoes again within 15 s (polled; the time is printed), then 5 in a
    row do, and the ingress is the same process with its fds back."""
    rig = peers
    peer_name = "%s:%d" % (PEER_HOST, rig.peer.port)
    with Scenario("(k) real peer restarted", rig.ing, measure) as sc:
        rig.kill_peer()
        with open_tunnel(rig.ing.port, OWN_HOST, rig.d.ports["echo"], timeout=15) as t:
            down_resp, down_secs = t.response, t.header_elapsed
        sc.saw(down_resp, down_secs)
        t0 = time.monotonic()
        rig.peer.start()
        rig.peer.wait_listening()
        listening = time.monotonic() - t0
        back = rig.wait_tunnels_work(timeout=20) + listening
        sc.note = ("while down: %d after %.2f s; restarted peer listening after %.1f s, "
                   "tunnels work %.1f s after the restart; %s"
                   % (down_resp.status, down_secs, listening, back, sc.note))
        check_own_answer(down_resp, 502, peer_name)
        assert down_secs < QUICK, "502 after %.2f s" % down_secs
        assert back < 15.0, "tunnels worked only %.1f s after the restart" % back
        for i in range(5):
            assert rig.echo_once(b"after restart %d\n" % i, timeout=10), "tunnel %d" % i


def test_service_reset_mid_transfer_ends_the_tunnel(peers, measure):
    """(l) Behind the real peer, a service streams data for 1 s and then
    resets its connection (SO_LINGER 0).  The client reads the first MiB and
    then stops reading, so when the reset comes the whole path is full and
    the service still has unsent bytes (checked: the client gets fewer bytes
    than the service handed to its kernel).  Then the client reads on: its
    connection ends (EOF or reset) within END_BOUND s of the reset, and
    every byte it got is a prefix of the stream.  Twice, then the usual
    after-checks."""
    rig = peers
    nbytes, secs = 1 << 30, 1.0
    outcomes = []
    with Scenario("(l) service RST mid-transfer", rig.ing, measure) as sc:
        for i in range(2):
            seed = 900 + i
            check = PrefixChecker(nbytes, seed)
            with open_tunnel(rig.ing.port, OWN_HOST, rig.rst.port, timeout=10,
                             rcvbuf=64 * 1024) as t:
                assert t.status == 200, t.response
                t.sendall(b"RST %d %d %.1f\n" % (nbytes, seed, secs))
                assert check.feed(t.recv_exact(1 << 20))
                res = rig.rst.wait_results(i + 1, timeout=secs + 10)
                assert len(res) == i + 1 and res[i].get("rst"), res
                how, _, _ = read_to_end(t.sock, check, timeout=30)
                ended = time.monotonic()
            sent = res[i]["sent"]
            after_rst = ended - res[i]["time"]
            outcomes.append((how, check.seen, sent, after_rst))
            sc.saw(answer="200, then %s" % outcomes[0][0], seconds=outcomes[0][3],
                   note="; ".join("%s after %.1f of %.1f MiB sent, %.2f s after the RST"
                                  % (h, g / 2.0 ** 20, s / 2.0 ** 20, a)
                                  for h, g, s, a in outcomes))
            assert how in ("eof", "reset"), \
                "client still connected %.1f s after the service's reset" % after_rst
            assert after_rst < END_BOUND, "the tunnel ended %.2f s after the reset" % after_rst
            assert check.ok, "byte %d is not the stream's" % check.seen
            assert check.seen < sent, "the reset did not come mid-transfer: the client got " \
                "all %d bytes the service sent" % sent
    assert rig.echo_once(b"after reset\n", timeout=10)
    still_bridges(rig.d, rig.ing)
