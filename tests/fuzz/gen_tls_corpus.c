/*
 * Writes fuzz_tls's seed corpus: what real OpenSSL servers (tb_tls_peer.h)
 * send to fuzz_tls's fixed client, one file per kind of exchange, each
 * [flags][chunking][server bytes] (fuzz_tls_drive.h).  All randomness is
 * deterministic (tls_det_rand.h: the PKI, the server's and the client's),
 * so the same bytes come out every time but inside the session tickets,
 * whose encrypted contents carry the time.  After writing a file it is
 * replayed through tls_drive, as the fuzzer will, and must end as the live
 * exchange did: if OpenSSL stopped drawing its randomness through
 * RAND_METHOD the replay would fail at the first encrypted record, and this
 * says so instead of writing seeds that go nowhere.
 *
 *   make fuzz-corpus-tls      (writes tests/fuzz/corpus/tls/)
 */
#include "fuzz_tls_drive.h"

#include "../unit/tb_tls_peer.h"

#include <stdio.h>

#define CAP (1u << 20)

enum after {
  AFTER_CLOSE,    /* answer, then close_notify when the client's has come */
  AFTER_TRUNCATE, /* answer, then nothing: the network closes (DRIVE_EOF) */
  AFTER_RENEG,    /* answer, then HelloRequest (TLS 1.2) */
  AFTER_KEYUPDATE /* KeyUpdate (update requested), answer, close */
};

struct spec {
  const char *file;
  int min, max;
  enum tp_client_cert cc;
  const char *groups;  /* the server's key exchange groups, NULL: OpenSSL's */
  const char *ciphers; /* the server's TLS 1.2 suites, NULL: OpenSSL's */
  enum after after;
  unsigned flags, chunking;
  const char *raw; /* not TLS: these bytes are the server's */
};

static const struct spec specs[] = {
    {"tls13", 0, 0, TP_NO_CLIENT_CERT, NULL, NULL, AFTER_CLOSE, DRIVE_WRITE | DRIVE_SHUT | DRIVE_EOF, 0,
     NULL},
    {"tls13-cert-request", 0, 0, TP_ASK_CLIENT_CERT, NULL, NULL, AFTER_CLOSE, DRIVE_WRITE | DRIVE_SHUT, 3,
     NULL},
    {"tls13-cert-required", 0, 0, TP_REQUIRE_CLIENT_CERT, NULL, NULL, AFTER_CLOSE, DRIVE_WRITE, 0, NULL},
    {"tls13-hrr", 0, 0, TP_NO_CLIENT_CERT, "P-256", NULL, AFTER_CLOSE, DRIVE_WRITE | DRIVE_SHUT, 1, NULL},
    {"tls13-keyupdate", TLS1_3_VERSION, 0, TP_NO_CLIENT_CERT, NULL, NULL, AFTER_KEYUPDATE,
     DRIVE_WRITE | DRIVE_SHUT | DRIVE_SMALL, 0, NULL},
    {"tls13-truncated", 0, 0, TP_NO_CLIENT_CERT, NULL, NULL, AFTER_TRUNCATE, DRIVE_WRITE | DRIVE_EOF, 0,
     NULL},
    {"tls12", 0, TLS1_2_VERSION, TP_NO_CLIENT_CERT, NULL, NULL, AFTER_CLOSE,
     DRIVE_WRITE | DRIVE_SHUT | DRIVE_EOF, 0, NULL},
    {"tls12-cbc", 0, TLS1_2_VERSION, TP_ASK_CLIENT_CERT, NULL, "ECDHE-ECDSA-AES128-SHA", AFTER_CLOSE,
     DRIVE_WRITE | DRIVE_SHUT, 2, NULL},
    {"tls12-cert-required", 0, TLS1_2_VERSION, TP_REQUIRE_CLIENT_CERT, NULL, NULL, AFTER_CLOSE, DRIVE_WRITE,
     0, NULL},
    {"tls12-reneg", 0, TLS1_2_VERSION, TP_NO_CLIENT_CERT, NULL, NULL, AFTER_RENEG, DRIVE_WRITE, 0, NULL},
    {"not-tls", 0, 0, TP_NO_CLIENT_CERT, NULL, NULL, AFTER_CLOSE, DRIVE_EOF, 0,
     "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"},
};

struct exch {
  const struct spec *sp;
  struct drive d;       /* the client; its output goes to c2s */
  struct tp_server srv; /* the server */
  unsigned char *c2s;   /* the client's output not yet given to the server (d.out) */
  unsigned char *s2c;   /* the server's output of this round */
  size_t s2c_len;
  unsigned char *rec; /* everything the server sent, in order */
  size_t rec_len;
  bool s_open, s_failed, s_got_close, s_sent_close, s_answered;
};

static void append(unsigned char *buf, size_t *len, const void *p, size_t n) {
  if (*len + n > CAP) {
    fprintf(stderr, "gen_tls_corpus: more than %u bytes\n", CAP);
    exit(1);
  }
  memcpy(buf + *len, p, n);
  *len += n;
}

/* The server takes what the client sent and does its part; its output goes
 * to s2c and rec.  Its randomness comes from the server's stream. */
static void server_round(struct exch *e) {
  SSL *s = e->srv.ssl;
  unsigned char buf[16384];
  int rc;

  det_rand_role(DET_SERVER);
  e->s2c_len = 0;
  if (e->d.out_len > 0 && BIO_write(e->srv.in, e->c2s, (int)e->d.out_len) != (int)e->d.out_len) {
    exit(1);
  }
  e->d.out_len = 0;
  if (!e->s_open && !e->s_failed) {
    rc = SSL_do_handshake(s);
    if (rc == 1) {
      e->s_open = true;
    } else if (SSL_get_error(s, rc) != SSL_ERROR_WANT_READ) {
      e->s_failed = true;
    }
  }
  if (e->s_open && !e->s_failed) {
    size_t got = 0, n;
    while (!e->s_got_close) {
      rc = SSL_read_ex(s, buf, sizeof buf, &n);
      if (rc == 1) {
        got += n;
        continue;
      }
      rc = SSL_get_error(s, rc);
      if (rc == SSL_ERROR_ZERO_RETURN) {
        e->s_got_close = true;
      } else if (rc != SSL_ERROR_WANT_READ) {
        e->s_failed = true;
      }
      break;
    }
    if (!e->s_failed && !e->s_answered && (got > 0 || e->s_got_close)) {
      static const char head[] = "HTTP/1.1 200 Connection established\r\n\r\n";
      e->s_answered = true;
      if (e->sp->after == AFTER_KEYUPDATE && SSL_key_update(s, SSL_KEY_UPDATE_REQUESTED) != 1) {
        exit(1);
      }
      for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] = (unsigned char)('a' + i % 26);
      }
      memcpy(buf, head, sizeof head - 1);
      if (SSL_write_ex(s, buf, 3000, &n) != 1) {
        exit(1);
      }
      if (e->sp->after == AFTER_RENEG) {
        if (SSL_renegotiate(s) != 1) {
          exit(1);
        }
        (void)SSL_do_handshake(s);
      }
    }
    if ((e->sp->after == AFTER_CLOSE || e->sp->after == AFTER_KEYUPDATE) && e->s_answered && e->s_got_close &&
        !e->s_sent_close) {
      e->s_sent_close = true;
      (void)SSL_shutdown(s);
    }
  }
  for (;;) {
    int n = BIO_read(e->srv.out, buf, sizeof buf);
    if (n <= 0) {
      break;
    }
    append(e->s2c, &e->s2c_len, buf, (size_t)n);
    append(e->rec, &e->rec_len, buf, (size_t)n);
  }
  ERR_clear_error();
  det_rand_role(DET_CLIENT);
}

static int one(const char *dir, const struct spec *sp, const struct tp_pki *pki, struct tb_tls_ctx *ctx) {
  struct exch e;
  SSL_CTX *sctx = NULL;
  enum tb_tls_state live, replay;
  char live_why[TB_TLS_TEXT_MAX], replay_why[TB_TLS_TEXT_MAX], path[512];
  unsigned char *file;
  FILE *f;

  memset(&e, 0, sizeof e);
  e.sp = sp;
  e.c2s = malloc(CAP);
  e.s2c = malloc(CAP);
  e.rec = malloc(CAP);
  file = malloc(CAP + 2);
  if (e.c2s == NULL || e.s2c == NULL || e.rec == NULL || file == NULL) {
    return 1;
  }
  if (sp->raw == NULL) {
    det_rand_role(DET_SERVER);
    sctx = tp_server_ctx(pki, sp->min, sp->max, sp->cc);
    if (sctx == NULL || (sp->groups != NULL && SSL_CTX_set1_groups_list(sctx, sp->groups) != 1) ||
        (sp->ciphers != NULL && SSL_CTX_set_cipher_list(sctx, sp->ciphers) != 1)) {
      fprintf(stderr, "gen_tls_corpus: %s: server settings\n", sp->file);
      return 1;
    }
  }
  drive_start(&e.d, ctx, e.c2s, CAP); /* resets the randomness */
  drive_service(&e.d, sp->flags);
  if (sp->raw != NULL) {
    append(e.rec, &e.rec_len, sp->raw, strlen(sp->raw));
    drive_feed(&e.d, sp->flags, 0, e.rec, e.rec_len);
  } else {
    det_rand_role(DET_SERVER);
    if (!tp_server_new(&e.srv, sctx)) {
      return 1;
    }
    det_rand_role(DET_CLIENT);
    for (int round = 0; round < 64; round++) {
      size_t sent = e.d.out_len;
      server_round(&e);
      if (e.s2c_len == 0 && sent == 0) {
        break;
      }
      drive_feed(&e.d, sp->flags, 0, e.s2c, e.s2c_len);
    }
  }
  if (sp->flags & DRIVE_EOF) {
    drive_check(&e.d, tb_tls_feed_eof(e.d.t));
    drive_service(&e.d, sp->flags);
  }
  live = tb_tls_state(e.d.t);
  snprintf(live_why, sizeof live_why, "%s", tb_tls_failure(e.d.t)->text);
  tb_tls_destroy(e.d.t);
  if (sp->raw == NULL) {
    tp_server_free(&e.srv);
    SSL_CTX_free(sctx);
  }

  file[0] = (unsigned char)sp->flags;
  file[1] = (unsigned char)sp->chunking;
  memcpy(file + 2, e.rec, e.rec_len);
  snprintf(path, sizeof path, "%s/%s", dir, sp->file);
  f = fopen(path, "wb");
  if (f == NULL || fwrite(file, 1, e.rec_len + 2, f) != e.rec_len + 2 || fclose(f) != 0) {
    fprintf(stderr, "gen_tls_corpus: cannot write %s\n", path);
    return 1;
  }
  replay = tls_drive(ctx, file, e.rec_len + 2, replay_why, sizeof replay_why);
  printf("%-22s %6zu bytes  %s%s%s\n", sp->file, e.rec_len + 2,
         live == TB_TLS_CLOSED   ? "closed"
         : live == TB_TLS_FAILED ? "failed: "
         : live == TB_TLS_OPEN   ? "open"
                                 : "handshaking",
         live_why, replay == live && strcmp(replay_why, live_why) == 0 ? "" : "  (REPLAY DIFFERS)");
  free(e.c2s);
  free(e.s2c);
  free(e.rec);
  free(file);
  if (replay != live || strcmp(replay_why, live_why) != 0) {
    fprintf(stderr, "gen_tls_corpus: %s: the replay ended %d '%s', the live exchange %d '%s'\n", sp->file,
            replay, replay_why, live, live_why);
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  struct tp_pki pki;
  struct tb_tls_ctx *ctx;
  int rc = 0;

  if (argc != 2) {
    fprintf(stderr, "usage: gen_tls_corpus DIR\n");
    return 2;
  }
  if (det_rand_install() != 1) {
    fprintf(stderr, "gen_tls_corpus: cannot install the deterministic RAND_METHOD\n");
    return 1;
  }
  det_rand_reset();
  det_rand_role(DET_SERVER);
  if (!tp_pki_make(&pki)) {
    return 1;
  }
  ctx = drive_ctx();
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
    rc |= one(argv[1], &specs[i], &pki, ctx);
  }
  tb_tls_ctx_destroy(ctx);
  tp_pki_free(&pki);
  return rc;
}
