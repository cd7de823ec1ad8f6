"""A fake peer for fault injection: a small TLS server the test controls.

It stands where the peer ATS would be (the ingress's rule points at
peer.test:<fake port>), presents the test PKI's peer certificate (valid for
peer.test, the name the ingress connects to, verifies and sends as SNI),
requires a client certificate signed by the test CA (the ingress's), reads
the CONNECT the ingress forwards, records it, and then misbehaves in the way
the test chose:

    mode               after reading the CONNECT the fake peer ...
    ok                 answers 200 and echoes the tunnel (params: header;
                       close_after=N closes, with a TLS close_notify, once
                       N bytes were echoed; also for the other modes that
                       echo)
    malformed_status   sends a status line that is not valid HTTP (params:
                       payload), then holds
    not_http           sends bytes that are not HTTP at all (params:
                       payload), then holds
    slow_header        sends a 200 header one byte per TLS record (params:
                       header, delay between bytes), then echoes
    early_data         sends a 200 and tunnel bytes in one write, one TLS
                       record (params: header, data), then echoes
    endless_header     sends a 200 status line and header lines without end
                       (up to params limit bytes, default 4 MiB), then holds
    refuse             answers a non-2xx with a body (params: status 403,
                       reason, body), then holds
    silent             says nothing at all (TLS done, CONNECT read), holds
    tls_stall          never answers the ClientHello (TCP accepted, raw bytes
                       read and ignored), holds
    close_mid_header   sends part of a 200 header (params: payload; b"" for
                       none at all), then closes (params: how = 'fin', a TCP
                       FIN without close_notify, the default; 'close_notify';
                       'rst')

Any mode also takes close_if_idle=S: a connection whose CONNECT comes more
than S seconds after its TLS handshake is closed (TCP FIN) without an
answer, as by a peer whose idle timeout fired just as the CONNECT arrived.
So a pooled connection that waited longer than S is stale when claimed,
and a new one (whose CONNECT comes at once) is served by the mode.

"holds" means: keeps the connection open, reading and discarding, until the
ingress closes it (or hold_timeout).  So a test sees whether and when the
ingress dropped the connection (FakeConn.end, .ended_at).

The mode is read when a connection is accepted (tls_stall) or when its
CONNECT has been read (all others), so a connection opened ahead of time (a
warm pool connection) behaves as the mode at the time the CONNECT arrives.

API: FakePeer(certs) listens at once on 127.0.0.1:.port; set_mode(mode,
**params); .requests is the list of CONNECTs received (ConnectRequest:
.line, .method, .target, .version, .headers as sent, .header(name), .raw);
wait_requests(n), .conns (FakeConn per connection: handshake result, SNI,
client certificate CN, request, bytes sent, how and when it ended),
open_count(), warm_count() (open, TLS up, no CONNECT yet: pooled
connections), wait_idle(), reset() (forget the records) and stop().

Built on harness.TcpServer (listening socket, accept loop, one thread per
connection, stop() ends them all); only the standard library.
"""

import socket
import ssl
import time

import harness

OK = "ok"
MALFORMED_STATUS = "malformed_status"
NOT_HTTP = "not_http"
SLOW_HEADER = "slow_header"
ENDLESS_HEADER = "endless_header"
EARLY_DATA = "early_data"
REFUSE = "refuse"
SILENT = "silent"
TLS_STALL = "tls_stall"
CLOSE_MID_HEADER = "close_mid_header"
MODES = (OK, MALFORMED_STATUS, NOT_HTTP, SLOW_HEADER, ENDLESS_HEADER, EARLY_DATA, REFUSE,
         SILENT, TLS_STALL, CLOSE_MID_HEADER)

OK_HEADER = b"HTTP/1.1 200 Connection established\r\nX-Fake-Peer: ok\r\n\r\n"
# Defaults of the misbehaving modes (each can be replaced through params).
MALFORMED_STATUS_LINE = b"HTTP/1.1 2O0 Connection established\r\n\r\n"  # letter O in the code
NOT_HTTP_BYTES = b"SSH-2.0-OpenSSH_9.2p1 fake\r\n\x00\x01\x02\xff\xfe binary \x00\r\n\r\n"
SLOW_HEADER_BYTES = b"HTTP/1.1 200 OK\r\nX-Fake-Peer: slow\r\n\r\n"
PARTIAL_HEADER = b"HTTP/1.1 200 Connection established\r\nX-Fake-Peer: trunc"
REFUSE_BODY = b"fake peer says no: this body must not reach the client\n"


class ConnectRequest:
    """The CONNECT request the fake peer received: request line, headers
    (in order, as sent) and the raw header bytes."""

    def __init__(self, raw):
        self.raw = raw
        text = raw.decode("iso-8859-1")
        lines = text.split("\r\n")
        self.line = lines[0]
        parts = self.line.split(" ")
        self.method = parts[0] if parts else ""
        self.target = parts[1] if len(parts) > 1 else ""
        self.version = parts[2] if len(parts) > 2 else ""
        self.headers = []
        for l in lines[1:]:
            if not l:
                continue
            k, _, v = l.partition(":")
            self.headers.append((k.strip(), v.strip()))
        self.time = time.monotonic()

    def header(self, name):
        """The first value of header `name` (case-insensitive), or None."""
        return harness.header_value(self.headers, name)

    def __repr__(self):
        return "<ConnectRequest %r %r>" % (self.line, self.headers)


class FakeConn:
    """What happened on one accepted connection."""

    def __init__(self, number):
        self.number = number
        self.accepted_at = time.monotonic()
        self.mode = None
        self.handshake = None      # 'ok', 'not answered' (tls_stall) or 'failed: ...'
        self.handshake_at = None   # time.monotonic() when the handshake completed
        self.sni = None            # the server name the client sent
        self.client_cert_cn = None  # CN of the client certificate presented
        self.request = None        # ConnectRequest, once read
        self.sent = 0              # bytes of payload the fake peer sent (plain text)
        self.end = None            # how it ended: 'eof', 'closed by us (...)', 'error: ...', ...
        self.ended_at = None

    def __repr__(self):
        return ("<FakeConn #%d mode=%s handshake=%s sni=%s cert=%s request=%r sent=%d end=%s>"
                % (self.number, self.mode, self.handshake, self.sni, self.client_cert_cn,
                   self.request.line if self.request else None, self.sent, self.end))


class FakePeer(harness.TcpServer):
    """The fake peer.  FakePeer(certs) listens on a free 127.0.0.1 port
    (.port); set_mode(mode, **params) chooses the behaviour; .requests lists
    the CONNECTs received (ConnectRequest), .conns every connection
    (FakeConn); stop() closes everything.  A harness.TcpServer whose
    connections run serve() below (the TLS handshake, the CONNECT, the mode)
    instead of a handler."""

    def __init__(self, certs, host=harness.LOOPBACK4, mode=OK, require_client_cert=True,
                 hold_timeout=60.0, name="fakepeer"):
        self.certs = certs
        self.hold_timeout = hold_timeout
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certs.peer_cert, certs.peer_key)
        if require_client_cert:
            self.ctx.verify_mode = ssl.CERT_REQUIRED
            self.ctx.load_verify_locations(cafile=certs.ca_cert)
        self.ctx.sni_callback = self._sni
        self.mode = mode
        self.params = {}
        self.conns = []
        self.requests = []
        super().__init__(host=host, name=name, backlog=128)

    @property
    def lock(self):
        """TcpServer's condition; it guards mode, params, conns and requests."""
        return self.cond

    # -- control
    def set_mode(self, mode, **params):
        if mode not in MODES:
            raise ValueError("unknown fake peer mode %r" % (mode,))
        with self.lock:
            self.mode = mode
            self.params = dict(params)

    def _current(self):
        with self.lock:
            return self.mode, dict(self.params)

    def reset(self):
        """Forget recorded connections and requests (open ones keep running)."""
        with self.lock:
            self.conns = []
            self.requests = []

    def open_count(self):
        """Connections accepted and not yet ended."""
        with self.lock:
            return sum(1 for c in self.conns if c.ended_at is None)

    def warm_count(self):
        """Connections open with TLS up and no CONNECT yet: the ingress's
        warm (pooled) connections."""
        with self.lock:
            return sum(1 for c in self.conns
                       if c.ended_at is None and c.handshake == "ok" and c.request is None)

    def wait_requests(self, n=1, timeout=10.0):
        """The first n CONNECTs received (fewer if they do not come in time)."""
        self.wait_for(lambda: len(self.requests) >= n, timeout)
        with self.lock:
            return list(self.requests)

    def wait_idle(self, timeout=10.0):
        """Wait until every accepted connection has ended; True if so."""
        return self.wait_for(lambda: all(c.ended_at is not None for c in self.conns), timeout)

    # -- machinery
    def _sni(self, sslobj, server_name, ctx):
        try:
            sslobj.tb_sni = server_name
        except AttributeError:
            pass
        return None

    def on_accept(self, raw):
        rec = FakeConn(len(self.conns) + 1)
        self.conns.append(rec)
        return rec

    def _finish(self, rec, end):
        with self.lock:
            if rec.ended_at is None:
                rec.end = end
                rec.ended_at = time.monotonic()
            self.lock.notify_all()

    def serve(self, raw, rec):
        sock = raw
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            raw.settimeout(self.hold_timeout)
            mode, params = self._current()
            if mode == TLS_STALL:
                rec.mode = mode
                rec.handshake = "not answered"
                self._finish(rec, self._hold(raw, rec))
                return
            sock = self.ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
            self.track(sock)
            try:
                sock.do_handshake()
            except (ssl.SSLError, OSError) as e:
                rec.handshake = "failed: %r" % (e,)
                self._finish(rec, "handshake failed")
                return
            rec.handshake = "ok"
            rec.handshake_at = time.monotonic()
            rec.sni = getattr(sock, "tb_sni", None)
            cert = sock.getpeercert() or {}
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        rec.client_cert_cn = v
            req, extra = self._read_request(sock)
            if req is None:
                self._finish(rec, "eof before a request")
                return
            rec.request = req
            mode, params = self._current()
            rec.mode = mode
            with self.lock:
                self.requests.append(req)
                self.lock.notify_all()
            idle = req.time - rec.handshake_at
            if params.get("close_if_idle") is not None and idle > params["close_if_idle"]:
                end = "stale (CONNECT %.2f s after the handshake): %s" % (
                    idle, self._mode_close_mid_header(sock, rec, {"payload": b""}, extra))
            else:
                end = getattr(self, "_mode_" + mode)(sock, rec, params, extra)
            self._finish(rec, end)
        except socket.timeout:
            self._finish(rec, "timeout")
        except Exception as e:  # OSError, ValueError; AttributeError when stop() shuts a TLS socket
            self._finish(rec, "error: %r" % (e,))
        finally:
            if sock is not raw:
                self.untrack(sock)
                try:
                    sock.close()
                except OSError:
                    pass
            self._finish(rec, "closed")  # the raw socket is closed by TcpServer

    def _read_request(self, sock, limit=65536):
        """Read up to the end of the request header.  Returns
        (ConnectRequest or None on EOF, bytes that followed the header)."""
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = sock.recv(4096)
            if not data:
                return None, b""
            buf += data
            if len(buf) > limit:
                raise ValueError("request header over %d bytes" % limit)
        head, _, rest = buf.partition(b"\r\n\r\n")
        return ConnectRequest(head + b"\r\n\r\n"), rest

    def _send(self, sock, rec, data):
        sock.sendall(data)
        rec.sent += len(data)

    def _hold(self, sock, rec):
        """Read and discard until the other side closes; how it ended."""
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    return "eof"
        except socket.timeout:
            return "timeout"
        except (OSError, ValueError) as e:
            if isinstance(e, ConnectionResetError):
                return "reset"
            return "error: %r" % (e,)

    def _echo(self, sock, rec, extra, params):
        """Echo until EOF; with params close_after=N, close (TLS
        close_notify, then FIN) once N bytes were echoed: a tunnel the peer
        side ends, which ATS reports to the ingress at once."""
        limit = params.get("close_after")
        echoed = 0
        data = extra
        while True:
            if data:
                self._send(sock, rec, data)
                echoed += len(data)
            if limit is not None and echoed >= limit:
                sock.settimeout(0.2)  # close_notify goes out at once; do not wait for the reply
                try:
                    sock.unwrap()
                except (OSError, ValueError):
                    pass
                return "closed by us after echoing %d bytes" % echoed
            data = sock.recv(65536)
            if not data:
                return "eof"

    # -- modes: each returns how the connection ended
    def _mode_ok(self, sock, rec, params, extra):
        self._send(sock, rec, params.get("header", OK_HEADER))
        return self._echo(sock, rec, extra, params)

    def _mode_malformed_status(self, sock, rec, params, extra):
        self._send(sock, rec, params.get("payload", MALFORMED_STATUS_LINE))
        return self._hold(sock, rec)

    def _mode_not_http(self, sock, rec, params, extra):
        self._send(sock, rec, params.get("payload", NOT_HTTP_BYTES))
        return self._hold(sock, rec)

    def _mode_slow_header(self, sock, rec, params, extra):
        delay = params.get("delay", 0.02)
        for i, b in enumerate(params.get("header", SLOW_HEADER_BYTES)):
            if i:
                time.sleep(delay)
            self._send(sock, rec, bytes([b]))  # one byte, one TLS record (TCP_NODELAY)
        return self._echo(sock, rec, extra, params)

    def _mode_endless_header(self, sock, rec, params, extra):
        limit = params.get("limit", 4 << 20)
        self._send(sock, rec, b"HTTP/1.1 200 Connection established\r\n")
        i = 0
        try:
            while rec.sent < limit:
                chunk = b"".join(b"X-Endless-%07d: %s\r\n" % (i + k, b"e" * 100)
                                 for k in range(32))
                i += 32
                self._send(sock, rec, chunk)
        except (OSError, ValueError) as e:
            return "send failed after %d bytes: %r" % (rec.sent, e)
        return self._hold(sock, rec)

    def _mode_early_data(self, sock, rec, params, extra):
        data = params.get("data", b"early bytes\r\n")
        # One sendall of header + data: one TLS record, one TCP segment.
        self._send(sock, rec, params.get("header", OK_HEADER) + data)
        return self._echo(sock, rec, extra, params)

    def _mode_refuse(self, sock, rec, params, extra):
        status = params.get("status", 403)
        reason = params.get("reason", "Forbidden")
        body = params.get("body", REFUSE_BODY)
        head = ("HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                % (status, reason, len(body))).encode()
        self._send(sock, rec, head + body)
        return self._hold(sock, rec)

    def _mode_silent(self, sock, rec, params, extra):
        return self._hold(sock, rec)

    def _mode_close_mid_header(self, sock, rec, params, extra):
        how = params.get("how", "fin")
        self._send(sock, rec, params.get("payload", PARTIAL_HEADER))
        if how == "close_notify":
            sock.settimeout(0.2)
            try:
                sock.unwrap()  # sends close_notify (waits briefly for the reply)
            except (OSError, ValueError):
                pass
        elif how == "rst":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        else:
            sock.shutdown(socket.SHUT_RDWR)  # TCP FIN, no TLS close_notify
        return "closed by us (%s)" % how
