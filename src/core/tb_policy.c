/*
 * tb_policy: see tb_policy.h.
 *
 * The identities go through tb_index like rule hosts do: literal ones
 * (branch-1[.]corp[.]example, spiffe://corp[.]example/ingress/a) are found
 * in a hash table, so a policy of thousands of entries costs a CONNECT a
 * few lookups per certificate name, not thousands of regex runs.  Targets
 * are few per entry and are tried in order.
 */
#include "tb_policy.h"
#include "tb_index.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tb_policy *tb_policy_create(void) {
  struct tb_policy *p = calloc(1, sizeof *p);

  if (p == NULL) {
    return NULL;
  }
  p->index = tb_index_create();
  if (p->index == NULL) {
    free(p);
    return NULL;
  }
  return p;
}

static void targets_free(struct tb_policy_target *t, size_t n) {
  for (size_t i = 0; t != NULL && i < n; i++) {
    free(t[i].pattern);
    tb_index_free_regex(t[i].re);
    free(t[i].ports);
  }
  free(t);
}

static void entry_free(struct tb_policy_entry *e) {
  free(e->identity);
  tb_index_free_regex(e->re);
  targets_free(e->allow, e->nallow);
  targets_free(e->deny, e->ndeny);
}

void tb_policy_destroy(struct tb_policy *p) {
  if (p == NULL) {
    return;
  }
  for (size_t i = 0; i < p->n; i++) {
    entry_free(&p->entries[i]);
  }
  free(p->entries);
  free(p->res);
  tb_index_destroy(p->index);
  free(p);
}

/* Room for one more entry (and its slot in res); doubling. */
static int reserve(struct tb_policy *p) {
  size_t cap;
  struct tb_policy_entry *entries;
  void **res;

  if (p->n < p->cap) {
    return 0;
  }
  cap = p->cap == 0 ? 16 : p->cap * 2;
  if (cap < p->cap || cap > SIZE_MAX / sizeof *entries) {
    return -1;
  }
  entries = realloc(p->entries, cap * sizeof *entries);
  if (entries == NULL) {
    return -1;
  }
  p->entries = entries;
  res = realloc(p->res, cap * sizeof *res);
  if (res == NULL) {
    return -1; /* entries grew: harmless, cap stays */
  }
  p->res = res;
  p->cap = cap;
  return 0;
}

/* Copies of specs[0..n), compiled; NULL (n 0) for none.  -1 with err set. */
static int make_targets(const struct tb_policy_target_spec *specs, size_t n, struct tb_policy_target **out,
                        char *err, size_t errlen) {
  char why[1024];
  struct tb_policy_target *t;

  *out = NULL;
  if (n == 0) {
    return 0;
  }
  t = calloc(n, sizeof *t);
  if (t == NULL) {
    snprintf(err, errlen, "%s: out of memory", specs[0].origin);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    const struct tb_policy_target_spec *s = &specs[i];
    for (size_t k = 0; k < s->nports; k++) {
      if (s->ports == NULL || s->ports[k].lo == 0 || s->ports[k].lo > s->ports[k].hi) {
        snprintf(err, errlen, "%s: port range not within 1-65535 or backwards", s->origin);
        targets_free(t, n);
        return -1;
      }
    }
    const char *pattern = s->pattern != NULL ? s->pattern : "";
    t[i].re = tb_index_compile(pattern, why, sizeof why);
    if (t[i].re == NULL) {
      snprintf(err, errlen, "%s: %s", s->origin, why);
      targets_free(t, n);
      return -1;
    }
    t[i].pattern = strdup(pattern);
    t[i].ports = s->nports > 0 ? malloc(s->nports * sizeof *t[i].ports) : NULL;
    if (t[i].pattern == NULL || (s->nports > 0 && t[i].ports == NULL)) {
      snprintf(err, errlen, "%s: out of memory", s->origin);
      targets_free(t, n);
      return -1;
    }
    if (s->nports > 0) {
      memcpy(t[i].ports, s->ports, s->nports * sizeof *t[i].ports);
    }
    t[i].nports = s->nports;
  }
  *out = t;
  return 0;
}

int tb_policy_add(struct tb_policy *p, const struct tb_policy_entry_spec *spec, char *err, size_t errlen) {
  char why[1024];
  struct tb_policy_entry e;

  memset(&e, 0, sizeof e);
  const char *identity = spec->identity != NULL ? spec->identity : "";
  e.re = tb_index_compile(identity, why, sizeof why);
  if (e.re == NULL) {
    snprintf(err, errlen, "%s: %s", spec->origin, why);
    return -1;
  }
  if (make_targets(spec->allow, spec->nallow, &e.allow, err, errlen) != 0) {
    goto fail;
  }
  e.nallow = spec->nallow;
  if (make_targets(spec->deny, spec->ndeny, &e.deny, err, errlen) != 0) {
    goto fail;
  }
  e.ndeny = spec->ndeny;
  e.identity = strdup(identity);
  if (e.identity == NULL || reserve(p) != 0) {
    snprintf(err, errlen, "%s: out of memory", spec->origin);
    goto fail;
  }
  /* cut if long: only for messages */
  snprintf(e.origin, sizeof e.origin, "%s", spec->name != NULL ? spec->name : spec->origin);
  if (p->index != NULL && tb_index_add(p->index, e.identity, p->n) != 0) {
    /* The index is lost, not the entry: lookups then try every identity
     * as a regex, with the same answers. */
    tb_index_destroy(p->index);
    p->index = NULL;
  }
  p->entries[p->n] = e;
  p->res[p->n] = e.re;
  p->n++;
  return 0;

fail:
  entry_free(&e);
  return -1;
}

const char *tb_authz_result_name(enum tb_authz_result r) {
  switch (r) {
  case TB_AUTHZ_ALLOWED:
    return "allowed";
  case TB_AUTHZ_UNKNOWN_IDENTITY:
    return "unknown_identity";
  case TB_AUTHZ_DENIED:
    return "target_denied";
  case TB_AUTHZ_NOT_ALLOWED:
    return "target_not_allowed";
  case TB_AUTHZ_FAILED:
  default:
    return "failed";
  }
}

/* The first of t[0..n) that takes host[0..len):port, into *found (SIZE_MAX:
 * none).  0, or -1 when matching failed. */
static int first_target(const struct tb_policy_target *t, size_t n, const char *host, size_t len,
                        unsigned port, size_t *found) {
  *found = SIZE_MAX;
  for (size_t i = 0; i < n; i++) {
    if (!tb_port_list_ok(t[i].ports, t[i].nports, port)) {
      continue;
    }
    int m = tb_index_match_host(t[i].re, host, len);
    if (m < 0) {
      return -1;
    }
    if (m > 0) {
      *found = i;
      return 0;
    }
  }
  return 0;
}

enum tb_authz_result tb_policy_decide(const struct tb_policy *p, const struct tb_certnames *names,
                                      const char *host, size_t len, unsigned port, struct tb_authz *out) {
  size_t best = SIZE_MAX;
  size_t hit;
  const struct tb_policy_entry *e;

  memset(out, 0, sizeof *out);
  out->result = TB_AUTHZ_UNKNOWN_IDENTITY;
  if (p == NULL || names == NULL) {
    return out->result;
  }
  /* The lowest entry any name takes; among the names that take it, the
   * first in order of preference. */
  for (size_t i = 0; i < names->n; i++) {
    const struct tb_certname *nm = &names->name[i];
    size_t found;
    if (tb_index_lookup_texts(p->index, p->res, p->n, nm->text, nm->len, &found) != 0) {
      out->result = TB_AUTHZ_FAILED;
      return out->result;
    }
    if (found < best) {
      best = found;
      out->name = nm;
    }
  }
  if (best == SIZE_MAX) {
    out->name = NULL;
    return out->result;
  }
  e = &p->entries[best];
  out->entry = e;
  out->entry_number = best + 1;
  if (first_target(e->deny, e->ndeny, host, len, port, &hit) != 0) {
    out->result = TB_AUTHZ_FAILED;
    return out->result;
  }
  if (hit != SIZE_MAX) {
    out->target = &e->deny[hit];
    out->target_number = hit + 1;
    out->result = TB_AUTHZ_DENIED;
    return out->result;
  }
  if (first_target(e->allow, e->nallow, host, len, port, &hit) != 0) {
    out->result = TB_AUTHZ_FAILED;
    return out->result;
  }
  if (hit != SIZE_MAX) {
    out->target = &e->allow[hit];
    out->target_number = hit + 1;
    out->result = TB_AUTHZ_ALLOWED;
    return out->result;
  }
  out->result = TB_AUTHZ_NOT_ALLOWED;
  return out->result;
}
