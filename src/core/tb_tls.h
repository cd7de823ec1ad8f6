/*
 * tb_tls: the TLS client of the direct engine (issue 14) as a pump with no
 * I/O of its own.  One struct tb_tls is one TLS connection to a peer ATS:
 * OpenSSL runs over a pair of memory BIOs, and the caller moves the bytes.
 *
 *   network --ciphertext--> tb_tls_feed      tb_tls_read  --plaintext--> client
 *   network <--ciphertext-- tb_tls_take_out  tb_tls_write <--plaintext-- client
 *
 * Every call returns a set of TB_TLS_* bits (enum tb_tls_next) that says
 * what the caller can do next: send ciphertext, feed more, read plaintext,
 * write plaintext, or stop.  Nothing blocks, nothing calls back into the
 * caller, nothing is logged: a failure has a cause and a text.
 *
 * Three objects:
 *   struct tb_tls_ctx    the client settings (CA, client certificate,
 *                        verification) built into one SSL_CTX.  Immutable
 *                        once built and shared read-only by every
 *                        connection on every thread; a reload builds a new
 *                        one.  The connections made from it keep what they
 *                        need (OpenSSL counts references to the SSL_CTX), so
 *                        it may be destroyed while they are still open.
 *   struct tb_tls_cache  resumable sessions, kept per peer (host:port) and
 *                        per ctx (a session made under other settings is
 *                        never offered).  Owned by the caller, which may keep
 *                        one for all peers or one per peer; thread-safe (one
 *                        mutex, held for a scan of its slots); it must
 *                        outlive every connection that was given it.
 *   struct tb_tls        one connection.  Owns its SSL, which owns the two
 *                        BIOs.  Used by one thread at a time (no lock
 *                        inside); it may move between threads between calls.
 *
 * Bounded memory: feed takes ciphertext only while less than TB_TLS_IN_MAX
 * waits undecrypted (the caller that does not read plaintext stops taking
 * it, so its network reads stop), and write takes plaintext only while less
 * than TB_TLS_OUT_MAX of ciphertext waits to be sent (pending output stays
 * under TB_TLS_OUT_MAX plus one record, and the odd alert or KeyUpdate).
 *
 * OpenSSL's error queue is per thread and Traffic Server's own TLS code runs
 * on the same threads: every function here empties it before the OpenSSL
 * calls whose result it reads, and leaves it empty.
 *
 * Not yet used by the glue: the direct engine's link (link.h) is to come.
 */
#ifndef TB_TLS_H
#define TB_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_peer.h"

/* Undecrypted input a connection holds at most: two of the largest TLS
 * records (2^14 + 2048 + 5 bytes, RFC 5246 6.2.3), so a whole record always
 * fits and reading plaintext always makes room. */
#define TB_TLS_IN_MAX (2u * 18437u)
/* tb_tls_write takes plaintext while less than this much output waits. */
#define TB_TLS_OUT_MAX (64u * 1024u)
/* The largest record one write produces (16 KiB of plaintext and TLS's
 * overhead): pending output exceeds TB_TLS_OUT_MAX by at most this and a
 * few short records (close_notify, an alert, a KeyUpdate). */
#define TB_TLS_RECORD_MAX 18437u

#define TB_TLS_CACHE_PER_PEER 8u /* sessions kept for one peer (TLS 1.3 tickets are used once) */
#define TB_TLS_TEXT_MAX 160      /* bytes of a failure's text, NUL included */

/* The client settings.  Paths are read once, by tb_tls_ctx_create. */
struct tb_tls_config {
  const char *ca_file;   /* PEM file of trusted CAs, or NULL */
  const char *ca_dir;    /* directory of hashed CA certificates (openssl rehash), or NULL */
  const char *cert_file; /* PEM client certificate, then its chain; NULL: no client certificate */
  const char *key_file;  /* PEM private key of cert_file (unencrypted); NULL: it is in cert_file */
  bool verify;           /* check the peer's certificate: chain to a trusted CA and the peer's name;
                            with neither ca_file nor ca_dir, the system's trusted CAs */
};

/* What a call leaves the caller to do (a set of these bits, as unsigned). */
enum tb_tls_next {
  TB_TLS_SEND = 1u << 0,  /* ciphertext waits: tb_tls_take_out it and send it to the peer */
  TB_TLS_RECV = 1u << 1,  /* tb_tls_feed takes ciphertext now: keep reading the network */
  TB_TLS_READ = 1u << 2,  /* plaintext (or the news of a close or failure) may wait: tb_tls_read */
  TB_TLS_WRITE = 1u << 3, /* tb_tls_write takes plaintext now */
  TB_TLS_EOF = 1u << 4,   /* the peer's close_notify was read: its stream ended cleanly */
  TB_TLS_SHUT = 1u << 5,  /* our close_notify is queued: nothing more goes from us */
  TB_TLS_ERROR = 1u << 6, /* failed for good (tb_tls_failure): send what SEND offers, then close */
  TB_TLS_DONE = 1u << 7,  /* closed both ways or failed: once SEND is clear, close the connection */
};

enum tb_tls_state {
  TB_TLS_HANDSHAKING, /* from tb_tls_create until the handshake completes */
  TB_TLS_OPEN,        /* plaintext flows; either half may have closed (EOF, SHUT) */
  TB_TLS_CLOSED,      /* close_notify sent and received: a clean end both ways */
  TB_TLS_FAILED,      /* tb_tls_failure says why */
};

/* Why a connection failed, for metrics, close reasons and X-TLS-Bridge-Error. */
enum tb_tls_cause {
  TB_TLS_NONE = 0,  /* not failed */
  TB_TLS_HANDSHAKE, /* the handshake failed (OpenSSL's reason), or the peer's first word after it was a
                       fatal alert (TLS 1.3: the peer judges our certificate after we finish) */
  TB_TLS_VERIFY,    /* the peer's certificate failed verification (the X509 verify error) */
  TB_TLS_PROTOCOL,  /* a TLS error after the handshake: bad record, fatal alert, renegotiation */
  TB_TLS_TRUNCATED, /* the network closed after the handshake without the peer's close_notify */
  TB_TLS_INTERNAL,  /* this side could not go on (out of memory) */
};

struct tb_tls_failure {
  enum tb_tls_cause cause;
  long verify_error;          /* TB_TLS_VERIFY: the X509_V_ERR_* code; 0 otherwise */
  char text[TB_TLS_TEXT_MAX]; /* NUL-terminated; OpenSSL's and our fixed words only, never peer bytes */
};

struct tb_tls_ctx;
struct tb_tls_cache;
struct tb_tls;

/* Build the client settings: TLS 1.2 at least, 1.3 allowed, renegotiation
 * refused, the CA and client certificate loaded and checked.  Returns NULL
 * with what is wrong in err (NUL-terminated when errlen > 0). */
struct tb_tls_ctx *tb_tls_ctx_create(const struct tb_tls_config *cfg, char *err, size_t errlen);

/* Drop the caller's hold on c; open connections keep theirs.  NULL: no-op. */
void tb_tls_ctx_destroy(struct tb_tls_ctx *c);

/* A session cache of `capacity` slots (at least 1); NULL when out of memory. */
struct tb_tls_cache *tb_tls_cache_create(unsigned capacity);

/* Free the cache and its sessions; no connection may still use it.  NULL: no-op. */
void tb_tls_cache_destroy(struct tb_tls_cache *cache);

/* Sessions the cache holds for peer under ctx (for tests and metrics). */
unsigned tb_tls_cache_count(struct tb_tls_cache *cache, const struct tb_tls_ctx *ctx,
                            const struct tb_peer *peer);

/* A connection to peer under ctx, resuming a session from cache when it has
 * one (cache may be NULL: no resumption).  The peer's name is sent as SNI
 * and, with verify on, is what the certificate must name; an IP literal is
 * checked as an address and sent no SNI.  The handshake starts at once: the
 * ClientHello waits (TB_TLS_SEND).  Returns NULL with a message in err. */
struct tb_tls *tb_tls_create(const struct tb_tls_ctx *ctx, struct tb_tls_cache *cache,
                             const struct tb_peer *peer, char *err, size_t errlen);

/* Free t (its SSL, BIOs and unsent bytes).  NULL: no-op. */
void tb_tls_destroy(struct tb_tls *t);

/* What the caller can do now; changes nothing. */
unsigned tb_tls_next(const struct tb_tls *t);

/* Ciphertext cipher[0..len) arrived from the peer.  *taken: how much of it
 * the pump took (less when TB_TLS_IN_MAX is reached: feed the rest after
 * reading plaintext; none once failed or after EOF; all of it, dropped,
 * after the peer's close_notify).  Drives the handshake. */
unsigned tb_tls_feed(struct tb_tls *t, const char *cipher, size_t len, size_t *taken);

/* The network's read side ended.  Input already fed is still decrypted;
 * then, without the peer's close_notify, the connection fails: TRUNCATED
 * after the handshake, HANDSHAKE during it. */
unsigned tb_tls_feed_eof(struct tb_tls *t);

/* Bytes of ciphertext waiting to be sent. */
size_t tb_tls_pending_out(const struct tb_tls *t);

/* Move up to len bytes of waiting ciphertext into buf; *got says how many.
 * Allowed in every state (after a failure it is the alert, if any). */
unsigned tb_tls_take_out(struct tb_tls *t, char *buf, size_t len, size_t *got);

/* Encrypt plaintext plain[0..len); *taken says how much was taken: all of
 * it, or less while output is over TB_TLS_OUT_MAX, nothing before the
 * handshake completes, after tb_tls_shutdown, or once failed. */
unsigned tb_tls_write(struct tb_tls *t, const char *plain, size_t len, size_t *taken);

/* Decrypt into buf[0..len) (len > 0); *got says how many bytes.  Bytes read
 * before a close or a failure found in the same call are valid (deliver
 * them, then look at the bits).  With nothing to read, READ is clear until
 * more is fed.  TLS 1.3 tickets and KeyUpdates are handled here (a reply
 * sets SEND). */
unsigned tb_tls_read(struct tb_tls *t, char *buf, size_t len, size_t *got);

/* Our half-close: queue close_notify (during the handshake: right after it).
 * The peer may go on sending its data (read on until EOF); in TLS 1.2
 * OpenSSL then ignores any handshake message from it, since it could not
 * answer one. */
unsigned tb_tls_shutdown(struct tb_tls *t);

enum tb_tls_state tb_tls_state(const struct tb_tls *t);

/* Why t failed: cause TB_TLS_NONE and an empty text unless FAILED. */
const struct tb_tls_failure *tb_tls_failure(const struct tb_tls *t);

/* "handshake", "verify", "protocol", "truncated", "internal" or "none": a
 * word for metric names and close reasons. */
const char *tb_tls_cause_name(enum tb_tls_cause cause);

/* "TLSv1.3" or "TLSv1.2" once the handshake completed; "" if it never did. */
const char *tb_tls_version(const struct tb_tls *t);

/* Did the handshake resume a session from the cache? */
bool tb_tls_resumed(const struct tb_tls *t);

#endif
