/*
 * tb_tls: the direct engine's TLS client over memory BIOs.  See tb_tls.h.
 *
 * The connection's life, and the function for each step:
 *
 *   state        event                    what happens                         where
 *   HANDSHAKING  created                  ClientHello into wbio                tb_tls_create, handshake
 *   HANDSHAKING  ciphertext fed           SSL_do_handshake: wait, OPEN, FAILED tb_tls_feed, handshake
 *   HANDSHAKING  shutdown                 remembered: close_notify at OPEN     tb_tls_shutdown, opened
 *   HANDSHAKING  network EOF              FAILED (HANDSHAKE)                   tb_tls_feed_eof, fail_ssl
 *   OPEN         read                     SSL_read until input runs out:       tb_tls_read
 *                                         plaintext, EOF or FAILED
 *   OPEN         write                    SSL_write while output is under cap  tb_tls_write
 *   OPEN         shutdown                 SSL_shutdown: close_notify in wbio   tb_tls_shutdown, send_close
 *   OPEN         both close_notify        CLOSED                               peer_closed, send_close
 *   OPEN         HelloRequest read        FAILED (PROTOCOL)                    on_message, tb_tls_read
 *   OPEN         network EOF, input used  FAILED (TRUNCATED)                   tb_tls_feed_eof, fail_ssl
 *
 * Every change of state goes through set_state; every failure through fail,
 * which keeps the first cause.
 *
 * Sessions: the client cache of the SSL_CTX stores nothing itself
 * (SSL_SESS_CACHE_NO_INTERNAL_STORE); OpenSSL hands each new session to
 * on_new_session, which puts it in the connection's tb_tls_cache.  In TLS
 * 1.2 that is at the end of a full handshake; in TLS 1.3 it is whenever a
 * NewSessionTicket is read, after the handshake, inside SSL_read.  A
 * resumed TLS 1.2 session is not announced again, so it is put back when
 * the handshake completes; a TLS 1.3 ticket is used once (RFC 8446 C.4) and
 * is not.
 */
#include "tb_tls.h"
#include "tb_tls_cache.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define TB_TLS_MAGIC 0x544c5350u /* "TLSP" */
#define WRITE_CHUNK 16384u       /* plaintext per SSL_write: one full record */

struct tb_tls_ctx {
  SSL_CTX *ssl_ctx; /* owned: our reference (each connection's SSL holds its own) */
  uint64_t id;      /* unique in the process: tags the sessions made under these settings */
  bool verify;
};

struct tb_tls {
  unsigned magic; /* TB_TLS_MAGIC while alive: OpenSSL's callbacks check it */
  enum tb_tls_state state;
  SSL *ssl;                   /* owned; owns rbio and wbio */
  BIO *rbio;                  /* ciphertext fed and not yet decrypted */
  BIO *wbio;                  /* ciphertext made and not yet taken */
  struct tb_tls_cache *cache; /* not owned; NULL: no resumption */
  struct tb_peer peer;        /* the session cache's key */
  uint64_t ctx_id;
  bool read_blocked; /* the last SSL_read wanted input; feeding clears it */
  bool net_eof;      /* tb_tls_feed_eof was called */
  bool peer_eof;     /* the peer's close_notify was read */
  bool shut_wanted;  /* tb_tls_shutdown came during the handshake */
  bool shut_sent;    /* our close_notify is in wbio (or gone) */
  bool handshook;    /* the handshake completed */
  bool got_data;     /* some plaintext was read */
  bool reneg;        /* the peer sent a HelloRequest after the handshake */
  struct tb_tls_failure failure;
};

static atomic_uint_fast64_t next_ctx_id = 1;

/* ---- words ------------------------------------------------------------ */

/* OpenSSL's words for error e: its reason, or strerror for a system error
 * (ERR_reason_error_string gives NULL for those). */
static const char *reason_of(unsigned long e, char *buf, size_t buflen) {
  const char *s;

  if (e == 0) {
    return "unknown error";
  }
  if (ERR_SYSTEM_ERROR(e)) {
    if (strerror_r(ERR_GET_REASON(e), buf, buflen) == 0) {
      return buf;
    }
    snprintf(buf, buflen, "system error %d", ERR_GET_REASON(e));
    return buf;
  }
  s = ERR_reason_error_string(e);
  if (s != NULL) {
    return s;
  }
  snprintf(buf, buflen, "OpenSSL error %lx", e);
  return buf;
}

/* "what 'path': reason" from the first error queued, then an empty queue. */
static void say_ossl(char *err, size_t errlen, const char *what, const char *path) {
  char buf[96];
  const char *why = reason_of(ERR_peek_error(), buf, sizeof buf);

  if (errlen > 0) {
    snprintf(err, errlen, "%s '%s': %s", what, path, why);
  }
  ERR_clear_error();
}

const char *tb_tls_cause_name(enum tb_tls_cause cause) {
  switch (cause) {
  case TB_TLS_NONE:
    return "none";
  case TB_TLS_HANDSHAKE:
    return "handshake";
  case TB_TLS_VERIFY:
    return "verify";
  case TB_TLS_PROTOCOL:
    return "protocol";
  case TB_TLS_TRUNCATED:
    return "truncated";
  case TB_TLS_INTERNAL:
    return "internal";
  }
  return "none";
}

/* ---- the session cache (tb_tls_cache.c) ---------------------------------- */

unsigned tb_tls_cache_count(struct tb_tls_cache *cache, const struct tb_tls_ctx *ctx,
                            const struct tb_peer *peer) {
  return tb_tls_cache_count_id(cache, ctx->id, peer);
}

/* ---- OpenSSL's callbacks ------------------------------------------------ */

static struct tb_tls *tls_of(const SSL *ssl) {
  struct tb_tls *t = SSL_get_app_data(ssl);
  return t != NULL && t->magic == TB_TLS_MAGIC ? t : NULL;
}

/* A new session (TLS 1.2: a full handshake ended; TLS 1.3: a ticket was
 * read).  Returning 1 keeps OpenSSL's reference for the cache. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess) {
  struct tb_tls *t = tls_of(ssl);

  if (t == NULL || t->cache == NULL || !SSL_SESSION_is_resumable(sess)) {
    return 0;
  }
  tb_tls_cache_put(t->cache, t->ctx_id, &t->peer, sess);
  return 1;
}

/* Every TLS message read or written.  SSL_OP_NO_RENEGOTIATION makes OpenSSL
 * answer a HelloRequest with a no_renegotiation warning and carry on; a peer
 * ATS never renegotiates, so one that asks is treated as broken (the read
 * that saw it fails the connection). */
static void on_message(int write_p, int version, int content_type, const void *buf, size_t len, SSL *ssl,
                       void *arg) {
  struct tb_tls *t = tls_of(ssl);

  (void)version;
  (void)arg;
  if (t == NULL || write_p || content_type != SSL3_RT_HANDSHAKE || len == 0) {
    return;
  }
  if (t->state == TB_TLS_OPEN && ((const unsigned char *)buf)[0] == SSL3_MT_HELLO_REQUEST) {
    t->reneg = true;
  }
}

/* An encrypted private key is an error, never a prompt on the terminal
 * (OpenSSL's default when no callback is set). */
static int no_password(char *buf, int size, int rwflag, void *userdata) {
  (void)buf;
  (void)size;
  (void)rwflag;
  (void)userdata;
  return -1;
}

/* ---- the settings ------------------------------------------------------ */

struct tb_tls_ctx *tb_tls_ctx_create(const struct tb_tls_config *cfg, char *err, size_t errlen) {
  struct tb_tls_ctx *c = NULL;
  SSL_CTX *sc = NULL;
  struct stat st;

  ERR_clear_error();
  if (cfg->key_file != NULL && cfg->cert_file == NULL) {
    snprintf(err, errlen, "key_file '%s' without cert_file", cfg->key_file);
    goto fail;
  }
  c = calloc(1, sizeof *c);
  sc = SSL_CTX_new(TLS_client_method());
  if (c == NULL || sc == NULL) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }
  /* TLS 1.2 at least; the highest OpenSSL has (1.3) at most. */
  if (SSL_CTX_set_min_proto_version(sc, TLS1_2_VERSION) != 1) {
    snprintf(err, errlen, "cannot set TLS 1.2 as the least version");
    goto fail;
  }
  SSL_CTX_set_options(sc, SSL_OP_NO_RENEGOTIATION);
  /* Partial writes: SSL_write_ex reports each record as it is made.  Release
   * buffers: an idle connection does not keep OpenSSL's 2 x ~17 KiB of
   * record buffers (a tunnel may idle for hours). */
  SSL_CTX_set_mode(sc, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_default_passwd_cb(sc, no_password);
  SSL_CTX_set_verify(sc, cfg->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);

  if (cfg->ca_file != NULL && SSL_CTX_load_verify_file(sc, cfg->ca_file) != 1) {
    say_ossl(err, errlen, "ca_file", cfg->ca_file);
    goto fail;
  }
  if (cfg->ca_dir != NULL) {
    /* OpenSSL only looks in the directory when it verifies: check it now. */
    if (stat(cfg->ca_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
      snprintf(err, errlen, "ca_dir '%s': not a directory", cfg->ca_dir);
      goto fail;
    }
    if (SSL_CTX_load_verify_dir(sc, cfg->ca_dir) != 1) {
      say_ossl(err, errlen, "ca_dir", cfg->ca_dir);
      goto fail;
    }
  }
  if (cfg->verify && cfg->ca_file == NULL && cfg->ca_dir == NULL &&
      SSL_CTX_set_default_verify_paths(sc) != 1) {
    say_ossl(err, errlen, "the system's CAs", "default paths");
    goto fail;
  }
  if (cfg->cert_file != NULL) {
    const char *key = cfg->key_file != NULL ? cfg->key_file : cfg->cert_file;
    if (SSL_CTX_use_certificate_chain_file(sc, cfg->cert_file) != 1) {
      say_ossl(err, errlen, "cert_file", cfg->cert_file);
      goto fail;
    }
    /* OpenSSL checks here that the key is the certificate's. */
    if (SSL_CTX_use_PrivateKey_file(sc, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(sc) != 1) {
      unsigned long e = ERR_peek_error();
      if ((ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) || e == 0) {
        ERR_clear_error();
        snprintf(err, errlen, "key_file '%s' is not the key of cert_file '%s'", key, cfg->cert_file);
      } else {
        say_ossl(err, errlen, "key_file", key);
      }
      goto fail;
    }
  }
  SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(sc, on_new_session);

  c->ssl_ctx = sc;
  c->id = atomic_fetch_add(&next_ctx_id, 1);
  c->verify = cfg->verify;
  return c;

fail:
  ERR_clear_error();
  SSL_CTX_free(sc);
  free(c);
  return NULL;
}

void tb_tls_ctx_destroy(struct tb_tls_ctx *c) {
  if (c == NULL) {
    return;
  }
  SSL_CTX_free(c->ssl_ctx);
  free(c);
}

/* ---- the connection: transitions ---------------------------------------- */

static void set_state(struct tb_tls *t, enum tb_tls_state s) {
  t->state = s;
}

/* Fail for good with cause and text; the first failure is the one kept. */
static void fail(struct tb_tls *t, enum tb_tls_cause cause, long verify_error, const char *text) {
  if (t->state == TB_TLS_FAILED) {
    return;
  }
  t->failure.cause = cause;
  t->failure.verify_error = verify_error;
  snprintf(t->failure.text, sizeof t->failure.text, "%s", text);
  set_state(t, TB_TLS_FAILED);
}

/* Is an OpenSSL reason code "the peer sent us this alert"?  Those are
 * SSL_AD_REASON_OFFSET + the alert's number. */
static bool is_peer_alert(unsigned long e) {
  int r = ERR_GET_REASON(e);
  return ERR_GET_LIB(e) == ERR_LIB_SSL && r >= SSL_AD_REASON_OFFSET && r < SSL_AD_REASON_OFFSET + 256;
}

/* An SSL call failed with SSL_get_error() == e: find the cause from the
 * error queue, then empty it. */
static void fail_ssl(struct tb_tls *t, int e) {
  unsigned long code = ERR_peek_error();
  bool handshaking = t->state == TB_TLS_HANDSHAKING;
  char buf[96];
  long v;

  if (ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
      (v = SSL_get_verify_result(t->ssl)) != X509_V_OK) {
    fail(t, TB_TLS_VERIFY, v, X509_verify_cert_error_string(v));
  } else if (t->net_eof && (code == 0 || (ERR_GET_LIB(code) == ERR_LIB_SSL &&
                                          ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING))) {
    if (handshaking) {
      fail(t, TB_TLS_HANDSHAKE, 0, "the peer closed the connection during the handshake");
    } else {
      fail(t, TB_TLS_TRUNCATED, 0, "the peer closed the connection without close_notify");
    }
  } else if (e == SSL_ERROR_ZERO_RETURN) {
    fail(t, TB_TLS_HANDSHAKE, 0, "the peer sent close_notify during the handshake");
  } else if (code == 0) {
    snprintf(buf, sizeof buf, "TLS error %d with no reason from OpenSSL", e);
    fail(t, handshaking ? TB_TLS_HANDSHAKE : TB_TLS_PROTOCOL, 0, buf);
  } else {
    /* TLS 1.3: we finish the handshake before the peer has judged our
     * certificate (RFC 8446 4.4.2.4); its refusal is an alert that arrives
     * in place of its first data. */
    bool refusal = is_peer_alert(code) && !t->got_data;
    fail(t, handshaking || refusal ? TB_TLS_HANDSHAKE : TB_TLS_PROTOCOL, 0, reason_of(code, buf, sizeof buf));
  }
  ERR_clear_error();
}

static void send_close(struct tb_tls *t) {
  int r;

  ERR_clear_error();
  r = SSL_shutdown(t->ssl);
  if (r < 0) {
    fail_ssl(t, SSL_get_error(t->ssl, r));
    return;
  }
  t->shut_sent = true;
  if (t->peer_eof) {
    set_state(t, TB_TLS_CLOSED);
  }
}

static void peer_closed(struct tb_tls *t) {
  t->peer_eof = true;
  if (t->shut_sent) {
    set_state(t, TB_TLS_CLOSED);
  }
}

static void opened(struct tb_tls *t) {
  t->handshook = true;
  set_state(t, TB_TLS_OPEN);
  /* Records after the last handshake message may be here already. */
  t->read_blocked = BIO_ctrl_pending(t->rbio) == 0 && !SSL_has_pending(t->ssl);
  if (t->cache != NULL && SSL_session_reused(t->ssl) && SSL_version(t->ssl) < TLS1_3_VERSION) {
    SSL_SESSION *s = SSL_get1_session(t->ssl);
    if (s != NULL && SSL_SESSION_is_resumable(s)) {
      tb_tls_cache_put(t->cache, t->ctx_id, &t->peer, s);
    } else {
      SSL_SESSION_free(s);
    }
  }
  if (t->shut_wanted) {
    send_close(t);
  }
}

/* One step of the handshake with what has been fed. */
static void handshake(struct tb_tls *t) {
  int r;

  ERR_clear_error();
  r = SSL_do_handshake(t->ssl);
  if (r == 1) {
    opened(t);
    return;
  }
  r = SSL_get_error(t->ssl, r);
  if (r == SSL_ERROR_WANT_READ) {
    return;
  }
  fail_ssl(t, r);
}

static unsigned next_bits(const struct tb_tls *t) {
  size_t in = BIO_ctrl_pending(t->rbio), out = BIO_ctrl_pending(t->wbio);
  unsigned n = out > 0 ? TB_TLS_SEND : 0;

  switch (t->state) {
  case TB_TLS_HANDSHAKING:
    if (!t->net_eof && in < TB_TLS_IN_MAX) {
      n |= TB_TLS_RECV;
    }
    break;
  case TB_TLS_OPEN:
    if (!t->peer_eof && !t->net_eof && in < TB_TLS_IN_MAX) {
      n |= TB_TLS_RECV;
    }
    if (!t->peer_eof && !t->read_blocked) {
      n |= TB_TLS_READ;
    }
    if (!t->shut_sent && out < TB_TLS_OUT_MAX) {
      n |= TB_TLS_WRITE;
    }
    if (t->peer_eof) {
      n |= TB_TLS_EOF;
    }
    if (t->shut_sent) {
      n |= TB_TLS_SHUT;
    }
    break;
  case TB_TLS_CLOSED:
    n |= TB_TLS_EOF | TB_TLS_SHUT | TB_TLS_DONE;
    break;
  case TB_TLS_FAILED:
    n |= TB_TLS_ERROR | TB_TLS_DONE;
    break;
  }
  return n;
}

/* ---- the connection: the API ------------------------------------------- */

static bool is_ip_literal(const char *host) {
  unsigned char addr[16];
  return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

struct tb_tls *tb_tls_create(const struct tb_tls_ctx *ctx, struct tb_tls_cache *cache,
                             const struct tb_peer *peer, char *err, size_t errlen) {
  struct tb_tls *t = calloc(1, sizeof *t);
  BIO *rbio = NULL, *wbio = NULL;
  const char *host = peer->host;

  ERR_clear_error();
  if (t == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  t->ssl = SSL_new(ctx->ssl_ctx);
  rbio = BIO_new(BIO_s_mem());
  wbio = BIO_new(BIO_s_mem());
  if (t->ssl == NULL || rbio == NULL || wbio == NULL) {
    snprintf(err, errlen, "out of memory");
    BIO_free(rbio);
    BIO_free(wbio);
    goto fail;
  }
  /* An empty rbio means "wait for more", not end of input, until
   * tb_tls_feed_eof says the network closed. */
  BIO_set_mem_eof_return(rbio, -1);
  SSL_set_bio(t->ssl, rbio, wbio); /* the SSL owns both from here */
  t->rbio = rbio;
  t->wbio = wbio;
  t->magic = TB_TLS_MAGIC;
  t->cache = cache;
  t->peer = *peer;
  t->ctx_id = ctx->id;
  set_state(t, TB_TLS_HANDSHAKING);
  SSL_set_connect_state(t->ssl);
  SSL_set_app_data(t->ssl, t);
  SSL_set_msg_callback(t->ssl, on_message);

  if (is_ip_literal(host)) {
    /* RFC 6066 3: no SNI for an address.  Check it against the
     * certificate's IP addresses, not its DNS names. */
    if (ctx->verify && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host) != 1) {
      snprintf(err, errlen, "peer '%s': %s", host, "cannot check its certificate for this address");
      goto fail;
    }
  } else {
    if (SSL_set_tlsext_host_name(t->ssl, host) != 1) {
      snprintf(err, errlen, "peer '%s': %s", host, "cannot send this name as SNI");
      goto fail;
    }
    if (ctx->verify) {
      SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (SSL_set1_host(t->ssl, host) != 1) {
        snprintf(err, errlen, "peer '%s': %s", host, "cannot check its certificate for this name");
        goto fail;
      }
    }
  }
  if (cache != NULL) {
    SSL_SESSION *s = tb_tls_cache_take(cache, ctx->id, peer);
    if (s != NULL) {
      int ok = SSL_set_session(t->ssl, s);
      SSL_SESSION_free(s); /* the SSL holds its own reference */
      if (ok != 1) {
        ERR_clear_error(); /* not fatal: a full handshake instead */
      }
    }
  }
  handshake(t); /* the ClientHello */
  if (t->state == TB_TLS_FAILED) {
    snprintf(err, errlen, "peer '%s': %s", host, t->failure.text);
    goto fail;
  }
  return t;

fail:
  ERR_clear_error();
  tb_tls_destroy(t);
  return NULL;
}

void tb_tls_destroy(struct tb_tls *t) {
  if (t == NULL) {
    return;
  }
  t->magic = 0;
  SSL_free(t->ssl); /* frees both BIOs; NULL is a no-op */
  ERR_clear_error();
  free(t);
}

unsigned tb_tls_next(const struct tb_tls *t) {
  return next_bits(t);
}

unsigned tb_tls_feed(struct tb_tls *t, const char *cipher, size_t len, size_t *taken) {
  size_t have, n;

  *taken = 0;
  if (t->state == TB_TLS_FAILED) {
    return next_bits(t);
  }
  if (t->peer_eof) {
    *taken = len; /* after close_notify nothing counts (RFC 8446 6.1) */
    return next_bits(t);
  }
  if (t->net_eof) {
    return next_bits(t);
  }
  have = BIO_ctrl_pending(t->rbio);
  n = have >= TB_TLS_IN_MAX ? 0 : TB_TLS_IN_MAX - have;
  if (n > len) {
    n = len;
  }
  if (n > 0) {
    if (BIO_write(t->rbio, cipher, (int)n) != (int)n) {
      ERR_clear_error();
      fail(t, TB_TLS_INTERNAL, 0, "out of memory");
      return next_bits(t);
    }
    *taken = n;
    t->read_blocked = false;
  }
  if (t->state == TB_TLS_HANDSHAKING) {
    handshake(t);
  }
  return next_bits(t);
}

unsigned tb_tls_feed_eof(struct tb_tls *t) {
  if (t->state == TB_TLS_FAILED || t->net_eof) {
    return next_bits(t);
  }
  t->net_eof = true;
  if (t->peer_eof) {
    return next_bits(t); /* a clean end: nothing more was due */
  }
  /* From now on an empty rbio is the end of input: OpenSSL reports it as
   * an unexpected EOF once the bytes before it are used. */
  BIO_set_mem_eof_return(t->rbio, 0);
  t->read_blocked = false;
  if (t->state == TB_TLS_HANDSHAKING) {
    handshake(t);
  }
  return next_bits(t);
}

size_t tb_tls_pending_out(const struct tb_tls *t) {
  return BIO_ctrl_pending(t->wbio);
}

unsigned tb_tls_take_out(struct tb_tls *t, char *buf, size_t len, size_t *got) {
  size_t n = BIO_ctrl_pending(t->wbio);

  *got = 0;
  if (n > len) {
    n = len;
  }
  if (n > INT_MAX) {
    n = INT_MAX;
  }
  if (n > 0) {
    int r = BIO_read(t->wbio, buf, (int)n);
    if (r > 0) {
      *got = (size_t)r;
    }
  }
  return next_bits(t);
}

unsigned tb_tls_write(struct tb_tls *t, const char *plain, size_t len, size_t *taken) {
  *taken = 0;
  if (t->state != TB_TLS_OPEN || t->shut_sent) {
    return next_bits(t);
  }
  while (*taken < len && BIO_ctrl_pending(t->wbio) < TB_TLS_OUT_MAX) {
    size_t n = len - *taken, w = 0;
    int r;
    if (n > WRITE_CHUNK) {
      n = WRITE_CHUNK;
    }
    ERR_clear_error();
    r = SSL_write_ex(t->ssl, plain + *taken, n, &w);
    if (r != 1) {
      fail_ssl(t, SSL_get_error(t->ssl, r));
      break;
    }
    *taken += w;
  }
  return next_bits(t);
}

unsigned tb_tls_read(struct tb_tls *t, char *buf, size_t len, size_t *got) {
  *got = 0;
  while (*got < len && t->state == TB_TLS_OPEN && !t->peer_eof) {
    size_t n = 0;
    int r, e;
    ERR_clear_error();
    r = SSL_read_ex(t->ssl, buf + *got, len - *got, &n);
    if (r == 1) {
      *got += n;
      t->got_data = true;
    }
    if (t->reneg) {
      ERR_clear_error();
      fail(t, TB_TLS_PROTOCOL, 0, "the peer asked to renegotiate (refused)");
      break;
    }
    if (r == 1) {
      continue;
    }
    e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
      t->read_blocked = true;
      break;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
      peer_closed(t);
      break;
    }
    fail_ssl(t, e);
  }
  ERR_clear_error();
  return next_bits(t);
}

unsigned tb_tls_shutdown(struct tb_tls *t) {
  if (t->state == TB_TLS_HANDSHAKING) {
    t->shut_wanted = true;
  } else if (t->state == TB_TLS_OPEN && !t->shut_sent) {
    send_close(t);
  }
  return next_bits(t);
}

enum tb_tls_state tb_tls_state(const struct tb_tls *t) {
  return t->state;
}

const struct tb_tls_failure *tb_tls_failure(const struct tb_tls *t) {
  return &t->failure;
}

const char *tb_tls_version(const struct tb_tls *t) {
  return t->handshook ? SSL_get_version(t->ssl) : "";
}

bool tb_tls_resumed(const struct tb_tls *t) {
  return t->handshook && SSL_session_reused(t->ssl) == 1;
}
