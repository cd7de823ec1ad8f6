/*
 * tb_config: the rule store.  See tb_config.h.
 *
 * Rules sit in one array that grows by doubling (100,000 rules cost O(n)
 * copying); the index (tb_index) refers to them by number, so a rule is
 * entered into it once it is complete, and dropping rules (a failed load
 * undone) rebuilds the index from the rules that remain.  The distinct
 * peers sit in a second array, found through a hash index (tb_hashix, with
 * tb_peer_hash and tb_peer_same) so that 100,000 rules with as many peers
 * load in O(n); dropping rules drops the peers first named after them.  The
 * distinct transports are kept the same way, in a third array.
 */
#include "tb_config.h"
#include "tb_index.h"
#include "tb_text.h"

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
  c->transports = calloc(1, sizeof *c->transports);
  if (c->index == NULL || c->transports == NULL) {
    tb_index_destroy(c->index);
    free(c->transports);
    free(c);
    return NULL;
  }
  c->transports[0] = (struct tb_transport)TB_TRANSPORT_ATS;
  c->transport0 = c->transports[0];
  c->ntransports = 1;
  c->transports_cap = 1;
  c->connect_timeout_ms = TB_DEFAULT_CONNECT_TIMEOUT_MS;
  c->pool_size = TB_DEFAULT_POOL_SIZE;
  c->pool_max_age_ms = TB_DEFAULT_POOL_MAX_AGE_MS;
  c->idle_timeout_ms = TB_UNSET;
  c->max_lifetime_ms = TB_UNSET;
  c->identity = TB_IDENTITY_KEEP;
  c->health_failures = TB_HEALTH_FAILURES_DEFAULT;
  c->health_down_for_ms = TB_HEALTH_DOWN_FOR_DEFAULT_MS;
  return c;
}

static void peers_free(struct tb_rule_peer *peers, size_t n) {
  for (size_t i = 0; peers != NULL && i < n; i++) {
    free(peers[i].tpl);
  }
  free(peers);
}

static void rule_free(struct tb_rule *r) {
  tb_index_free_regex(r->re);
  free(r->pattern);
  free(r->ports);
  free(r->clients);
  peers_free(r->peers, r->npeers);
}

const char *tb_role_name(enum tb_role role) {
  return role == TB_ROLE_PEER ? "peer" : "ingress";
}

/* ---- the table of distinct peers ---------------------------------------- */

/* Index of the peer equal to p, or SIZE_MAX. */
static size_t peer_find(const struct tb_config *c, const struct tb_peer *p) {
  uint64_t h = tb_peer_hash(p);
  size_t pos = 0;
  size_t i;

  while ((i = tb_hashix_next(&c->peer_ix, h, c->npeers, &pos)) != SIZE_MAX) {
    if (tb_peer_same(&c->peers[i], p)) {
      return i;
    }
  }
  return SIZE_MAX;
}

/* The hash index over the peers, cap slots; out of memory leaves none
 * (peer_find then scans: slower, the same answers). */
static void peer_ix_build(struct tb_config *c, size_t cap) {
  (void)tb_hashix_reset(&c->peer_ix, cap);
  for (size_t k = 0; k < c->npeers; k++) {
    tb_hashix_put(&c->peer_ix, tb_peer_hash(&c->peers[k]), k);
  }
}

/* Room for one more item in an array that grows by doubling: *items
 * (nitems used of *cap, each size bytes) reallocated when full.  Returns 0,
 * or -1 when out of memory (or the size would overflow). */
static int grow(void **items, size_t nitems, size_t *cap, size_t size) {
  size_t ncap = *cap == 0 ? 16 : *cap * 2;
  void *p;

  if (nitems < *cap) {
    return 0;
  }
  if (ncap < *cap || ncap > SIZE_MAX / 4 / size) {
    return -1;
  }
  p = realloc(*items, ncap * size);
  if (p == NULL) {
    return -1;
  }
  *items = p;
  *cap = ncap;
  return 0;
}

/* The index of p in c->peers, added when new; -1 when out of memory. */
static int peer_intern(struct tb_config *c, const struct tb_peer *p, size_t *index) {
  size_t found = peer_find(c, p);
  void *peers = c->peers;

  if (found != SIZE_MAX) {
    *index = found;
    return 0;
  }
  if (grow(&peers, c->npeers, &c->peers_cap, sizeof *c->peers) != 0) {
    return -1;
  }
  c->peers = peers;
  c->peers[c->npeers++] = *p;
  if (!tb_hashix_has_room(&c->peer_ix, c->npeers + 1)) { /* load <= 3/4 */
    peer_ix_build(c, c->peers_cap * 2);
  } else {
    tb_hashix_put(&c->peer_ix, tb_peer_hash(p), c->npeers - 1);
  }
  *index = c->npeers - 1;
  return 0;
}

/* Drop the peers from index n on (those first named by rules now gone). */
static void truncate_peers(struct tb_config *c, size_t n) {
  if (c->npeers > n) {
    c->npeers = n;
    peer_ix_build(c, c->peer_ix.cap);
  }
}

/* ---- the table of distinct transports ----------------------------------- */

/* Index of the rule's own transport equal to t (never 0, the default), or
 * SIZE_MAX. */
static size_t transport_find(const struct tb_config *c, const struct tb_transport *t) {
  uint64_t h = tb_transport_hash(t);
  size_t pos = 0;
  size_t i;

  while ((i = tb_hashix_next(&c->transport_ix, h, c->ntransports, &pos)) != SIZE_MAX) {
    if (i > 0 && tb_transport_same(&c->transports[i], t)) {
      return i;
    }
  }
  return SIZE_MAX;
}

static void transport_ix_build(struct tb_config *c, size_t cap) {
  (void)tb_hashix_reset(&c->transport_ix, cap); /* out of memory: none, transport_find scans */
  for (size_t k = 1; k < c->ntransports; k++) {
    tb_hashix_put(&c->transport_ix, tb_transport_hash(&c->transports[k]), k);
  }
}

/* The index of t in c->transports (1 or more), added (its strings copied)
 * when new; -1 when out of memory. */
static int transport_intern(struct tb_config *c, const struct tb_transport *t, size_t *index) {
  size_t found = transport_find(c, t);
  void *transports = c->transports;

  if (found != SIZE_MAX) {
    *index = found;
    return 0;
  }
  if (grow(&transports, c->ntransports, &c->transports_cap, sizeof *c->transports) != 0) {
    return -1;
  }
  c->transports = transports;
  if (tb_transport_copy(&c->transports[c->ntransports], t) != 0) {
    return -1;
  }
  c->ntransports++;
  if (!tb_hashix_has_room(&c->transport_ix, c->ntransports + 1)) {
    transport_ix_build(c, c->transports_cap * 2);
  } else {
    tb_hashix_put(&c->transport_ix, tb_transport_hash(t), c->ntransports - 1);
  }
  *index = c->ntransports - 1;
  return 0;
}

/* Drop the transports from index n (at least 1) on: those first used by
 * rules now gone. */
static void truncate_transports(struct tb_config *c, size_t n) {
  if (c->ntransports > n) {
    while (c->ntransports > n) {
      tb_transport_clear(&c->transports[--c->ntransports]);
    }
    transport_ix_build(c, c->transport_ix.cap);
  }
}

size_t tb_config_find_peer(const struct tb_config *c, const struct tb_peer *p) {
  return c == NULL ? SIZE_MAX : peer_find(c, p);
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
  tb_policy_destroy(c->policy);
  free(c->rules);
  free(c->peers);
  tb_hashix_free(&c->peer_ix);
  while (c->ntransports > 0) {
    tb_transport_clear(&c->transports[--c->ntransports]);
  }
  free(c->transports);
  tb_hashix_free(&c->transport_ix);
  free(c);
}

/* Room for one more rule; doubling keeps 100,000 rules at O(n) copying. */
static int reserve(struct tb_config *c) {
  void *rules = c->rules;
  int rc = grow(&rules, c->nrules, &c->cap, sizeof *c->rules);

  c->rules = rules;
  return rc;
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
  if ((unsigned)spec->action > TB_ACTION_DENY) {
    return "unknown action";
  }
  if ((spec->nclients > 0 && spec->clients == NULL) || spec->nclients > TB_RULE_CLIENTS_MAX) {
    return "client list missing or too long";
  }
  if (spec->action == TB_ACTION_DENY) {
    /* A deny rule refuses: nothing of it may reach a peer or a client. */
    if (spec->peers != NULL || spec->peer != NULL || spec->nclients > 0) {
      return "a deny rule has no peers and no clients list";
    }
    return NULL;
  }
  if ((spec->peers == NULL) == (spec->peer == NULL)) {
    return "give either one peer or a list of peers";
  }
  if (spec->peers != NULL && spec->npeers == 0) {
    return "the list of peers is empty";
  }
  if (spec->npeers > TB_RULE_PEERS_MAX) {
    return "more than 32 peers in one rule";
  }
  if ((unsigned)spec->balance > TB_BALANCE_HASH) {
    return "unknown balance";
  }
  if (spec->health.failures > TB_HEALTH_FAILURES_MAX ||
      (spec->health.down_for_ms != 0 && (spec->health.down_for_ms < TB_HEALTH_DOWN_FOR_MIN_MS ||
                                         spec->health.down_for_ms > TB_HEALTH_DOWN_FOR_MAX_MS))) {
    return "health settings out of range";
  }
  if (spec->transport != NULL) {
    return tb_transport_problem(spec->transport);
  }
  return NULL;
}

_Static_assert(TB_RULE_PEERS_MAX == 32, "spec_problem's message names the limit");

/* The peers of a spec as the store reads them: text and origin of each,
 * parsed when configured. */
struct peers_in {
  size_t n;
  const char *text[TB_RULE_PEERS_MAX];
  const char *origin[TB_RULE_PEERS_MAX];
  int is_tpl[TB_RULE_PEERS_MAX];
  struct tb_peer parsed[TB_RULE_PEERS_MAX];
};

/* Parse the configured peers of spec and refuse a peer listed twice; the
 * templates are checked once the regex is compiled (check_templates). */
static int read_peers(const struct tb_rule_spec *spec, struct peers_in *in, char *err, size_t errlen) {
  char why[512];
  char q[TB_QUOTE_SIZE(64)];

  in->n = spec->peers != NULL ? spec->npeers : 1;
  for (size_t i = 0; i < in->n; i++) {
    const char *t = spec->peers != NULL ? spec->peers[i] : spec->peer;
    in->text[i] = t != NULL ? t : "";
    in->origin[i] = spec->peer_origins != NULL ? spec->peer_origins[i] : spec->origin;
    in->is_tpl[i] = tb_template_is(in->text[i], strlen(in->text[i]));
    if (!in->is_tpl[i] &&
        tb_peer_parse(in->text[i], strlen(in->text[i]), &in->parsed[i], why, sizeof why) != 0) {
      snprintf(err, errlen, "%s: %s", in->origin[i], why);
      return -1;
    }
    for (size_t j = 0; j < i; j++) {
      if (in->is_tpl[i] != in->is_tpl[j] || (in->is_tpl[i] ? strcmp(in->text[i], in->text[j]) != 0
                                                           : !tb_peer_same(&in->parsed[i], &in->parsed[j]))) {
        continue;
      }
      tb_text_quote(q, sizeof q, in->text[i], strlen(in->text[i]), 64);
      snprintf(err, errlen, "%s: peer '%s' is listed twice in this rule (the same %s as peer %zu)",
               in->origin[i], q, in->is_tpl[i] ? "template" : "host and port", j + 1);
      return -1;
    }
  }
  return 0;
}

static int check_templates(const struct peers_in *in, unsigned ngroups, char *err, size_t errlen) {
  char why[768];

  for (size_t i = 0; i < in->n; i++) {
    if (in->is_tpl[i] && tb_template_check(in->text[i], ngroups, why, sizeof why) != 0) {
      snprintf(err, errlen, "%s: %s", in->origin[i], why);
      return -1;
    }
  }
  return 0;
}

/* The rule's peer list: templates copied, configured peers interned into c
 * (undone by the caller with truncate_peers on failure).  NULL when out of
 * memory. */
static struct tb_rule_peer *make_peers(struct tb_config *c, const struct peers_in *in) {
  struct tb_rule_peer *peers = calloc(in->n, sizeof *peers);

  for (size_t i = 0; peers != NULL && i < in->n; i++) {
    if (in->is_tpl[i]) {
      peers[i].index = TB_PEER_TEMPLATE;
      peers[i].tpl = strdup(in->text[i]);
      if (peers[i].tpl == NULL) {
        peers_free(peers, in->n);
        return NULL;
      }
    } else if (peer_intern(c, &in->parsed[i], &peers[i].index) != 0) {
      peers_free(peers, in->n);
      return NULL;
    }
  }
  return peers;
}

int tb_config_add(struct tb_config *c, const struct tb_rule_spec *spec, char *err, size_t errlen) {
  char why[1024]; /* room for a regex quoted in full and PCRE2's message */
  const char *problem = spec_problem(spec);
  struct peers_in in;
  struct tb_port_range *ports = NULL;
  struct tb_cidr *clients = NULL;
  struct tb_rule_peer *peers = NULL;
  size_t had_peers = c->npeers;
  size_t had_transports = c->ntransports;
  size_t transport = 0;
  size_t ntemplates = 0;
  unsigned ngroups;
  void *re = NULL;
  char *pat = NULL;
  struct tb_rule *r;

  if (problem != NULL) {
    snprintf(err, errlen, "%s: %s", spec->origin, problem);
    return -1;
  }
  in.n = 0;
  if (spec->action != TB_ACTION_DENY && read_peers(spec, &in, err, errlen) != 0) {
    return -1;
  }
  re = tb_index_compile(spec->pattern, why, sizeof why);
  if (re == NULL) {
    snprintf(err, errlen, "%s: %s", spec->origin, why);
    return -1;
  }
  ngroups = tb_index_groups(re);
  if (check_templates(&in, ngroups, err, errlen) != 0) {
    tb_index_free_regex(re);
    return -1;
  }
  pat = strdup(spec->pattern);
  if (spec->nports > 0) {
    ports = malloc(spec->nports * sizeof *ports);
  }
  if (spec->nclients > 0) {
    clients = malloc(spec->nclients * sizeof *clients);
  }
  if (pat == NULL || (spec->nports > 0 && ports == NULL) || (spec->nclients > 0 && clients == NULL) ||
      reserve(c) != 0 || (spec->transport != NULL && transport_intern(c, spec->transport, &transport) != 0) ||
      (in.n > 0 && (peers = make_peers(c, &in)) == NULL)) {
    snprintf(err, errlen, "%s: out of memory", spec->origin);
    goto fail;
  }
  if (spec->nports > 0) {
    memcpy(ports, spec->ports, spec->nports * sizeof *ports);
  }
  if (spec->nclients > 0) {
    memcpy(clients, spec->clients, spec->nclients * sizeof *clients);
  }
  for (size_t i = 0; i < in.n; i++) {
    ntemplates += in.is_tpl[i] != 0;
  }

  r = &c->rules[c->nrules++];
  memset(r, 0, sizeof *r);
  r->pattern = pat;
  r->re = re;
  r->action = spec->action;
  r->peers = peers;
  r->npeers = in.n;
  r->ntemplates = ntemplates;
  r->ngroups = ngroups;
  r->balance = spec->balance;
  r->health = spec->health;
  if (peers != NULL && peers[0].tpl == NULL) {
    r->peer = c->peers[peers[0].index];
  }
  r->ports = ports;
  r->nports = spec->nports;
  r->clients = clients;
  r->nclients = spec->nclients;
  r->connect_timeout_ms = spec->settings.connect_timeout_ms;
  r->idle_timeout_ms = spec->settings.idle_timeout_ms;
  r->max_lifetime_ms = spec->settings.max_lifetime_ms;
  r->identity = spec->settings.identity;
  r->transport = transport;
  /* cut if long: only for messages */
  snprintf(r->origin, sizeof r->origin, "%s", spec->name != NULL ? spec->name : spec->origin);
  if (c->index != NULL && tb_index_add(c->index, r->pattern, c->nrules - 1) != 0) {
    snprintf(err, errlen, "%s: out of memory", spec->origin);
    truncate_rules(c, c->nrules - 1);
    truncate_peers(c, had_peers);
    truncate_transports(c, had_transports);
    return -1;
  }
  return 0;

fail:
  tb_index_free_regex(re);
  free(pat);
  free(ports);
  free(clients);
  truncate_peers(c, had_peers);
  truncate_transports(c, had_transports);
  return -1;
}

int tb_config_add_rule(struct tb_config *c, const char *pattern, const char *peer, const char *origin,
                       char *err, size_t errlen) {
  char q[TB_QUOTE_SIZE(96)];
  char *copy = NULL;
  const char *list[TB_RULE_PEERS_MAX] = {NULL};
  size_t n = 0;
  int rc;
  struct tb_rule_spec spec = {
      .pattern = pattern,
      .peer = peer,
      .origin = origin,
      .settings = TB_SETTINGS_UNSET,
  };

  if (peer == NULL || strchr(peer, ',') == NULL) {
    return tb_config_add(c, &spec, err, errlen);
  }
  /* "a:4443,b:4443": a failover list, cut in a copy. */
  copy = strdup(peer);
  if (copy == NULL) {
    snprintf(err, errlen, "%s: out of memory", origin);
    return -1;
  }
  for (char *p = copy;; n++) {
    char *comma = strchr(p, ',');
    if (comma != NULL) {
      *comma = '\0';
    }
    if (p[0] == '\0' || n == TB_RULE_PEERS_MAX) {
      tb_text_quote(q, sizeof q, peer, strlen(peer), 96);
      if (n == TB_RULE_PEERS_MAX) {
        snprintf(err, errlen, "%s: peer list '%s': more than %d peers in one rule", origin, q,
                 TB_RULE_PEERS_MAX);
      } else {
        snprintf(err, errlen, "%s: peer list '%s': peer %zu is empty", origin, q, n + 1);
      }
      free(copy);
      return -1;
    }
    list[n] = p;
    if (comma == NULL) {
      n++;
      break;
    }
    p = comma + 1;
  }
  spec.peer = NULL;
  spec.peers = list;
  spec.npeers = n;
  rc = tb_config_add(c, &spec, err, errlen);
  free(copy);
  return rc;
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

int tb_config_set_transport(struct tb_config *c, const struct tb_transport *t, const char *origin, char *err,
                            size_t errlen) {
  const char *problem = tb_transport_problem(t);
  struct tb_transport copy;

  if (problem != NULL) {
    snprintf(err, errlen, "%s: %s", origin, problem);
    return -1;
  }
  for (int k = 0; k < TB_TLSKEY_VERIFY; k++) {
    if (tb_transport_has(&c->transports[0], (enum tb_tls_key)k)) {
      snprintf(err, errlen, "%s: the default TLS settings are set already (they are set once)", origin);
      return -1;
    }
  }
  if (tb_transport_copy(&copy, t) != 0) {
    snprintf(err, errlen, "%s: out of memory", origin);
    return -1;
  }
  c->transports[0] = copy; /* no strings to free: see the loop above */
  c->transport0 = copy;
  return 0;
}

const struct tb_transport *tb_config_transport(const struct tb_config *c, const struct tb_rule *r) {
  return &c->transports[r->transport < c->ntransports ? r->transport : 0];
}

/* Put the default transport back as saved had it.  Its strings are set
 * once (tb_config_set_transport): each is the one saved has, or was set
 * since (saved's was NULL) and is freed here. */
static void restore_transport0(struct tb_config *c, const struct tb_transport *saved) {
  struct tb_transport *now = &c->transports[0];

  for (int k = 0; k < TB_TLSKEY_VERIFY; k++) {
    char **s = tb_transport_field(now, (enum tb_tls_key)k);
    if (*s != tb_transport_string(saved, (enum tb_tls_key)k)) {
      free(*s);
    }
  }
  *now = *saved;
  c->transport0 = *saved;
}

void tb_config_undo(struct tb_config *c, const struct tb_config *saved) {
  if (c->policy != saved->policy) {
    tb_policy_destroy(c->policy);
    c->policy = saved->policy;
  }
  c->role = saved->role;
  truncate_rules(c, saved->nrules);
  truncate_peers(c, saved->npeers);
  truncate_transports(c, saved->ntransports);
  restore_transport0(c, &saved->transport0);
  c->health_failures = saved->health_failures;
  c->health_down_for_ms = saved->health_down_for_ms;
  c->connect_timeout_ms = saved->connect_timeout_ms;
  c->pool_size = saved->pool_size;
  c->pool_max_age_ms = saved->pool_max_age_ms;
  c->idle_timeout_ms = saved->idle_timeout_ms;
  c->max_lifetime_ms = saved->max_lifetime_ms;
  c->deny_unmatched = saved->deny_unmatched;
  c->identity = saved->identity;
}

int tb_config_check_loaded(const struct tb_config *c, char *err, size_t errlen) {
  if (c->role == TB_ROLE_PEER) {
    if (c->policy == NULL || c->policy->n == 0 || c->nrules != 0) {
      snprintf(err, errlen, "no policy (a peer-role configuration needs a 'policy' list and has no rules)");
      return -1;
    }
    return 0;
  }
  if (c->policy != NULL) {
    snprintf(err, errlen, "a policy in the ingress role (policy is for role: peer)");
    return -1;
  }
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

void tb_config_health(const struct tb_config *c, const struct tb_rule *r, struct tb_health_settings *out) {
  out->failures = r->health.failures != 0 ? r->health.failures : c->health_failures;
  out->down_for_ms = r->health.down_for_ms != 0 ? r->health.down_for_ms : c->health_down_for_ms;
}

int tb_config_rule_peer(const struct tb_config *c, const struct tb_rule *r, size_t i, const char *host,
                        size_t len, const struct tb_captures *caps, struct tb_peer *out, char *err,
                        size_t errlen) {
  char why[768];
  char origin[TB_QUOTE_SIZE(TB_ORIGIN_MAX)];

  if (i >= r->npeers) {
    snprintf(err, errlen, "rule %zu: no peer %zu", (size_t)(r - c->rules) + 1, i + 1);
    return -1;
  }
  if (r->peers[i].tpl == NULL) {
    *out = c->peers[r->peers[i].index];
    return 0;
  }
  if (tb_template_expand(r->peers[i].tpl, host, len, caps, out, why, sizeof why) != 0) {
    tb_text_quote(origin, sizeof origin, r->origin, strlen(r->origin), TB_ORIGIN_MAX);
    snprintf(err, errlen, "rule %zu \"%s\": %s", (size_t)(r - c->rules) + 1, origin, why);
    return -1;
  }
  return 0;
}

int tb_config_lookup_captures(const struct tb_config *c, const char *host, size_t len, unsigned port,
                              const struct tb_rule **rule, struct tb_captures *caps) {
  if (c == NULL) {
    *rule = NULL;
    caps->n = 0;
    return 0;
  }
  return tb_index_lookup_captures(c->index, c->rules, c->nrules, host, len, port, rule, caps);
}

int tb_config_lookup_port(const struct tb_config *c, const char *host, size_t len, unsigned port,
                          const struct tb_rule **rule) {
  if (c == NULL) {
    *rule = NULL;
    return 0;
  }
  if (tb_index_lookup(c->index, c->rules, c->nrules, host, len, port, rule) != 0) {
    return -1;
  }
  if (*rule != NULL && (*rule)->ntemplates > 0) {
    *rule = NULL; /* its peer cannot be named without captures: refuse, never guess */
    return -1;
  }
  return 0;
}

int tb_config_lookup(const struct tb_config *c, const char *host, size_t len, const struct tb_rule **rule) {
  return tb_config_lookup_port(c, host, len, 0, rule);
}

const struct tb_rule *tb_config_match(const struct tb_config *c, const char *host, size_t len) {
  const struct tb_rule *rule = NULL;
  return tb_config_lookup(c, host, len, &rule) == 0 ? rule : NULL;
}
