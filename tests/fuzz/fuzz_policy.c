/*
 * libFuzzer target: the peer role's policy, loaded from YAML and asked.
 * The input is a configuration file (up to 64 KiB); if it loads as a
 * peer-role file, each of its lines (split on '\n') is also asked for as
 * "NAME HOST" at a port derived from the line, with the line's first word
 * as a certificate name and its second as the target host.  Checks: the
 * index gives the answer trying every identity in order gives (the same
 * result and entry); an allowed or denied answer names an entry whose
 * identity matches the name reported and a target that takes the host and
 * port; an unknown identity names no entry; the explanation line is
 * terminated.  A failure (a PCRE2 limit) is not compared.
 */
#include "tb_explain.h"
#include "tb_index.h"
#include "tb_yaml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 65536

static void ask(struct tb_config *c, const char *line, size_t len, unsigned port) {
  static struct tb_certnames names;
  const char *sp = memchr(line, ' ', len);
  size_t nlen = sp != NULL ? (size_t)(sp - line) : len;
  const char *host = sp != NULL ? sp + 1 : "h";
  size_t hlen = sp != NULL ? len - nlen - 1 : 1;
  struct tb_authz with;
  struct tb_authz without;
  char buf[TB_EXPLAIN_MAX];

  tb_certnames_init(&names);
  (void)tb_certnames_add(&names, TB_CERTNAME_GIVEN, line, nlen); /* may be skipped: then no names */
  enum tb_authz_result r1 = tb_policy_decide(c->policy, &names, host, hlen, port, &with);
  struct tb_index *ix = c->policy->index;
  c->policy->index = NULL;
  enum tb_authz_result r2 = tb_policy_decide(c->policy, &names, host, hlen, port, &without);
  c->policy->index = ix;
  if (r1 == TB_AUTHZ_FAILED || r2 == TB_AUTHZ_FAILED) {
    return;
  }
  if (r1 != r2 || with.entry_number != without.entry_number || with.target_number != without.target_number) {
    abort();
  }
  if (r1 == TB_AUTHZ_UNKNOWN_IDENTITY) {
    if (with.entry != NULL || with.name != NULL) {
      abort();
    }
    return;
  }
  size_t found = SIZE_MAX;
  if (with.entry == NULL || with.name == NULL ||
      tb_index_lookup_texts(NULL, &with.entry->re, 1, with.name->text, with.name->len, &found) != 0 || found != 0) {
    abort();
  }
  if (r1 == TB_AUTHZ_ALLOWED || r1 == TB_AUTHZ_DENIED) {
    const struct tb_policy_target *t = with.target;
    if (t == NULL || !tb_port_list_ok(t->ports, t->nports, port) || tb_index_match_host(t->re, host, hlen) != 1) {
      abort();
    }
  } else if (with.target != NULL) {
    abort();
  }
  memset(buf, 'x', sizeof buf);
  (void)tb_policy_explain(c, &names, host, hlen, port, 0, NULL, buf, sizeof buf);
  if (memchr(buf, '\0', sizeof buf) == NULL) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[1024];
  struct tb_config *c;
  if (size > MAX_INPUT) {
    return 0;
  }
  c = tb_config_create();
  if (c == NULL) {
    return 0;
  }
  memset(err, 'x', sizeof err);
  if (tb_config_load_yaml_text(c, (const char *)data, size, "p.yaml", NULL, err, sizeof err) != 0) {
    if (memchr(err, '\0', sizeof err) == NULL || c->policy != NULL || c->role != TB_ROLE_INGRESS) {
      abort();
    }
  } else if (c->role == TB_ROLE_PEER) {
    if (c->policy == NULL || c->policy->n == 0 || c->nrules != 0) {
      abort();
    }
    const char *text = (const char *)data;
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
      if (i == size || text[i] == '\n') {
        if (i > start) {
          ask(c, text + start, i - start, (unsigned)((i * 7919u) % 65536u));
        }
        start = i + 1;
      }
    }
  }
  tb_config_destroy(c);
  return 0;
}
