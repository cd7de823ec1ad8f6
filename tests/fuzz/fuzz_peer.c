/*
 * libFuzzer target: tb_peer_parse on arbitrary bytes.  On success the peer
 * must format, and the formatted text must parse back to an equal struct.
 * err is always NUL-terminated.
 */
#include "tb_peer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(const char *err, size_t errlen) {
  if (memchr(err, '\0', errlen) == NULL) {
    abort();
  }
}

static int peer_eq(const struct tb_peer *a, const struct tb_peer *b) {
  return strcmp(a->host, b->host) == 0 && a->port == b->port && a->ipv6 == b->ipv6;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct tb_peer p, q;
  char err[256], small[8], text[1024];
  int n;

  memset(err, 'x', sizeof err);
  int rc = tb_peer_parse((const char *)data, size, &p, err, sizeof err);
  check_err(err, sizeof err);
  /* A tiny error buffer must still be terminated. */
  memset(small, 'x', sizeof small);
  if ((tb_peer_parse((const char *)data, size, &q, small, sizeof small) == 0) != (rc == 0)) {
    abort();
  }
  if (rc != 0) {
    check_err(small, sizeof small);
    return 0;
  }
  if (p.port == 0 || memchr(p.host, '\0', sizeof p.host) == NULL || p.host[0] == '\0') {
    abort();
  }
  n = tb_peer_format(&p, text, sizeof text);
  if (n < 0 || (size_t)n != strlen(text)) {
    abort();
  }
  memset(&q, 0, sizeof q);
  memset(err, 'x', sizeof err);
  if (tb_peer_parse(text, (size_t)n, &q, err, sizeof err) != 0) {
    abort();
  }
  if (!peer_eq(&p, &q)) {
    abort();
  }
  return 0;
}
