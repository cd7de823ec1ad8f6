/*
 * libFuzzer target: the matcher against PCRE2 itself.  The input's first
 * line is a regex (at most 200 bytes); the rest, split on '\n', are hosts.
 * With the regex as the only rule, tb_config_lookup must agree with
 * pcre2_match run directly on the rule's compiled code (one trailing dot
 * dropped, an empty host matching nothing), whatever the index decides.
 * A lookup that fails (-1: a PCRE2 limit) is not compared.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "tb_config.h"

#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PATTERN 200

static int brute(const struct tb_config *c, const char *host, size_t len, int *failed) {
  pcre2_match_data *md;
  int rc;
  *failed = 0;
  if (len > 0 && host[len - 1] == '.') {
    len--;
  }
  if (len == 0) {
    return 0;
  }
  md = pcre2_match_data_create(1, NULL);
  if (md == NULL) {
    *failed = 1;
    return 0;
  }
  rc = pcre2_match(c->rules[0].re, (PCRE2_SPTR)host, len, 0, 0, md, NULL);
  pcre2_match_data_free(md);
  if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
    *failed = 1;
  }
  return rc >= 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *in = (const char *)data;
  const char *nl = memchr(in, '\n', size);
  size_t patlen = nl ? (size_t)(nl - in) : size;
  char pattern[MAX_PATTERN + 1];
  char err[512];
  struct tb_config *c;

  if (patlen == 0 || patlen > MAX_PATTERN || memchr(in, '\0', patlen) != NULL) {
    return 0;
  }
  memcpy(pattern, in, patlen);
  pattern[patlen] = '\0';
  c = tb_config_create();
  if (c == NULL) {
    return 0;
  }
  if (tb_config_add_rule(c, pattern, "peer.example:443", "fuzz", err, sizeof err) != 0) {
    tb_config_destroy(c);
    return 0;
  }
  if (c->nrules != 1) {
    abort();
  }
  if (nl != NULL) {
    const char *p = nl + 1, *end = in + size;
    while (p <= end) {
      const char *e = memchr(p, '\n', (size_t)(end - p));
      size_t len = e ? (size_t)(e - p) : (size_t)(end - p);
      const struct tb_rule *rule = NULL;
      int failed;
      int rc = tb_config_lookup(c, p, len, &rule);
      int want = brute(c, p, len, &failed);
      if (rc == 0 && !failed && (rule != NULL) != want) {
        abort();
      }
      if (rule != NULL && rule != &c->rules[0]) {
        abort();
      }
      if (e == NULL) {
        break;
      }
      p = e + 1;
    }
  }
  tb_config_destroy(c);
  return 0;
}
