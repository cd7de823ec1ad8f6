/*
 * How fuzz_tls drives the pump, shared with the corpus generator (which
 * records a real server's answers to exactly this client, then replays
 * them through tls_drive to check that they still reach the same end).
 *
 * The client: verification off, no certificate, peer "peer.test", its
 * randomness from tls_det_rand.h reset before it is made, so its
 * ClientHello (and every key share) is the same on every run.
 *
 * An input is [flags][chunking][bytes from the server...]:
 *   flags     DRIVE_EOF: the network closes after the last byte;
 *             DRIVE_SHUT: our close_notify as soon as the pump is open;
 *             DRIVE_WRITE: a request written whenever the pump takes one;
 *             DRIVE_SMALL: plaintext read 1..16 bytes at a time
 *   chunking  0: the server's bytes fed in one call; k: in chunks of
 *             1..16k bytes (from a PRNG seeded with k)
 * After every call the bits must agree with the state, the state may only
 * move forward, the failure text must be NUL-terminated (and set exactly
 * when failed), output stays bounded and OpenSSL's error queue is empty;
 * anything else aborts.
 */
#ifndef FUZZ_TLS_DRIVE_H
#define FUZZ_TLS_DRIVE_H

#include "tb_tls.h"
#include "tls_det_rand.h"

#include <openssl/err.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DRIVE_EOF 1u
#define DRIVE_SHUT 2u
#define DRIVE_WRITE 4u
#define DRIVE_SMALL 8u

#define DRIVE_REQUEST "CONNECT origin.test:443 HTTP/1.1\r\nHost: origin.test:443\r\n\r\n"

struct drive {
  struct tb_tls *t;
  enum tb_tls_state last; /* the state after the previous call */
  unsigned char *out;     /* where output goes (the generator), or NULL: dropped */
  size_t out_cap, out_len;
  unsigned writes; /* requests written */
};

static struct tb_tls_ctx *drive_ctx(void) {
  struct tb_tls_config cfg = {NULL, NULL, NULL, NULL, false};
  char err[256];
  struct tb_tls_ctx *c = tb_tls_ctx_create(&cfg, err, sizeof err);
  if (c == NULL) {
    abort();
  }
  return c;
}

static void drive_check(struct drive *d, unsigned bits) {
  enum tb_tls_state st = tb_tls_state(d->t);
  const struct tb_tls_failure *f = tb_tls_failure(d->t);
  size_t out = tb_tls_pending_out(d->t);

  if (bits != tb_tls_next(d->t) || !!(bits & TB_TLS_SEND) != (out > 0) ||
      !!(bits & TB_TLS_ERROR) != (st == TB_TLS_FAILED) ||
      !!(bits & TB_TLS_DONE) != (st == TB_TLS_FAILED || st == TB_TLS_CLOSED)) {
    abort();
  }
  if ((bits & (TB_TLS_READ | TB_TLS_WRITE)) && st != TB_TLS_OPEN) {
    abort();
  }
  if (out > TB_TLS_OUT_MAX + TB_TLS_RECORD_MAX + 512) {
    abort();
  }
  if (memchr(f->text, '\0', sizeof f->text) == NULL || (st == TB_TLS_FAILED) != (f->cause != TB_TLS_NONE) ||
      (st == TB_TLS_FAILED) != (f->text[0] != '\0')) {
    abort();
  }
  /* Forward only: HANDSHAKING, OPEN, then CLOSED or FAILED for good. */
  if (st < d->last || (d->last == TB_TLS_CLOSED && st != TB_TLS_CLOSED)) {
    abort();
  }
  if (ERR_peek_error() != 0) {
    abort();
  }
  d->last = st;
}

/* The client, fresh, with its ClientHello taken (into d->out if set). */
static void drive_start(struct drive *d, struct tb_tls_ctx *ctx, unsigned char *out, size_t out_cap) {
  struct tb_peer peer;
  char err[256];

  memset(d, 0, sizeof *d);
  d->out = out;
  d->out_cap = out_cap;
  det_rand_reset();
  det_rand_role(DET_CLIENT);
  if (tb_peer_parse("peer.test", 9, &peer, err, sizeof err) != 0) {
    abort();
  }
  d->t = tb_tls_create(ctx, NULL, &peer, err, sizeof err);
  if (d->t == NULL) {
    abort();
  }
  d->last = TB_TLS_HANDSHAKING;
  drive_check(d, tb_tls_next(d->t));
}

/* Everything the caller would do now: send, read, write, shut down. */
static void drive_service(struct drive *d, unsigned flags) {
  char buf[4096];
  size_t n, got, cap;
  unsigned bits;

  for (;;) {
    bits = tb_tls_take_out(d->t, buf, sizeof buf, &got);
    drive_check(d, bits);
    if (got > sizeof buf) {
      abort();
    }
    if (got == 0) {
      break;
    }
    if (d->out != NULL) {
      if (d->out_len + got > d->out_cap) {
        abort();
      }
      memcpy(d->out + d->out_len, buf, got);
      d->out_len += got;
    }
  }
  cap = (flags & DRIVE_SMALL) ? 1 + (d->writes % 16) : sizeof buf;
  while (tb_tls_next(d->t) & TB_TLS_READ) {
    bits = tb_tls_read(d->t, buf, cap, &got);
    drive_check(d, bits);
    if (got > cap || (got == 0 && (bits & TB_TLS_READ))) {
      abort(); /* READ after reading nothing: a caller would spin */
    }
  }
  if ((flags & DRIVE_WRITE) && (tb_tls_next(d->t) & TB_TLS_WRITE) && d->writes < 4) {
    bits = tb_tls_write(d->t, DRIVE_REQUEST, sizeof DRIVE_REQUEST - 1, &n);
    drive_check(d, bits);
    if (n > sizeof DRIVE_REQUEST - 1) {
      abort();
    }
    d->writes++;
  }
  if ((flags & DRIVE_SHUT) && tb_tls_state(d->t) == TB_TLS_OPEN) {
    drive_check(d, tb_tls_shutdown(d->t));
  }
  if (tb_tls_pending_out(d->t) > 0) {
    drive_service(d, flags & ~DRIVE_WRITE); /* the request or close_notify just made */
  }
}

static uint64_t drive_rand(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* Feed p[0..len) to d as the input's chunking says, serving after each. */
static void drive_feed(struct drive *d, unsigned flags, unsigned chunking, const uint8_t *p, size_t len) {
  uint64_t s = 0x9e3779b97f4a7c15ull ^ chunking;
  size_t off = 0;

  while (off < len) {
    size_t n = chunking == 0 ? len - off : 1 + (size_t)(drive_rand(&s) % (16u * chunking));
    size_t taken = 0;
    unsigned bits;
    if (n > len - off) {
      n = len - off;
    }
    bits = tb_tls_feed(d->t, (const char *)p + off, n, &taken);
    drive_check(d, bits);
    if (taken > n) {
      abort();
    }
    off += taken;
    drive_service(d, flags);
    if (taken == 0 && !(tb_tls_next(d->t) & TB_TLS_RECV)) {
      break; /* failed, or fed past EOF: the rest is not wanted */
    }
  }
}

/* One whole input; returns the end state, and the failure's text in why. */
static enum tb_tls_state tls_drive(struct tb_tls_ctx *ctx, const uint8_t *data, size_t size, char *why,
                                   size_t whylen) {
  struct drive d;
  unsigned flags = size > 0 ? data[0] : 0, chunking = size > 1 ? data[1] : 0;
  enum tb_tls_state st;

  drive_start(&d, ctx, NULL, 0);
  drive_service(&d, flags);
  if (size > 2) {
    drive_feed(&d, flags, chunking, data + 2, size - 2);
  }
  if (flags & DRIVE_EOF) {
    drive_check(&d, tb_tls_feed_eof(d.t));
    drive_service(&d, flags);
  }
  st = tb_tls_state(d.t);
  if (why != NULL && whylen > 0) {
    memcpy(why, tb_tls_failure(d.t)->text, whylen < TB_TLS_TEXT_MAX ? whylen : TB_TLS_TEXT_MAX);
    why[whylen - 1] = '\0';
  }
  tb_tls_destroy(d.t);
  return st;
}

#endif
