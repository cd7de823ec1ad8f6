/*
 * libFuzzer target: tb_resp_parse, differential.  The first 4 bytes choose up
 * to 4 split offsets (each modulo the length of the rest); the rest is parsed
 * (a) whole in one call and (b) in chunks at those offsets.  Result, status,
 * minor, reason, total and the consumed count must be identical; abort()
 * otherwise.  Also checks the documented invariants of every call.
 */
#include "tb_resp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSPLIT 4

static void check_call(const struct tb_resp *r, enum tb_resp_result res, size_t len, size_t consumed) {
  if (consumed > len) {
    abort();
  }
  if (res != TB_RESP_ERROR && res != TB_RESP_MORE && res != TB_RESP_DONE) {
    abort();
  }
  if (res == TB_RESP_MORE && consumed != len) {
    abort();
  }
  if (res == TB_RESP_ERROR && r->error == NULL) {
    abort();
  }
  if (res == TB_RESP_DONE && (r->total > TB_RESP_MAX_HEADER || r->status < 100 || r->status > 599)) {
    abort();
  }
  if (r->reason_len > TB_RESP_REASON_MAX || r->reason[r->reason_len] != '\0' ||
      strlen(r->reason) != r->reason_len) {
    abort();
  }
  for (size_t i = 0; i < r->reason_len; i++) {
    unsigned char ch = (unsigned char)r->reason[i];
    if (ch < 0x20 || ch > 0x7e) {
      abort();
    }
  }
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct tb_resp whole, split;
  enum tb_resp_result rw, rs = TB_RESP_MORE, rc;
  size_t cw = 0, cs = 0, c = 0, off[NSPLIT + 2];
  size_t nsel = size < NSPLIT ? size : NSPLIT;
  const char *buf = (const char *)data + nsel;
  size_t len = size - nsel;
  int seen_end = 0;

  /* (a) whole; a second call after the end consumes nothing. */
  tb_resp_init(&whole);
  rw = tb_resp_parse(&whole, buf, len, &cw);
  check_call(&whole, rw, len, cw);
  if (rw != TB_RESP_MORE) {
    rc = tb_resp_parse(&whole, buf + cw, len - cw, &c);
    if (rc != rw || c != 0) {
      abort();
    }
  }
  if (rw == TB_RESP_DONE && whole.total != cw) {
    abort();
  }

  /* (b) in chunks at the chosen offsets (sorted, duplicates give empty chunks). */
  off[0] = 0;
  for (size_t i = 0; i < nsel; i++) {
    off[i + 1] = len ? data[i] % (len + 1) : 0;
  }
  qsort(off + 1, nsel, sizeof off[0], cmp_size);
  off[nsel + 1] = len;
  tb_resp_init(&split);
  for (size_t i = 0; i <= nsel; i++) {
    size_t n = off[i + 1] - off[i];
    rc = tb_resp_parse(&split, buf + off[i], n, &c);
    check_call(&split, rc, n, c);
    if (seen_end) {
      if (rc != rs || c != 0) {
        abort();
      }
      continue;
    }
    rs = rc;
    cs += c;
    if (rc != TB_RESP_MORE) {
      seen_end = 1;
    }
  }

  if (rs != rw || cs != cw || split.status != whole.status || split.minor != whole.minor ||
      split.reason_len != whole.reason_len || memcmp(split.reason, whole.reason, whole.reason_len + 1) != 0 ||
      split.total != whole.total) {
    abort();
  }
  return 0;
}
