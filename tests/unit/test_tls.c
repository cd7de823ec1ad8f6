/*
 * Unit tests for tb_tls: the pump against an in-memory OpenSSL server
 * (tb_tls_peer.h), with a harness in between that plays the network and the
 * caller.  It moves ciphertext both ways through two byte queues and
 * plaintext in and out of both ends, and checks after every call of the
 * pump that the bits it returned agree with its state (and that OpenSSL's
 * error queue was left empty).  Every chunk fed to the pump is copied to end
 * right before a PROT_NONE page.
 *
 * How the bytes are cut (struct policy):
 *   WHOLE   every flight of the server fed in one call
 *   BYTE    one byte per call, the pump serviced after each (the first
 *           BYTE_LIMIT bytes the server sends: handshake, tickets and the
 *           first records; then whole flights)
 *   SPLIT   one flight cut at one offset; run for every offset of the first
 *           flights of TLS 1.2 and 1.3
 *   RANDOM  seeded: random actions in random order with random sizes, and
 *           stalls in which the caller does not drain the pump's output or
 *           does not read its plaintext (the pump must push back: feed and
 *           write take nothing, and memory stays bounded), plus calls made
 *           when the bits say there is nothing to do
 *
 * What each case expects is in its row of `scens`: the state it ends in,
 * the failure's cause and words, the TLS version, SNI, and that every byte
 * each side sent arrived (or, for a failure after data, every byte sent
 * before it).
 *
 * Under valgrind (TB_VALGRIND, make valgrind) the same cases run with fewer
 * seeds, every 53rd offset and smaller transfers.
 */
#include "tb_test.h"

#include "tb_tls.h"
#include "tb_tls_peer.h"

#include <sys/stat.h>

#ifdef TB_VALGRIND
#define SEEDS 2
#define OFFSET_STRIDE 53
#define BIG (1024u * 1024u)
#define BYTE_LIMIT (8u * 1024u)
#else
#define SEEDS 24
#define OFFSET_STRIDE 1
#define BIG (4u * 1024u * 1024u)
#define BYTE_LIMIT (96u * 1024u) /* BYTE: the server's first 96 KiB one by one, then whole flights */
#endif

#define SLACK 64           /* room for bytes nobody should have sent */
#define NFLIGHT 16         /* flights whose length a run records */
#define GUARD (128 * 1024) /* the largest chunk fed through the guard page */

/* ---- fixture: the PKI in files, client settings ---------------------- */

enum client { C_OK, C_NOCERT, C_WRONGCA, C_NOVERIFY, C_COUNT };

static struct {
  struct tp_pki pki;
  char ca[64], ca2[64], cert[64], key[64], enckey[64], both[64], junk[64];
  struct tb_tls_ctx *ctx[C_COUNT];
  struct tb_guard guard;
} fx;

static void write_pem(char *path, size_t len, X509 *x, EVP_PKEY *k, const char *pass) {
  size_t n = 0;
  char *pem = tp_pem(x, k, pass, &n);
  assert_non_null(pem);
  tb_tmpfile(path, len, pem, n);
  free(pem);
}

static struct tb_tls_ctx *make_ctx(const char *ca, const char *cert, const char *key, bool verify) {
  struct tb_tls_config cfg = {ca, NULL, cert, key, verify};
  char err[256] = "";
  struct tb_tls_ctx *c = tb_tls_ctx_create(&cfg, err, sizeof err);
  if (c == NULL) {
    fail_msg("tb_tls_ctx_create: %s", err);
  }
  return c;
}

static int setup(void **state) {
  char both[4096];
  size_t n1 = 0, n2 = 0;
  char *a, *b;

  (void)state;
  assert_true(tp_pki_make(&fx.pki));
  write_pem(fx.ca, sizeof fx.ca, fx.pki.ca, NULL, NULL);
  write_pem(fx.ca2, sizeof fx.ca2, fx.pki.ca2, NULL, NULL);
  write_pem(fx.cert, sizeof fx.cert, fx.pki.cli, NULL, NULL);
  write_pem(fx.key, sizeof fx.key, NULL, fx.pki.cli_key, NULL);
  write_pem(fx.enckey, sizeof fx.enckey, NULL, fx.pki.cli_key, "secret");
  a = tp_pem(fx.pki.cli, NULL, NULL, &n1);
  b = tp_pem(NULL, fx.pki.cli_key, NULL, &n2);
  assert_true(a != NULL && b != NULL && n1 + n2 < sizeof both);
  memcpy(both, a, n1);
  memcpy(both + n1, b, n2);
  tb_tmpfile(fx.both, sizeof fx.both, both, n1 + n2);
  free(a);
  free(b);
  tb_tmpfile(fx.junk, sizeof fx.junk, "not PEM at all\n", 15);

  fx.ctx[C_OK] = make_ctx(fx.ca, fx.cert, fx.key, true);
  fx.ctx[C_NOCERT] = make_ctx(fx.ca, NULL, NULL, true);
  fx.ctx[C_WRONGCA] = make_ctx(fx.ca2, fx.cert, fx.key, true);
  fx.ctx[C_NOVERIFY] = make_ctx(fx.ca2, fx.cert, fx.key, false);
  tb_guard_init(&fx.guard, GUARD);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  for (int i = 0; i < C_COUNT; i++) {
    tb_tls_ctx_destroy(fx.ctx[i]);
  }
  unlink(fx.ca);
  unlink(fx.ca2);
  unlink(fx.cert);
  unlink(fx.key);
  unlink(fx.enckey);
  unlink(fx.both);
  unlink(fx.junk);
  tb_guard_free(&fx.guard);
  tp_pki_free(&fx.pki);
  return 0;
}

/* ---- cases ------------------------------------------------------------- */

enum srv_end {
  END_AFTER_PEER, /* after its data and the client's close_notify: close_notify, FIN */
  END_EARLY,      /* right after its data (the client may still be sending): close_notify */
  END_TRUNCATE,   /* after its data: FIN without close_notify */
  END_RENEG,      /* after its data: HelloRequest (TLS 1.2) */
  END_CORRUPT,    /* after its data: one more record, its last byte flipped on the wire */
};

/* The server's client certificate policy; zero is the usual one. */
enum srv_cc { CC_REQUIRE, CC_ASK, CC_NONE };

/* A case.  Zero is the default of every field: peer.test, any version,
 * client certificate required and ours sent and verified, the server closes
 * after the client, and a clean close is expected. */
struct scen {
  const char *name;
  const char *peer;        /* what the pump connects to; NULL: peer.test (SNI is expected for names) */
  int min, max;            /* the server's versions (0: any) */
  enum srv_cc cc;          /* the server's client certificate policy */
  enum client client;      /* the pump's settings */
  size_t up, down;         /* plaintext client->server, server->client */
  enum srv_end end;        /* how the server ends */
  bool key_update;         /* TLS 1.3: the server sends KeyUpdate (update_requested) midway */
  bool junk;               /* bytes on the wire after the server's close_notify */
  bool shut_early;         /* the pump is told to shut down before the handshake ends */
  const char *raw;         /* not a TLS server: these bytes, then FIN ("" : FIN only) */
  const char *version;     /* a clean close: the version it ran */
  enum tb_tls_cause cause; /* TB_TLS_NONE: a clean close (CLOSED); else FAILED so */
  const char *text;        /* part of the failure's text */
  long verify_error;
  bool all_down; /* FAILED: every byte of the server arrived before */
};

#define T12 TLS1_2_VERSION
#define T13 TLS1_3_VERSION
#define V12 .version = "TLSv1.2"
#define V13 .version = "TLSv1.3"

static const struct scen scens[] = {
    {.name = "TLS 1.3, mutual", .up = 3000, .down = 5000, V13},
    {.name = "TLS 1.2, mutual", .max = T12, .up = 3000, .down = 5000, V12},
    {.name = "TLS 1.3-only server", .min = T13, .max = T13, .up = 100, .down = 100, V13},
    {.name = "TLS 1.2-only server", .min = T12, .max = T12, .up = 100, .down = 100, V12},
    {.name = "IPv4 literal", .peer = "127.0.0.1", .up = 500, .down = 500, V13},
    {.name = "IPv6 literal", .peer = "[::1]", .max = T12, .up = 500, .down = 500, V12},
    {.name = "verify off: unknown CA, other name",
     .peer = "other.test",
     .client = C_NOVERIFY,
     .up = 500,
     .down = 500,
     V13},
    {.name = "server asks, no client cert", .cc = CC_ASK, .client = C_NOCERT, .up = 500, .down = 500, V13},
    {.name = "no data either way", V13},
    {.name = "half-close: the server sends on after our close_notify, 1.3", .up = 10, .down = 300000, V13},
    {.name = "half-close: the server sends on after our close_notify, 1.2",
     .max = T12,
     .up = 10,
     .down = 300000,
     V12},
    {.name = "close_notify amid our data, 1.3", .up = 300000, .down = 3000, .end = END_EARLY, V13},
    {.name = "close_notify amid our data, 1.2",
     .max = T12,
     .up = 300000,
     .down = 3000,
     .end = END_EARLY,
     V12},
    {.name = "KeyUpdate from the server", .min = T13, .up = 70000, .down = 70000, .key_update = true, V13},
    {.name = "bytes after close_notify are dropped", .up = 100, .down = 100, .junk = true, V13},
    {.name = "shutdown during the handshake", .down = 2000, .shut_early = true, V13},

    {.name = "server requires a client cert, 1.3",
     .client = C_NOCERT,
     .cause = TB_TLS_HANDSHAKE,
     .text = "tlsv13 alert certificate required"},
    {.name = "server requires a client cert, 1.2",
     .max = T12,
     .client = C_NOCERT,
     .cause = TB_TLS_HANDSHAKE,
     .text = "sslv3 alert handshake failure"},
    /* A server that checks client certificates has the CA in its store, and
     * OpenSSL then sends it along: our store meets an unknown root. */
    {.name = "wrong CA",
     .client = C_WRONGCA,
     .cause = TB_TLS_VERIFY,
     .text = "self-signed certificate in certificate chain",
     .verify_error = X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN},
    {.name = "wrong CA, 1.2",
     .max = T12,
     .client = C_WRONGCA,
     .cause = TB_TLS_VERIFY,
     .text = "self-signed certificate in certificate chain",
     .verify_error = X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN},
    /* One that does not sends its certificate alone. */
    {.name = "wrong CA, leaf only",
     .cc = CC_NONE,
     .client = C_WRONGCA,
     .cause = TB_TLS_VERIFY,
     .text = "unable to get local issuer certificate",
     .verify_error = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
    {.name = "wrong name",
     .peer = "other.test",
     .cause = TB_TLS_VERIFY,
     .text = "hostname mismatch",
     .verify_error = X509_V_ERR_HOSTNAME_MISMATCH},
    {.name = "wrong IP",
     .peer = "127.0.0.2",
     .cause = TB_TLS_VERIFY,
     .text = "IP address mismatch",
     .verify_error = X509_V_ERR_IP_ADDRESS_MISMATCH},
    {.name = "TLS 1.1 server",
     .min = TLS1_1_VERSION,
     .max = TLS1_1_VERSION,
     .cause = TB_TLS_HANDSHAKE,
     .text = "tlsv1 alert protocol version"},
    {.name = "renegotiation asked by the server",
     .max = T12,
     .up = 700,
     .down = 900,
     .end = END_RENEG,
     .cause = TB_TLS_PROTOCOL,
     .text = "the peer asked to renegotiate (refused)",
     .all_down = true},
    {.name = "truncation: FIN without close_notify",
     .up = 700,
     .down = 20000,
     .end = END_TRUNCATE,
     .cause = TB_TLS_TRUNCATED,
     .text = "the peer closed the connection without close_notify",
     .all_down = true},
    {.name = "truncation, 1.2",
     .max = T12,
     .up = 700,
     .down = 20000,
     .end = END_TRUNCATE,
     .cause = TB_TLS_TRUNCATED,
     .text = "the peer closed the connection without close_notify",
     .all_down = true},
    {.name = "corrupt record after data",
     .up = 700,
     .down = 20000,
     .end = END_CORRUPT,
     .cause = TB_TLS_PROTOCOL,
     .text = "bad record mac",
     .all_down = true},
    {.name = "not TLS: an HTTP answer",
     .raw = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n",
     .cause = TB_TLS_HANDSHAKE,
     .text = "wrong version number"},
    {.name = "FIN during the handshake",
     .raw = "",
     .cause = TB_TLS_HANDSHAKE,
     .text = "the peer closed the connection during the handshake"},
};

static const char *scen_peer(const struct scen *sc) {
  return sc->peer != NULL ? sc->peer : "peer.test";
}

/* The SNI the server should see: the name, none for an address. */
static const char *scen_sni(const struct scen *sc) {
  const char *p = scen_peer(sc);
  return p[0] == '[' || (p[0] >= '0' && p[0] <= '9') ? NULL : p;
}

static enum tb_tls_state scen_want(const struct scen *sc) {
  return sc->cause == TB_TLS_NONE ? TB_TLS_CLOSED : TB_TLS_FAILED;
}

static enum tp_client_cert scen_cc(const struct scen *sc) {
  return sc->cc == CC_REQUIRE ? TP_REQUIRE_CLIENT_CERT
         : sc->cc == CC_ASK   ? TP_ASK_CLIENT_CERT
                              : TP_NO_CLIENT_CERT;
}

/* ---- the harness ------------------------------------------------------- */

struct q {
  unsigned char *p; /* owned */
  size_t off, len, cap;
};

static void q_push(struct q *q, const void *d, size_t n) {
  if (n == 0) {
    return;
  }
  if (q->len + n > q->cap && q->off > 0) {
    memmove(q->p, q->p + q->off, q->len - q->off);
    q->len -= q->off;
    q->off = 0;
  }
  if (q->len + n > q->cap) {
    size_t cap = q->cap ? q->cap : 4096;
    while (cap < q->len + n) {
      cap *= 2;
    }
    q->p = realloc(q->p, cap);
    assert_non_null(q->p);
    q->cap = cap;
  }
  memcpy(q->p + q->len, d, n);
  q->len += n;
}

static size_t q_avail(const struct q *q) {
  return q->len - q->off;
}

static void q_pop(struct q *q, size_t n) {
  q->off += n;
  if (q->off == q->len) {
    q->off = q->len = 0;
  }
}

enum policy_kind { P_WHOLE, P_BYTE, P_SPLIT, P_RANDOM };

struct policy {
  enum policy_kind kind;
  size_t flight, at; /* P_SPLIT: cut flight `flight` after `at` bytes */
  uint64_t seed;     /* P_RANDOM */
};

struct run {
  const struct scen *sc;
  struct policy pol;
  struct tp_rng rng;
  SSL_CTX *sctx;    /* the server's settings */
  bool own_sctx;    /* made for this run */
  struct tb_tls *c; /* the pump */
  struct tp_server srv;
  struct q c2s, s2c; /* ciphertext on the wire */
  unsigned char *up, *down, *up_got, *down_got;
  size_t up_sent, up_recv, down_sent, down_recv;
  bool c_shut;     /* tb_tls_shutdown called */
  bool fin_wanted; /* the server closes TCP once its output is on the wire */
  bool fin;        /* the server side's FIN follows what s2c holds */
  bool eof_fed;    /* tb_tls_feed_eof called */
  bool s_open, s_failed, s_got_close, s_sent_close, s_reneg, s_ku, junk_sent, raw_sent;
  size_t s_out_total;              /* bytes the server has put on the wire */
  size_t fed_total;                /* bytes the pump took */
  unsigned long in_full, out_full; /* calls that found the pump's input, output at its cap */
  size_t corrupt_at;               /* END_CORRUPT: the stream offset to flip, + 1 (0: none) */
  char sni[256];                   /* what the server saw */
  bool saw_sni;
  size_t flight;
  size_t flight_len[NFLIGHT];
  unsigned stall_out, stall_read;
  unsigned long steps;
};

static size_t min_sz(size_t a, size_t b) {
  return a < b ? a : b;
}

/* The bits a call returned, against the pump's state. */
static void check_bits(struct run *r, unsigned bits) {
  enum tb_tls_state st = tb_tls_state(r->c);
  const struct tb_tls_failure *f = tb_tls_failure(r->c);
  size_t out = tb_tls_pending_out(r->c);

  assert_int_equal(bits, tb_tls_next(r->c));
  assert_int_equal(!!(bits & TB_TLS_SEND), out > 0);
  assert_int_equal(!!(bits & TB_TLS_ERROR), st == TB_TLS_FAILED);
  assert_int_equal(!!(bits & TB_TLS_DONE), st == TB_TLS_FAILED || st == TB_TLS_CLOSED);
  if (bits & (TB_TLS_READ | TB_TLS_WRITE)) {
    assert_int_equal(st, TB_TLS_OPEN);
  }
  if (st == TB_TLS_HANDSHAKING || st == TB_TLS_FAILED) {
    assert_int_equal(bits & (TB_TLS_READ | TB_TLS_WRITE | TB_TLS_EOF | TB_TLS_SHUT), 0);
  }
  if (st == TB_TLS_CLOSED) {
    assert_int_equal(bits & (TB_TLS_EOF | TB_TLS_SHUT), TB_TLS_EOF | TB_TLS_SHUT);
    assert_int_equal(bits & (TB_TLS_READ | TB_TLS_WRITE | TB_TLS_RECV), 0);
  }
  assert_true(out <= TB_TLS_OUT_MAX + TB_TLS_RECORD_MAX + 512);
  assert_non_null(memchr(f->text, '\0', sizeof f->text));
  if (st == TB_TLS_FAILED) {
    assert_int_not_equal(f->cause, TB_TLS_NONE);
    assert_true(f->text[0] != '\0');
  } else {
    assert_int_equal(f->cause, TB_TLS_NONE);
    assert_int_equal(f->text[0], '\0');
  }
  if (ERR_peek_error() != 0) {
    ERR_print_errors_fp(stderr);
    fail_msg("%s: OpenSSL's error queue was left with errors", r->sc->name);
  }
}

/* ---- the pump's caller ---- */

static void c_write(struct run *r, size_t max) {
  size_t n = min_sz(max, r->sc->up - r->up_sent), taken = 99;
  unsigned before = tb_tls_next(r->c);
  unsigned bits = tb_tls_write(r->c, (const char *)r->up + r->up_sent, n, &taken);

  assert_true(taken <= n);
  if (!(before & TB_TLS_WRITE)) {
    assert_int_equal(taken, 0);
    if ((before & (TB_TLS_SHUT | TB_TLS_DONE)) == 0 && tb_tls_state(r->c) == TB_TLS_OPEN) {
      r->out_full++;
    }
  } else if (n > 0 && tb_tls_state(r->c) == TB_TLS_OPEN) {
    assert_true(taken > 0);
  }
  r->up_sent += taken;
  check_bits(r, bits);
}

/* All written: our half-close (or, for shut_early, at once). */
static void c_maybe_shut(struct run *r) {
  if (r->c_shut || r->up_sent < r->sc->up) {
    return;
  }
  if (r->sc->end == END_RENEG) {
    /* Not in this case: after our close_notify, OpenSSL drops TLS 1.2
     * handshake messages unseen (it could not answer them), so a
     * HelloRequest then is no news. */
    return;
  }
  r->c_shut = true;
  check_bits(r, tb_tls_shutdown(r->c));
}

static void c_out(struct run *r, size_t max) {
  char buf[8192];

  while (max > 0) {
    size_t got = 99, want = min_sz(max, sizeof buf), had = tb_tls_pending_out(r->c);
    unsigned bits = tb_tls_take_out(r->c, buf, want, &got);
    assert_int_equal(got, min_sz(want, had));
    check_bits(r, bits);
    if (got == 0) {
      break;
    }
    q_push(&r->c2s, buf, got);
    max -= got;
  }
}

static void c_feed(struct run *r, size_t max) {
  size_t n = min_sz(min_sz(max, q_avail(&r->s2c)), GUARD), taken = 99;
  unsigned before = tb_tls_next(r->c), bits;
  const char *p;

  if (n == 0) {
    if (q_avail(&r->s2c) == 0 && r->fin && !r->eof_fed) {
      r->eof_fed = true;
      check_bits(r, tb_tls_feed_eof(r->c));
    }
    return;
  }
  p = tb_guard_put(&fx.guard, (const char *)r->s2c.p + r->s2c.off, n);
  bits = tb_tls_feed(r->c, p, n, &taken);
  assert_true(taken <= n);
  if (before & TB_TLS_EOF) {
    assert_int_equal(taken, n); /* dropped after close_notify */
  } else if (before & TB_TLS_RECV) {
    assert_true(taken > 0);
  } else {
    assert_int_equal(taken, 0);
    if ((before & (TB_TLS_DONE | TB_TLS_EOF)) == 0 && tb_tls_state(r->c) == TB_TLS_OPEN) {
      r->in_full++;
    }
  }
  q_pop(&r->s2c, taken);
  r->fed_total += taken;
  check_bits(r, bits);
}

static void c_read(struct run *r, size_t max) {
  size_t room = r->sc->down + SLACK - r->down_recv, n = min_sz(max, room), got = 99;
  unsigned before = tb_tls_next(r->c), bits;

  assert_true(n > 0);
  bits = tb_tls_read(r->c, (char *)r->down_got + r->down_recv, n, &got);
  assert_true(got <= n);
  if (!(before & TB_TLS_READ)) {
    assert_int_equal(got, 0);
  }
  r->down_recv += got;
  assert_true(r->down_recv <= r->sc->down);
  assert_memory_equal(r->down_got, r->down, r->down_recv);
  check_bits(r, bits);
}

/* Calls a careless caller makes: when the bits say there is nothing to do. */
static void c_misuse(struct run *r) {
  char buf[4];
  size_t n = 99;

  switch (tp_below(&r->rng, 5)) {
  case 0:
    check_bits(r, tb_tls_write(r->c, "x", 0, &n));
    assert_int_equal(n, 0);
    break;
  case 1:
    if (!(tb_tls_next(r->c) & TB_TLS_WRITE)) {
      check_bits(r, tb_tls_write(r->c, "abc", 3, &n));
      assert_int_equal(n, 0);
    }
    break;
  case 2:
    check_bits(r, tb_tls_take_out(r->c, buf, 0, &n));
    assert_int_equal(n, 0);
    break;
  case 3:
    check_bits(r, tb_tls_feed(r->c, buf, 0, &n));
    assert_int_equal(n, 0);
    break;
  default:
    if (!(tb_tls_next(r->c) & TB_TLS_READ)) {
      check_bits(r, tb_tls_read(r->c, buf, sizeof buf, &n));
      assert_int_equal(n, 0);
    }
    break;
  }
}

/* ---- the server ---- */

static void s_clear(void) {
  ERR_clear_error();
}

static void s_end(struct run *r) {
  const struct scen *sc = r->sc;
  SSL *s = r->srv.ssl;

  if (r->down_sent < sc->down || r->s_sent_close || r->fin_wanted) {
    return;
  }
  switch (sc->end) {
  case END_AFTER_PEER:
  case END_EARLY:
    if (sc->end == END_AFTER_PEER && !r->s_got_close) {
      return;
    }
    if (SSL_shutdown(s) < 0) {
      r->s_failed = true;
    }
    r->s_sent_close = true;
    break;
  case END_TRUNCATE:
    r->fin_wanted = true;
    break;
  case END_RENEG:
    if (!r->s_reneg) {
      r->s_reneg = true;
      assert_int_equal(SSL_renegotiate(s), 1);
      /* HelloRequest sent (OpenSSL's server then reports its handshake
       * done: the renegotiation proper starts with the ClientHello). */
      (void)SSL_do_handshake(s);
      assert_true(BIO_ctrl_pending(r->srv.out) > 0);
    }
    break;
  case END_CORRUPT:
    if (r->corrupt_at == 0) {
      size_t w = 0;
      assert_int_equal(SSL_write_ex(s, "last", 4, &w), 1);
      r->corrupt_at = r->s_out_total + BIO_ctrl_pending(r->srv.out); /* its last byte, + 1 */
    }
    break;
  }
  s_clear();
}

static void s_step(struct run *r) {
  const struct scen *sc = r->sc;
  SSL *s = r->srv.ssl;
  int rc;

  if (sc->raw != NULL || r->s_failed) {
    return;
  }
  if (!r->s_open) {
    rc = SSL_do_handshake(s);
    if (rc != 1) {
      if (SSL_get_error(s, rc) != SSL_ERROR_WANT_READ) {
        r->s_failed = true;
      }
      s_clear();
      return;
    }
    r->s_open = true;
    const char *name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
    r->saw_sni = name != NULL;
    snprintf(r->sni, sizeof r->sni, "%s", name ? name : "");
  }
  while (!r->s_got_close) {
    unsigned char buf[16384];
    size_t n = 0;
    rc = SSL_read_ex(s, buf, sizeof buf, &n);
    if (rc == 1) {
      assert_true(r->up_recv + n <= sc->up);
      memcpy(r->up_got + r->up_recv, buf, n);
      r->up_recv += n;
      continue;
    }
    rc = SSL_get_error(s, rc);
    if (rc == SSL_ERROR_ZERO_RETURN) {
      r->s_got_close = true;
    } else if (rc != SSL_ERROR_WANT_READ) {
      r->s_failed = true;
      s_clear();
      return;
    }
    break;
  }
  while (r->down_sent < sc->down && !r->s_sent_close && !r->s_reneg &&
         BIO_ctrl_pending(r->srv.out) < 256 * 1024) {
    size_t n = min_sz(sc->down - r->down_sent, 1 + tp_below(&r->rng, 16384)), w = 0;
    if (sc->key_update && !r->s_ku && r->down_sent >= sc->down / 2) {
      r->s_ku = true;
      assert_int_equal(SSL_key_update(s, SSL_KEY_UPDATE_REQUESTED), 1);
    }
    if (SSL_write_ex(s, r->down + r->down_sent, n, &w) != 1) {
      r->s_failed = true;
      s_clear();
      return;
    }
    r->down_sent += w;
  }
  s_end(r);
  s_clear();
}

/* Up to max bytes from the wire into the server. */
static void s_deliver(struct run *r, size_t max) {
  size_t n = min_sz(max, q_avail(&r->c2s));

  if (r->sc->raw != NULL) {
    q_pop(&r->c2s, n);
    if (!r->raw_sent) {
      r->raw_sent = true;
      q_push(&r->s2c, r->sc->raw, strlen(r->sc->raw));
      r->fin = true;
    }
    return;
  }
  if (n > 0) {
    assert_int_equal(BIO_write(r->srv.in, r->c2s.p + r->c2s.off, (int)n), (int)n);
    q_pop(&r->c2s, n);
  }
  s_step(r);
}

/* Up to max bytes of the server's output onto the wire. */
static void s_flush(struct run *r, size_t max) {
  unsigned char buf[16384];

  if (r->sc->raw != NULL) {
    return;
  }
  while (max > 0) {
    int got = BIO_read(r->srv.out, buf, (int)min_sz(max, sizeof buf));
    if (got <= 0) {
      break;
    }
    if (r->corrupt_at > r->s_out_total && r->corrupt_at <= r->s_out_total + (size_t)got) {
      buf[r->corrupt_at - 1 - r->s_out_total] ^= 0x55;
    }
    q_push(&r->s2c, buf, (size_t)got);
    r->s_out_total += (size_t)got;
    max -= (size_t)got;
  }
  if (BIO_ctrl_pending(r->srv.out) == 0) {
    if (r->s_sent_close && r->sc->junk && !r->junk_sent) {
      r->junk_sent = true;
      q_push(&r->s2c, "junk after close_notify", 23);
    }
    /* Both close_notify seen, or the server failed: it closes TCP. */
    if ((r->s_sent_close && r->s_got_close) || r->s_failed || r->fin_wanted) {
      r->fin = true;
    }
  }
  s_clear();
}

/* ---- running a case ---- */

static void run_init(struct run *r, const struct scen *sc, struct policy pol, SSL_CTX *sctx,
                     struct tb_tls_ctx *ctx, struct tb_tls_cache *cache) {
  struct tb_peer peer;
  char err[256] = "";

  memset(r, 0, sizeof *r);
  r->sc = sc;
  r->pol = pol;
  tp_seed(&r->rng, pol.seed + 7);
  r->up = malloc(sc->up + 1);
  r->down = malloc(sc->down + 1);
  r->up_got = malloc(sc->up + SLACK);
  r->down_got = malloc(sc->down + SLACK);
  assert_true(r->up && r->down && r->up_got && r->down_got);
  tp_fill(&r->rng, r->up, sc->up);
  tp_fill(&r->rng, r->down, sc->down);
  if (sctx == NULL) {
    sctx = tp_server_ctx(&fx.pki, sc->min, sc->max, scen_cc(sc));
    assert_non_null(sctx);
    r->own_sctx = true;
  }
  r->sctx = sctx;
  assert_true(tp_server_new(&r->srv, sctx));
  assert_int_equal(tb_peer_parse(scen_peer(sc), strlen(scen_peer(sc)), &peer, err, sizeof err), 0);
  r->c = tb_tls_create(ctx != NULL ? ctx : fx.ctx[sc->client], cache, &peer, err, sizeof err);
  if (r->c == NULL) {
    fail_msg("%s: tb_tls_create: %s", sc->name, err);
  }
  check_bits(r, tb_tls_next(r->c));
  assert_int_equal(tb_tls_state(r->c), TB_TLS_HANDSHAKING);
  assert_true(tb_tls_next(r->c) & TB_TLS_SEND); /* the ClientHello */
  assert_true(tb_tls_next(r->c) & TB_TLS_RECV);
  if (sc->shut_early) {
    c_maybe_shut(r);
  }
}

static void run_free(struct run *r) {
  tb_tls_destroy(r->c);
  tp_server_free(&r->srv);
  if (r->own_sctx) {
    SSL_CTX_free(r->sctx);
  }
  free(r->up);
  free(r->down);
  free(r->up_got);
  free(r->down_got);
  free(r->c2s.p);
  free(r->s2c.p);
  memset(r, 0, sizeof *r);
}

static bool finished(const struct run *r) {
  enum tb_tls_state st = tb_tls_state(r->c);

  if (tb_tls_pending_out(r->c) > 0 || q_avail(&r->c2s) > 0) {
    return false;
  }
  return st == TB_TLS_FAILED || (st == TB_TLS_CLOSED && (r->s_got_close || r->s_failed));
}

/* Everything that changes when something moves. */
static uint64_t stamp(const struct run *r) {
  return (uint64_t)tb_tls_next(r->c) * 1000003u + tb_tls_state(r->c) * 7919u + r->up_sent * 31u +
         r->up_recv * 37u + r->down_sent * 41u + r->down_recv * 43u + q_avail(&r->c2s) * 47u +
         q_avail(&r->s2c) * 53u + tb_tls_pending_out(r->c) * 59u + r->s2c.off * 61u + r->eof_fed +
         r->fin * 2u + r->s_open * 4u + r->s_got_close * 8u + r->s_sent_close * 16u + r->c_shut * 32u +
         r->s_out_total * 67u + BIO_ctrl_pending(r->srv.out) * 71u;
}

static void dump(const struct run *r, const char *why) {
  fail_msg(
      "%s (policy %d flight %zu at %zu seed %llu): %s: state %d bits 0x%x, failure %s '%s'; up %zu/%zu/%zu, "
      "down %zu/%zu/%zu; wire c2s %zu s2c %zu; server open %d failed %d got_close %d sent_close %d fin %d",
      r->sc->name, r->pol.kind, r->pol.flight, r->pol.at, (unsigned long long)r->pol.seed, why,
      tb_tls_state(r->c), tb_tls_next(r->c), tb_tls_cause_name(tb_tls_failure(r->c)->cause),
      tb_tls_failure(r->c)->text, r->up_sent, r->up_recv, r->sc->up, r->down_sent, r->down_recv, r->sc->down,
      q_avail(&r->c2s), q_avail(&r->s2c), r->s_open, r->s_failed, r->s_got_close, r->s_sent_close, r->fin);
}

/* WHOLE, BYTE, SPLIT: feed what the server sent as one flight, cut as the
 * policy says, serving the pump (read, output) after every piece. */
static void feed_flight(struct run *r) {
  size_t len = q_avail(&r->s2c), fed = 0;

  if (len == 0) {
    c_feed(r, 0); /* the FIN, if it came */
    return;
  }
  if (r->flight < NFLIGHT) {
    r->flight_len[r->flight] = len;
  }
  while (q_avail(&r->s2c) > 0) {
    size_t want = SIZE_MAX, before = q_avail(&r->s2c);
    if (r->pol.kind == P_BYTE && r->fed_total < BYTE_LIMIT) {
      want = 1;
    } else if (r->pol.kind == P_SPLIT && r->pol.flight == r->flight && fed == 0 && r->pol.at < len) {
      want = r->pol.at;
    }
    c_feed(r, want);
    fed += before - q_avail(&r->s2c);
    if (tb_tls_next(r->c) & TB_TLS_READ) {
      c_read(r, SIZE_MAX);
    }
    c_out(r, SIZE_MAX);
    if (before == q_avail(&r->s2c) && !(tb_tls_next(r->c) & TB_TLS_RECV)) {
      break; /* failed, or full and nothing to read: the round goes on */
    }
  }
  r->flight++;
}

static void round_det(struct run *r) {
  if (tb_tls_next(r->c) & TB_TLS_WRITE) {
    c_write(r, SIZE_MAX);
  }
  if (tb_tls_state(r->c) == TB_TLS_OPEN) {
    c_maybe_shut(r);
  }
  c_out(r, SIZE_MAX);
  s_deliver(r, SIZE_MAX);
  s_flush(r, SIZE_MAX);
  feed_flight(r);
  if (tb_tls_next(r->c) & TB_TLS_READ) {
    c_read(r, SIZE_MAX);
  }
  c_out(r, SIZE_MAX);
}

static size_t rsize(struct tp_rng *g) {
  switch (tp_below(g, 4)) {
  case 0:
    return 1 + tp_below(g, 16);
  case 1:
    return 1 + tp_below(g, 1024);
  default:
    return 1 + tp_below(g, 65536);
  }
}

static void step_random(struct run *r) {
  struct tp_rng *g = &r->rng;

  if (r->stall_out > 0) {
    r->stall_out--;
  } else if (tp_below(g, 300) == 0) {
    r->stall_out = 20 + (unsigned)tp_below(g, 300);
  }
  if (r->stall_read > 0) {
    r->stall_read--;
  } else if (tp_below(g, 300) == 0) {
    r->stall_read = 20 + (unsigned)tp_below(g, 300);
  }
  switch (tp_below(g, 9)) {
  case 0:
    c_write(r, rsize(g));
    if (tb_tls_state(r->c) == TB_TLS_OPEN) {
      c_maybe_shut(r);
    }
    break;
  case 1:
    if (r->stall_out == 0) {
      c_out(r, rsize(g));
    }
    break;
  case 2:
    s_deliver(r, rsize(g));
    break;
  case 3:
    s_flush(r, rsize(g));
    break;
  case 4:
  case 5:
    c_feed(r, rsize(g));
    break;
  case 6:
  case 7:
    if (r->stall_read == 0) {
      c_read(r, rsize(g));
    }
    break;
  default:
    c_misuse(r);
    break;
  }
}

static void run_go(struct run *r) {
  unsigned long idle = 0;

  while (!finished(r)) {
    uint64_t before = stamp(r);
    if (r->pol.kind == P_RANDOM) {
      step_random(r);
    } else {
      round_det(r);
    }
    r->steps++;
    idle = stamp(r) == before ? idle + 1 : 0;
    if (idle > (r->pol.kind == P_RANDOM ? 20000u : 3u)) {
      dump(r, "no progress");
    }
  }
}

static void run_check(const struct run *r) {
  const struct scen *sc = r->sc;
  const struct tb_tls_failure *f = tb_tls_failure(r->c);

  if (tb_tls_state(r->c) != scen_want(sc)) {
    dump(r, "wrong end state");
  }
  if (scen_want(sc) == TB_TLS_FAILED) {
    if (f->cause != sc->cause || strstr(f->text, sc->text) == NULL || f->verify_error != sc->verify_error) {
      dump(r, "wrong failure");
    }
    if (sc->all_down && r->down_recv != sc->down) {
      dump(r, "server bytes sent before the failure were not all delivered");
    }
    return;
  }
  if (r->up_recv != sc->up || r->down_recv != sc->down) {
    dump(r, "bytes missing");
  }
  assert_memory_equal(r->up_got, r->up, sc->up);
  assert_memory_equal(r->down_got, r->down, sc->down);
  assert_string_equal(tb_tls_version(r->c), sc->version);
  assert_int_equal(r->saw_sni, scen_sni(sc) != NULL);
  if (scen_sni(sc) != NULL) {
    assert_string_equal(r->sni, scen_sni(sc));
  }
  if (sc->cc != CC_NONE && sc->client != C_NOCERT) {
    /* the server got and verified our certificate */
    assert_non_null(SSL_get0_peer_certificate(r->srv.ssl));
    assert_int_equal(SSL_get_verify_result(r->srv.ssl), X509_V_OK);
  }
}

/* TB_TLS_VERBOSE=1: one line per case run (what OpenSSL said, in how many
 * steps). */
static bool verbose(void) {
  const char *v = getenv("TB_TLS_VERBOSE");
  return v != NULL && *v == '1';
}

/* Run sc cut by pol; *in_full and *out_full (if not NULL) get how often
 * the pump pushed back. */
static void run_case_full(const struct scen *sc, struct policy pol, unsigned long *in_full,
                          unsigned long *out_full) {
  struct run r;

  run_init(&r, sc, pol, NULL, NULL, NULL);
  run_go(&r);
  run_check(&r);
  if (in_full != NULL) {
    *in_full = r.in_full;
    *out_full = r.out_full;
  }
  if (verbose()) {
    printf(
        "  %-60s policy %d seed %-6llu %-7s %-9s steps %-6lu full in %lu out %lu flights %zu %zu %zu: %s\n",
        sc->name, pol.kind, (unsigned long long)pol.seed, tb_tls_version(r.c),
        tb_tls_cause_name(tb_tls_failure(r.c)->cause), r.steps, r.in_full, r.out_full, r.flight_len[0],
        r.flight_len[1], r.flight_len[2], tb_tls_failure(r.c)->text);
  }
  run_free(&r);
}

static void run_case(const struct scen *sc, struct policy pol) {
  run_case_full(sc, pol, NULL, NULL);
}

/* ---- tests ------------------------------------------------------------- */

static const struct scen *find_scen(const char *name) {
  for (size_t i = 0; i < TB_NELEM(scens); i++) {
    if (strcmp(scens[i].name, name) == 0) {
      return &scens[i];
    }
  }
  fail_msg("no case %s", name);
  return NULL;
}

static void test_whole(void **state) {
  (void)state;
  for (size_t i = 0; i < TB_NELEM(scens); i++) {
    run_case(&scens[i], (struct policy){P_WHOLE, 0, 0, i});
  }
}

static void test_bytewise(void **state) {
  (void)state;
  for (size_t i = 0; i < TB_NELEM(scens); i++) {
    run_case(&scens[i], (struct policy){P_BYTE, 0, 0, i});
  }
}

static void test_random(void **state) {
  (void)state;
  for (size_t i = 0; i < TB_NELEM(scens); i++) {
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
      run_case(&scens[i], (struct policy){P_RANDOM, 0, 0, seed * 1000 + i});
    }
  }
}

/* The first flights of the server (1.3: ServerHello to Finished, then the
 * tickets; 1.2: ServerHello to ServerHelloDone, then ticket, CCS,
 * Finished) cut at every offset. */
static void split_every_offset(const struct scen *sc, size_t flights) {
  struct run r;
  size_t len[NFLIGHT];

  run_init(&r, sc, (struct policy){P_WHOLE, 0, 0, 1}, NULL, NULL, NULL);
  run_go(&r);
  run_check(&r);
  memcpy(len, r.flight_len, sizeof len);
  run_free(&r);
  for (size_t f = 0; f < flights; f++) {
    assert_true(len[f] > 1);
    if (verbose()) {
      printf("  %s: flight %zu is %zu bytes, cut at every %d\n", sc->name, f, len[f], OFFSET_STRIDE);
    }
    for (size_t at = 1; at < len[f]; at += OFFSET_STRIDE) {
      run_case(sc, (struct policy){P_SPLIT, f, at, at});
    }
  }
}

static const struct scen split13 = {.name = "split, 1.3", .up = 300, .down = 300, V13};
static const struct scen split12 = {.name = "split, 1.2", .max = T12, .up = 300, .down = 300, V12};

static void test_split_tls13(void **state) {
  (void)state;
  split_every_offset(&split13, 2);
}

static void test_split_tls12(void **state) {
  (void)state;
  split_every_offset(&split12, 2);
}

/* MiBs both ways at once, random cuts and stalls. */
static void test_large(void **state) {
  static const struct scen big13 = {.name = "large, 1.3", .up = BIG, .down = BIG, V13};
  static const struct scen big12 = {.name = "large, 1.2", .max = T12, .up = BIG, .down = BIG / 2, V12};
  unsigned long in_full = 0, out_full = 0;

  (void)state;
  /* The stalls made the pump push back both ways, more than once. */
  run_case_full(&big13, (struct policy){P_RANDOM, 0, 0, 42}, &in_full, &out_full);
  assert_true(in_full > 1 && out_full > 1);
  run_case_full(&big12, (struct policy){P_RANDOM, 0, 0, 43}, &in_full, &out_full);
  assert_true(in_full > 1 && out_full > 1);
  run_case(&big13, (struct policy){P_WHOLE, 0, 0, 44});
}

/* The caller stops reading plaintext, then stops sending ciphertext: the
 * pump stops taking input, then plaintext, with memory bounded; then
 * everything flows again. */
static void test_backpressure(void **state) {
  static const struct scen sc = {.name = "backpressure", .up = 1024 * 1024, .down = 1024 * 1024, V13};
  struct run r;
  size_t fed = 0, taken = 0, wrote = 0;
  unsigned bits;

  (void)state;
  run_init(&r, &sc, (struct policy){P_WHOLE, 0, 0, 5}, NULL, NULL, NULL);
  while (tb_tls_state(r.c) == TB_TLS_HANDSHAKING) {
    c_out(&r, SIZE_MAX);
    s_deliver(&r, SIZE_MAX);
    s_flush(&r, SIZE_MAX);
    c_feed(&r, SIZE_MAX);
  }
  assert_int_equal(tb_tls_state(r.c), TB_TLS_OPEN);
  /* Read nothing: the server's megabyte piles up on the wire, not in the pump. */
  for (int i = 0; i < 64; i++) {
    c_out(&r, SIZE_MAX);
    s_deliver(&r, SIZE_MAX);
    s_flush(&r, SIZE_MAX);
    size_t before = q_avail(&r.s2c);
    c_feed(&r, SIZE_MAX);
    fed += before - q_avail(&r.s2c);
  }
  assert_true(fed <= TB_TLS_IN_MAX);
  assert_true(q_avail(&r.s2c) > 512 * 1024);
  bits = tb_tls_next(r.c);
  assert_false(bits & TB_TLS_RECV);
  assert_true(bits & TB_TLS_READ);
  bits = tb_tls_feed(r.c, "x", 1, &taken);
  assert_int_equal(taken, 0);
  /* Send nothing: writes stop at the output cap. */
  for (int i = 0; i < 64; i++) {
    bits = tb_tls_write(r.c, (const char *)r.up + r.up_sent, sc.up - r.up_sent, &taken);
    r.up_sent += taken;
    wrote += taken;
  }
  assert_true(wrote >= TB_TLS_OUT_MAX - TB_TLS_RECORD_MAX && wrote <= TB_TLS_OUT_MAX + TB_TLS_RECORD_MAX);
  assert_false(bits & TB_TLS_WRITE);
  assert_true(tb_tls_pending_out(r.c) <= TB_TLS_OUT_MAX + TB_TLS_RECORD_MAX);
  check_bits(&r, bits);
  /* And on: everything arrives. */
  run_go(&r);
  run_check(&r);
  run_free(&r);
}

/* Session resumption: the second connection to the same peer under the
 * same settings resumes; another peer or other settings do not. */
static void resume(int max, unsigned expect_first) {
  static const struct scen sc = {.name = "resume", .up = 100, .down = 100};
  struct scen s = sc;
  struct tb_tls_cache *cache = tb_tls_cache_create(16);
  SSL_CTX *sctx = tp_server_ctx(&fx.pki, 0, max, TP_REQUIRE_CLIENT_CERT);
  struct tb_tls_ctx *other = make_ctx(fx.ca, fx.cert, fx.key, true);
  struct tb_peer name, ip;
  char err[128];
  struct run r;

  assert_non_null(cache);
  assert_non_null(sctx);
  s.version = max == T12 ? "TLSv1.2" : "TLSv1.3";
  assert_int_equal(tb_peer_parse("peer.test", 9, &name, err, sizeof err), 0);
  assert_int_equal(tb_peer_parse("127.0.0.1", 9, &ip, err, sizeof err), 0);

  run_init(&r, &s, (struct policy){P_WHOLE, 0, 0, 1}, sctx, fx.ctx[C_OK], cache);
  run_go(&r);
  run_check(&r);
  assert_false(tb_tls_resumed(r.c));
  run_free(&r);
  assert_int_equal(tb_tls_cache_count(cache, fx.ctx[C_OK], &name), expect_first);
  assert_int_equal(tb_tls_cache_count(cache, fx.ctx[C_OK], &ip), 0);
  assert_int_equal(tb_tls_cache_count(cache, other, &name), 0);

  /* Again, cut at random: resumed, on both sides, and the server still has
   * our certificate (from the session). */
  run_init(&r, &s, (struct policy){P_RANDOM, 0, 0, 2}, sctx, fx.ctx[C_OK], cache);
  run_go(&r);
  run_check(&r);
  assert_true(tb_tls_resumed(r.c));
  assert_int_equal(SSL_session_reused(r.srv.ssl), 1);
  run_free(&r);
  /* 1.3: one ticket used, one new (OpenSSL sends one after a resumption);
   * 1.2: the session put back. */
  assert_int_equal(tb_tls_cache_count(cache, fx.ctx[C_OK], &name), max == T12 ? 1 : expect_first);

  /* Other settings (a reload): full handshake. */
  run_init(&r, &s, (struct policy){P_WHOLE, 0, 0, 3}, sctx, other, cache);
  run_go(&r);
  run_check(&r);
  assert_false(tb_tls_resumed(r.c));
  run_free(&r);

  /* Another peer (the same server by address): full handshake. */
  s.peer = "127.0.0.1";
  run_init(&r, &s, (struct policy){P_WHOLE, 0, 0, 4}, sctx, fx.ctx[C_OK], cache);
  run_go(&r);
  run_check(&r);
  assert_false(tb_tls_resumed(r.c));
  run_free(&r);
  assert_true(tb_tls_cache_count(cache, fx.ctx[C_OK], &ip) >= 1);

  tb_tls_ctx_destroy(other);
  SSL_CTX_free(sctx);
  tb_tls_cache_destroy(cache);
}

static void test_resume_tls13(void **state) {
  (void)state;
  resume(0, 2); /* OpenSSL's server sends two tickets */
}

static void test_resume_tls12(void **state) {
  (void)state;
  resume(T12, 1);
}

/* A full cache gives up its oldest session; one slot holds one peer. */
static void test_cache_evicts(void **state) {
  static const struct scen sc = {.name = "cache", .up = 10, .down = 10, V13};
  struct scen s = sc;
  struct tb_tls_cache *cache = tb_tls_cache_create(1);
  SSL_CTX *sctx = tp_server_ctx(&fx.pki, 0, 0, TP_REQUIRE_CLIENT_CERT);
  struct tb_peer name, ip;
  char err[128];
  struct run r;

  (void)state;
  assert_non_null(cache);
  assert_int_equal(tb_peer_parse("peer.test", 9, &name, err, sizeof err), 0);
  assert_int_equal(tb_peer_parse("127.0.0.1", 9, &ip, err, sizeof err), 0);
  run_init(&r, &s, (struct policy){P_WHOLE, 0, 0, 1}, sctx, fx.ctx[C_OK], cache);
  run_go(&r);
  run_free(&r);
  assert_int_equal(tb_tls_cache_count(cache, fx.ctx[C_OK], &name), 1);
  s.peer = "127.0.0.1";
  run_init(&r, &s, (struct policy){P_WHOLE, 0, 0, 2}, sctx, fx.ctx[C_OK], cache);
  run_go(&r);
  run_check(&r);
  run_free(&r);
  assert_int_equal(tb_tls_cache_count(cache, fx.ctx[C_OK], &name), 0);
  assert_int_equal(tb_tls_cache_count(cache, fx.ctx[C_OK], &ip), 1);
  SSL_CTX_free(sctx);
  tb_tls_cache_destroy(cache);
  tb_tls_cache_destroy(NULL);
}

/* The settings may go (a reload) while a connection made from them lives. */
static void test_ctx_destroyed_early(void **state) {
  static const struct scen sc = {.name = "ctx gone", .up = 1000, .down = 1000, V13};
  struct tb_tls_ctx *ctx = make_ctx(fx.ca, fx.cert, fx.key, true);
  struct run r;

  (void)state;
  run_init(&r, &sc, (struct policy){P_WHOLE, 0, 0, 1}, NULL, ctx, NULL);
  tb_tls_ctx_destroy(ctx);
  run_go(&r);
  run_check(&r);
  run_free(&r);
  tb_tls_ctx_destroy(NULL);
}

/* Calls out of turn, one by one. */
static void test_out_of_turn(void **state) {
  static const struct scen sc = {.name = "out of turn", .up = 10, .down = 10, V13};
  struct run r;
  char buf[64];
  size_t n = 99;

  (void)state;
  run_init(&r, &sc, (struct policy){P_WHOLE, 0, 0, 1}, NULL, NULL, NULL);
  /* Before the handshake: nothing to read, nothing written. */
  check_bits(&r, tb_tls_read(r.c, buf, sizeof buf, &n));
  assert_int_equal(n, 0);
  check_bits(&r, tb_tls_write(r.c, "abc", 3, &n));
  assert_int_equal(n, 0);
  assert_string_equal(tb_tls_version(r.c), "");
  assert_false(tb_tls_resumed(r.c));
  run_go(&r);
  run_check(&r);
  /* After the close: nothing more either way; repeated calls are harmless. */
  check_bits(&r, tb_tls_write(r.c, "abc", 3, &n));
  assert_int_equal(n, 0);
  check_bits(&r, tb_tls_read(r.c, buf, sizeof buf, &n));
  assert_int_equal(n, 0);
  check_bits(&r, tb_tls_shutdown(r.c));
  check_bits(&r, tb_tls_feed(r.c, "late", 4, &n));
  assert_int_equal(n, 4); /* dropped */
  check_bits(&r, tb_tls_feed_eof(r.c));
  check_bits(&r, tb_tls_feed_eof(r.c));
  assert_int_equal(tb_tls_state(r.c), TB_TLS_CLOSED);
  run_free(&r);

  /* After a failure: feed takes nothing, the alert can still be taken. */
  run_init(&r, find_scen("wrong CA"), (struct policy){P_WHOLE, 0, 0, 1}, NULL, NULL, NULL);
  run_go(&r);
  run_check(&r);
  check_bits(&r, tb_tls_feed(r.c, "late", 4, &n));
  assert_int_equal(n, 0);
  check_bits(&r, tb_tls_shutdown(r.c));
  check_bits(&r, tb_tls_feed_eof(r.c));
  assert_int_equal(tb_tls_failure(r.c)->cause, TB_TLS_VERIFY);
  run_free(&r);
  tb_tls_destroy(NULL);

  assert_string_equal(tb_tls_cause_name(TB_TLS_NONE), "none");
  assert_string_equal(tb_tls_cause_name(TB_TLS_HANDSHAKE), "handshake");
  assert_string_equal(tb_tls_cause_name(TB_TLS_VERIFY), "verify");
  assert_string_equal(tb_tls_cause_name(TB_TLS_PROTOCOL), "protocol");
  assert_string_equal(tb_tls_cause_name(TB_TLS_TRUNCATED), "truncated");
  assert_string_equal(tb_tls_cause_name(TB_TLS_INTERNAL), "internal");
}

/* ---- the settings: every way to get them wrong, and a CA directory ------ */

struct ctx_case {
  const char *name;
  const char *ca, *dir, *cert, *key;
  bool verify;
  const char *err; /* NULL: builds */
};

static void test_ctx_errors(void **state) {
  const struct ctx_case cases[] = {
      {"all", fx.ca, NULL, fx.cert, fx.key, true, NULL},
      {"cert and key in one file", fx.ca, NULL, fx.both, NULL, true, NULL},
      {"nothing, verify off", NULL, NULL, NULL, NULL, false, NULL},
      {"system CAs", NULL, NULL, NULL, NULL, true, NULL},
      {"missing CA file", "/nonexistent/ca.pem", NULL, NULL, NULL, true,
       "ca_file '/nonexistent/ca.pem': No such file or directory"},
      {"CA file not PEM", fx.junk, NULL, NULL, NULL, true, "ca_file '"},
      {"CA dir missing", NULL, "/nonexistent", NULL, NULL, true, "ca_dir '/nonexistent': not a directory"},
      {"CA dir is a file", NULL, fx.ca, NULL, NULL, true, "': not a directory"},
      {"missing cert", fx.ca, NULL, "/nonexistent/c.pem", fx.key, true,
       "cert_file '/nonexistent/c.pem': No such file or directory"},
      {"cert not PEM", fx.ca, NULL, fx.junk, fx.key, true, "cert_file '"},
      {"key without cert", fx.ca, NULL, NULL, fx.key, true, "' without cert_file"},
      {"key not PEM", fx.ca, NULL, fx.cert, fx.junk, true, "key_file '"},
      {"cert without its key", fx.ca, NULL, fx.cert, NULL, true, "key_file '"},
      {"key of another cert", fx.ca, NULL, fx.cert, fx.ca, true, "key_file '"},
      {"encrypted key: an error, no prompt", fx.ca, NULL, fx.cert, fx.enckey, true, "key_file '"},
  };
  char err[256];

  (void)state;
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    const struct ctx_case *c = &cases[i];
    struct tb_tls_config cfg = {c->ca, c->dir, c->cert, c->key, c->verify};
    struct tb_tls_ctx *ctx;
    memset(err, 'x', sizeof err);
    ctx = tb_tls_ctx_create(&cfg, err, sizeof err);
    assert_int_equal(ERR_peek_error(), 0);
    if (c->err == NULL) {
      if (ctx == NULL) {
        fail_msg("%s: %s", c->name, err);
      }
      tb_tls_ctx_destroy(ctx);
      continue;
    }
    if (ctx != NULL) {
      fail_msg("%s: built", c->name);
    }
    assert_non_null(memchr(err, '\0', sizeof err));
    tb_assert_contains(err, c->err);
  }
  /* A key that is not the certificate's: in words. */
  {
    char other[64];
    struct tb_tls_config cfg = {fx.ca, NULL, fx.cert, NULL, true};
    struct tb_tls_ctx *ctx;
    write_pem(other, sizeof other, NULL, fx.pki.srv_key, NULL);
    cfg.key_file = other;
    ctx = tb_tls_ctx_create(&cfg, err, sizeof err);
    assert_null(ctx);
    tb_assert_contains(err, "is not the key of cert_file");
    unlink(other);
  }
  /* errlen 0: no message, no write. */
  {
    struct tb_tls_config cfg = {"/nonexistent", NULL, NULL, NULL, true};
    assert_null(tb_tls_ctx_create(&cfg, NULL, 0));
  }
}

/* CAs from a hashed directory verify like a file. */
static void test_ca_dir(void **state) {
  static const struct scen sc = {.name = "CA dir", .up = 100, .down = 100, V13};
  char dir[] = "/tmp/tb_unit_XXXXXX", link[128];
  struct tb_tls_config cfg = {NULL, dir, fx.cert, fx.key, true};
  struct tb_tls_ctx *ctx;
  char err[256];
  size_t n = 0;
  char *pem = tp_pem(fx.pki.ca, NULL, NULL, &n);
  FILE *f;
  struct run r;

  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(link, sizeof link, "%s/%08lx.0", dir,
           X509_NAME_hash_ex(X509_get_subject_name(fx.pki.ca), NULL, NULL, NULL));
  f = fopen(link, "w");
  assert_non_null(f);
  assert_int_equal(fwrite(pem, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
  free(pem);
  ctx = tb_tls_ctx_create(&cfg, err, sizeof err);
  if (ctx == NULL) {
    fail_msg("%s", err);
  }
  run_init(&r, &sc, (struct policy){P_WHOLE, 0, 0, 1}, NULL, ctx, NULL);
  run_go(&r);
  run_check(&r);
  run_free(&r);
  tb_tls_ctx_destroy(ctx);
  unlink(link);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ctx_errors),
      cmocka_unit_test(test_ca_dir),
      cmocka_unit_test(test_whole),
      cmocka_unit_test(test_bytewise),
      cmocka_unit_test(test_random),
      cmocka_unit_test(test_split_tls13),
      cmocka_unit_test(test_split_tls12),
      cmocka_unit_test(test_large),
      cmocka_unit_test(test_backpressure),
      cmocka_unit_test(test_resume_tls13),
      cmocka_unit_test(test_resume_tls12),
      cmocka_unit_test(test_cache_evicts),
      cmocka_unit_test(test_ctx_destroyed_early),
      cmocka_unit_test(test_out_of_turn),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
