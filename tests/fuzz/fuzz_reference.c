/*
 * libFuzzer target: tb_reference_rule, whose reader of regex text is hand
 * written (tb_reference.c), and tb_config_explain.  The input up to its
 * first NUL byte is a rule's pattern (peer "p", no port); if it compiles,
 * the rule is compared with the reference and explained for the rest of the
 * input as a host.  Checks: at most one note per kind, in order, each
 * terminated within its buffer; the explanation terminated.  Inputs over
 * 256 bytes are skipped (each comparison compiles and runs a few regexes).
 */
#include "tb_config.h"
#include "tb_explain.h"
#include "tb_reference.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char buf[MAX_INPUT + 1];
  char err[512];
  char line[TB_EXPLAIN_MAX];
  struct tb_ref_note notes[TB_REF_KINDS];
  struct tb_config *c;
  size_t plen;
  int n;

  if (size > MAX_INPUT) {
    return 0;
  }
  memcpy(buf, data, size);
  buf[size] = '\0';
  plen = strlen(buf);
  c = tb_config_create();
  if (c == NULL) {
    return 0;
  }
  if (tb_config_add_rule(c, buf, "p", "fuzz", err, sizeof err) != 0) {
    tb_config_destroy(c);
    return 0;
  }
  memset(notes, 'x', sizeof notes);
  n = tb_reference_rule(&c->rules[0], notes);
  if (n < -1 || n > TB_REF_KINDS) {
    abort();
  }
  for (int i = 0; i < n; i++) {
    if ((i > 0 && notes[i].kind <= notes[i - 1].kind) ||
        memchr(notes[i].text, '\0', TB_REF_NOTE_MAX) == NULL) {
      abort();
    }
  }
  if (n >= 0 && (n == 0 || notes[n - 1].kind != TB_REF_PEER_PORT)) {
    abort(); /* peer "p" has no port: that note is always there, and last (no port list) */
  }
  memset(line, 'x', sizeof line);
  (void)tb_config_explain(c, buf + plen + (plen < size), size - plen - (plen < size), 443, 0, line,
                          sizeof line);
  if (memchr(line, '\0', sizeof line) == NULL) {
    abort();
  }
  tb_config_destroy(c);
  return 0;
}
