/*
 * tb_config: the rule store.  See tb_config.h.
 *
 * Rules sit in one array that grows by doubling (100,000 rules cost O(n)
 * copying); the index (tb_index) refers to them by number, so a rule is
 * entered into it once it is complete, and dropping rules (a failed load
 * undone) rebuilds the index from the rules that remain.
 */
#include "tb_config.h"
#include "tb_index.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tb_config *tb_config_create(void) {
  struct tb_config *c = calloc(1, sizeof *c);

  if (c == NULL) {
    return NULL;
  }
  c->index = tb_index_create();
  if (c->index == NULL) {
    free(c);
    return NULL;
  }
  c->connect_timeout_ms = TB_DEFAULT_CONNECT_TIMEOUT_MS;
  c->pool_size = TB_DEFAULT_POOL_SIZE;
  c->pool_max_age_ms = TB_DEFAULT_POOL_MAX_AGE_MS;
  c->idle_timeout_ms = TB_UNSET;
  c->max_lifetime_ms = TB_UNSET;
  c->identity = TB_IDENTITY_KEEP;
  return c;
}

static void rule_free(struct tb_rule *r) {
  tb_index_free_regex(r->re);
  free(r->pattern);
  free(r->ports);
}

/* An index over the first n rules; NULL when out of memory. */
static struct tb_index *index_build(const struct tb_rule *rules, size_t n) {
  struct tb_index *ix = tb_index_create();

  for (size_t i = 0; ix != NULL && i < n; i++) {
    if (tb_index_add(ix, rules[i].pattern, i) != 0) {
      tb_index_destroy(ix);
      ix = NULL;
    }
  }
  return ix;
}

/* Drop the rules from index n on (undoes a load that failed half-way). */
static void truncate_rules(struct tb_config *c, size_t n) {
  size_t had = c->nrules;

  while (c->nrules > n) {
    rule_free(&c->rules[--c->nrules]);
  }
  if (had != n) {
    /* Out of memory here leaves no index: lookups then try every rule as a
     * regex, which gives the same answers. */
    tb_index_destroy(c->index);
    c->index = index_build(c->rules, n);
  }
}

void tb_config_destroy(struct tb_config *c) {
  if (c == NULL) {
    return;
  }
  while (c->nrules > 0) {
    rule_free(&c->rules[--c->nrules]);
  }
  tb_index_destroy(c->index);
  free(c->rules);
  free(c);
}

/* Room for one more rule; doubling keeps 100,000 rules at O(n) copying. */
static int reserve(struct tb_config *c) {
  struct tb_rule *rules;
  size_t cap;

  if (c->nrules < c->cap) {
    return 0;
  }
  cap = c->cap == 0 ? 16 : c->cap * 2;
  if (cap < c->cap || cap > SIZE_MAX / sizeof *rules) {
    return -1;
  }
  rules = realloc(c->rules, cap * sizeof *rules);
  if (rules == NULL) {
    return -1;
  }
  c->rules = rules;
  c->cap = cap;
  return 0;
}

/* What is wrong with the parts of spec that the front end checked (ports,
 * settings), or NULL: the store keeps its rules valid whoever builds them. */
static const char *spec_problem(const struct tb_rule_spec *spec) {
  const struct tb_settings *s = &spec->settings;

  if (spec->nports > 0 && spec->ports == NULL) {
    return "port list missing";
  }
  for (size_t i = 0; i < spec->nports; i++) {
    if (spec->ports[i].lo == 0 || spec->ports[i].lo > spec->ports[i].hi) {
      return "port range not within 1-65535 or backwards";
    }
  }
  if (s->connect_timeout_ms != TB_UNSET &&
      (s->connect_timeout_ms == 0 || s->connect_timeout_ms > TB_TIMEOUT_MAX_S * 1000u)) {
    return "connect timeout out of range";
  }
  if ((s->idle_timeout_ms != TB_UNSET && s->idle_timeout_ms > TB_LIFETIME_MAX_S * 1000u) ||
      (s->max_lifetime_ms != TB_UNSET && s->max_lifetime_ms > TB_LIFETIME_MAX_S * 1000u)) {
    return "idle timeout or lifetime out of range";
  }
  if ((unsigned)s->identity > TB_IDENTITY_FORWARDED) {
    return "unknown client identity policy";
  }
  return NULL;
}

int tb_config_add(struct tb_config *c, const struct tb_rule_spec *spec, char *err, size_t errlen) {
  char why[1024]; /* room for a regex quoted in full and PCRE2's message */
  const char *problem = spec_problem(spec);
  struct tb_peer p;
  struct tb_port_range *ports = NULL;
  void *re = NULL;
  char *pat = NULL;
  struct tb_rule *r;

  if (problem != NULL) {
    snprintf(err, errlen, "%s: %s", spec->origin, problem);
    return -1;
  }
  if (tb_peer_parse(spec->peer, strlen(spec->peer), &p, why, sizeof why) != 0) {
    snprintf(err, errlen, "%s: %s", spec->origin, why);
    return -1;
  }
  re = tb_index_compile(spec->pattern, why, sizeof why);
  if (re == NULL) {
    snprintf(err, errlen, "%s: %s", spec->origin, why);
    return -1;
  }
  pat = strdup(spec->pattern);
  if (spec->nports > 0) {
    ports = malloc(spec->nports * sizeof *ports);
  }
  if (pat == NULL || (spec->nports > 0 && ports == NULL) || reserve(c) != 0) {
    snprintf(err, errlen, "%s: out of memory", spec->origin);
    goto fail;
  }
  if (spec->nports > 0) {
    memcpy(ports, spec->ports, spec->nports * sizeof *ports);
  }

  r = &c->rules[c->nrules++];
  memset(r, 0, sizeof *r);
  r->pattern = pat;
  r->re = re;
  r->peer = p;
  r->ports = ports;
  r->nports = spec->nports;
  r->connect_timeout_ms = spec->settings.connect_timeout_ms;
  r->idle_timeout_ms = spec->settings.idle_timeout_ms;
  r->max_lifetime_ms = spec->settings.max_lifetime_ms;
  r->identity = spec->settings.identity;
  /* cut if long: only for messages */
  snprintf(r->origin, sizeof r->origin, "%s", spec->name != NULL ? spec->name : spec->origin);
  if (c->index != NULL && tb_index_add(c->index, r->pattern, c->nrules - 1) != 0) {
    snprintf(err, errlen, "%s: out of memory", spec->origin);
    truncate_rules(c, c->nrules - 1);
    return -1;
  }
  return 0;

fail:
  tb_index_free_regex(re);
  free(pat);
  free(ports);
  return -1;
}

int tb_config_add_rule(struct tb_config *c, const char *pattern, const char *peer, const char *origin,
                       char *err, size_t errlen) {
  const struct tb_rule_spec spec = {
      .pattern = pattern,
      .peer = peer,
      .origin = origin,
      .settings = TB_SETTINGS_UNSET,
  };
  return tb_config_add(c, &spec, err, errlen);
}

void tb_config_set_defaults(struct tb_config *c, const struct tb_settings *s) {
  if (s->connect_timeout_ms != TB_UNSET) {
    c->connect_timeout_ms = s->connect_timeout_ms;
  }
  if (s->idle_timeout_ms != TB_UNSET) {
    c->idle_timeout_ms = s->idle_timeout_ms;
  }
  if (s->max_lifetime_ms != TB_UNSET) {
    c->max_lifetime_ms = s->max_lifetime_ms;
  }
  if (s->identity != TB_IDENTITY_UNSET) {
    c->identity = s->identity;
  }
}

void tb_config_undo(struct tb_config *c, const struct tb_config *saved) {
  truncate_rules(c, saved->nrules);
  c->connect_timeout_ms = saved->connect_timeout_ms;
  c->pool_size = saved->pool_size;
  c->pool_max_age_ms = saved->pool_max_age_ms;
  c->idle_timeout_ms = saved->idle_timeout_ms;
  c->max_lifetime_ms = saved->max_lifetime_ms;
  c->deny_unmatched = saved->deny_unmatched;
  c->identity = saved->identity;
}

int tb_config_check_loaded(const struct tb_config *c, char *err, size_t errlen) {
  if (c->nrules == 0) {
    snprintf(err, errlen, "no rules (expected '<regex> <peer>' pairs, --file PATH or --config PATH)");
    return -1;
  }
  return 0;
}

void tb_config_settings(const struct tb_config *c, const struct tb_rule *r, struct tb_settings *out) {
  out->connect_timeout_ms = r->connect_timeout_ms != TB_UNSET ? r->connect_timeout_ms : c->connect_timeout_ms;
  out->idle_timeout_ms = r->idle_timeout_ms != TB_UNSET ? r->idle_timeout_ms : c->idle_timeout_ms;
  out->max_lifetime_ms = r->max_lifetime_ms != TB_UNSET ? r->max_lifetime_ms : c->max_lifetime_ms;
  out->identity = r->identity != TB_IDENTITY_UNSET ? r->identity : c->identity;
}

int tb_config_lookup_port(const struct tb_config *c, const char *host, size_t len, unsigned port,
                          const struct tb_rule **rule) {
  if (c == NULL) {
    *rule = NULL;
    return 0;
  }
  return tb_index_lookup(c->index, c->rules, c->nrules, host, len, port, rule);
}

int tb_config_lookup(const struct tb_config *c, const char *host, size_t len, const struct tb_rule **rule) {
  return tb_config_lookup_port(c, host, len, 0, rule);
}

const struct tb_rule *tb_config_match(const struct tb_config *c, const char *host, size_t len) {
  const struct tb_rule *rule = NULL;
  return tb_config_lookup(c, host, len, &rule) == 0 ? rule : NULL;
}
