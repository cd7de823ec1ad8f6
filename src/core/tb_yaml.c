/*
 * tb_yaml: the YAML configuration file.  See tb_yaml.h.
 *
 * libyaml's document loader builds the node tree; this file walks it against
 * a fixed schema, with the helpers of tb_yaml_walk.h (which also say how
 * types are checked) and the engine and TLS keys through tb_yaml_tls.h.
 * Every error names the file, the line and the column of the node at fault
 * (libyaml counts both from 0; messages count from 1) and what was expected
 * there.  Anchors and aliases are refused: with the document loader an alias
 * is the anchored node itself, so a small file could make the walk visit one
 * large list many times over.  Each node may be visited once.
 *
 * The file's `role` is read first (read_role), since the keys the top level
 * may hold depend on it: an ingress file has rules and their defaults, a peer
 * file (role: peer) only its policy, read by tb_yaml_policy.c.  An ingress
 * file's rules are read after the rest of its top level, wherever they stand:
 * a rule's transport is made over the file's default one (tb_yaml_tls.h),
 * which the top level's engine and tls keys give.
 *
 * The settings a rule may override (struct tb_settings) are written the same
 * way at the top level, where they are the defaults, and in a rule: one table
 * (settings[]) reads them in both places into a struct tb_settings. So is
 * `health` (struct tb_health_settings), read by one function in both places,
 * and so are the engine and TLS keys.  A rule's peers (`peer`, or the list
 * `peers`) are handed to the store with the position of each, so that what
 * the store finds wrong with a peer (tb_config_add: a bad address, a peer
 * listed twice, a template naming a group the regex lacks) is reported where
 * that peer is written. A rule with `action: deny` has no peers and takes
 * only host, ports, name and action; `clients` is a rule's list of client
 * networks (tb_cidr.h).
 */
#include "tb_yaml.h"
#include "tb_file.h"
#include "tb_text.h"
#include "tb_yaml_policy.h"
#include "tb_yaml_tls.h"
#include "tb_yaml_walk.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define FOUND_SIZE TB_YAML_FOUND_SIZE

static int want_identity(const struct tb_yaml_walk *w, const yaml_node_t *n, enum tb_identity *out) {
  if (n->type != YAML_SCALAR_NODE || tb_identity_parse(tb_yaml_scalar(n), out) != 0) {
    return tb_yaml_fail_at(w, &n->start_mark, "client_identity must be keep, strip or forwarded, found %s",
                           n->type == YAML_SCALAR_NODE ? tb_yaml_scalar(n) : tb_yaml_kind(n));
  }
  return 0;
}

/* The settings a rule may override, in the order of SETTING_KEYS: how each
 * is read and where it goes. */
#define SETTING_KEYS "connect_timeout", "idle_timeout", "max_lifetime", "client_identity"
#define NSETTINGS 4

static const struct setting {
  enum { DURATION, IDENTITY } kind;
  unsigned min_ms, max_ms; /* a DURATION's range */
  size_t offset;           /* of a DURATION's field in struct tb_settings */
} settings[] = {
    {DURATION, 1, TB_TIMEOUT_MAX_S * 1000u, offsetof(struct tb_settings, connect_timeout_ms)},
    {DURATION, 0, TB_LIFETIME_MAX_S * 1000u, offsetof(struct tb_settings, idle_timeout_ms)},
    {DURATION, 0, TB_LIFETIME_MAX_S * 1000u, offsetof(struct tb_settings, max_lifetime_ms)},
    {IDENTITY, 0, 0, offsetof(struct tb_settings, identity)},
};
_Static_assert(sizeof settings / sizeof settings[0] == NSETTINGS &&
                   sizeof((const char *[]){SETTING_KEYS}) == NSETTINGS * sizeof(const char *),
               "one entry of settings[] per key of SETTING_KEYS");

/* Setting number which, under key k, from v into *out. */
static int want_setting(const struct tb_yaml_walk *w, size_t which, const yaml_node_t *k,
                        const yaml_node_t *v, struct tb_settings *out) {
  const struct setting *s = &settings[which];
  if (s->kind == IDENTITY) {
    return want_identity(w, v, &out->identity);
  }
  return tb_yaml_want_duration(w, v, tb_yaml_scalar(k), s->min_ms, s->max_ms,
                               (unsigned *)((char *)out + s->offset));
}

/* ---- health (top level and rules) -------------------------------------- */

enum health_key { HK_FAILURES, HK_DOWN_FOR, HK_COUNT };
static const char *const health_keys[HK_COUNT] = {"failures", "down_for"};

static int health_pair(struct tb_yaml_walk *w, size_t key, const yaml_node_t *k, yaml_node_t *v, void *arg) {
  struct tb_health_settings *out = arg;
  (void)k;
  if (key == HK_FAILURES) {
    return tb_yaml_want_uint(w, v, "health failures", 1, TB_HEALTH_FAILURES_MAX, &out->failures);
  }
  return tb_yaml_want_duration(w, v, "health down_for", TB_HEALTH_DOWN_FOR_MIN_MS, TB_HEALTH_DOWN_FOR_MAX_MS,
                               &out->down_for_ms);
}

/* health: {failures: N, down_for: DURATION}, either key optional: into
 * *out, whose fields stay as they are for a key not given. */
static int want_health(struct tb_yaml_walk *w, const yaml_node_t *n, struct tb_health_settings *out) {
  return tb_yaml_walk_mapping(w, n, "health", health_keys, HK_COUNT, health_pair, out);
}

/* ---- one rule ---------------------------------------------------------- */

enum rule_key {
  RK_HOST,
  RK_PEER,
  RK_PEERS,
  RK_BALANCE,
  RK_PORTS,
  RK_NAME,
  RK_SETTING,
  RK_HEALTH = RK_SETTING + NSETTINGS,
  RK_ACTION,
  RK_CLIENTS,
  RK_ENGINE,
  RK_TLS, /* the first of the TLS keys, in the order of enum tb_tls_key */
  RK_COUNT = RK_TLS + TB_TLSKEY_COUNT
};
static const char *const rule_keys[RK_COUNT] = {"host",   "peer",    "peers",      "balance",
                                                "ports",  "name",    SETTING_KEYS, "health",
                                                "action", "clients", "engine",     TB_YAML_TLS_KEYS};
_Static_assert(RK_COUNT <= TB_YAML_KEYS_MAX, "tb_yaml_walk_mapping takes this many keys");

struct rule_in {
  const yaml_node_t *node[RK_COUNT]; /* value nodes as found */
  struct tb_port_range *ports;       /* owned */
  size_t nports;
  struct tb_settings settings; /* the rule's own */
  struct tb_health_settings health;
  enum tb_balance balance;
  enum tb_action action;
  struct tb_cidr *clients; /* owned */
  size_t nclients;
  size_t npeers; /* peer or peers: their texts and where each is */
  const char *peers[TB_RULE_PEERS_MAX];
  char where[TB_RULE_PEERS_MAX][TB_ORIGIN_MAX];
  const char *origins[TB_RULE_PEERS_MAX];
  struct tb_yaml_tls tls; /* engine and TLS keys */
};

/* Peer n of the rule, value node v: its text and where it is written. */
static int peer_item(struct tb_yaml_walk *w, struct rule_in *in, const yaml_node_t *v, const char *what) {
  if (tb_yaml_want_string(w, v, what) != 0) {
    return -1;
  }
  snprintf(in->where[in->npeers], sizeof in->where[in->npeers], "%s:%zu:%zu", w->name, v->start_mark.line + 1,
           v->start_mark.column + 1);
  in->origins[in->npeers] = in->where[in->npeers];
  in->peers[in->npeers++] = tb_yaml_scalar(v);
  return 0;
}

/* peers: a non-empty list of peers (or templates). */
static int want_peers(struct tb_yaml_walk *w, const yaml_node_t *n, struct rule_in *in) {
  size_t count;
  if (n->type != YAML_SEQUENCE_NODE) {
    return tb_yaml_fail_at(w, &n->start_mark,
                           "peers must be a list of peers (for one peer, 'peer: ...'), found %s",
                           tb_yaml_kind(n));
  }
  count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
  if (count == 0) {
    return tb_yaml_fail_at(w, &n->start_mark, "peers is an empty list (a rule needs at least one peer)");
  }
  if (count > TB_RULE_PEERS_MAX) {
    return tb_yaml_fail_at(w, &n->start_mark, "peers lists %zu peers: at most %d are allowed in one rule",
                           count, TB_RULE_PEERS_MAX);
  }
  for (size_t i = 0; i < count; i++) {
    const yaml_node_t *item = tb_yaml_take(w, n->data.sequence.items.start[i]);
    if (item == NULL || peer_item(w, in, item, "a peer in peers") != 0) {
      return -1;
    }
  }
  return 0;
}

/* One network of clients: "10.0.0.0/8", "2001:db8::/32", an address. */
static int client_item(const struct tb_yaml_walk *w, const yaml_node_t *n, struct tb_cidr *out) {
  char buf[FOUND_SIZE];
  const char *why = "it must be an IPv4 or IPv6 address or network";
  if (n->type == YAML_SCALAR_NODE && !tb_yaml_is_null(n) &&
      (why = tb_cidr_problem(tb_yaml_scalar(n), n->data.scalar.length, out)) == NULL) {
    return 0;
  }
  return tb_yaml_fail_at(w, &n->start_mark,
                         "client network %s: %s (like 10.0.0.0/8, 2001:db8::/32 or 192.0.2.7)",
                         tb_yaml_found(n, buf), why);
}

/* clients: one network or a non-empty list of them. */
static int want_clients(struct tb_yaml_walk *w, const yaml_node_t *n, struct rule_in *in) {
  size_t count = 1;
  if (n->type == YAML_SEQUENCE_NODE) {
    count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count == 0) {
      return tb_yaml_fail_at(w, &n->start_mark,
                             "clients is an empty list (leave clients out to let any client use "
                             "the rule)");
    }
    if (count > TB_RULE_CLIENTS_MAX) {
      return tb_yaml_fail_at(w, &n->start_mark,
                             "clients lists %zu networks: at most %d are allowed in one rule", count,
                             TB_RULE_CLIENTS_MAX);
    }
  } else if (n->type != YAML_SCALAR_NODE) {
    return tb_yaml_fail_at(w, &n->start_mark, "clients must be a network or a list of networks, found %s",
                           tb_yaml_kind(n));
  }
  in->clients = calloc(count, sizeof *in->clients);
  if (in->clients == NULL) {
    return tb_yaml_fail_at(w, &n->start_mark, "out of memory");
  }
  for (size_t i = 0; i < count; i++) {
    const yaml_node_t *item = n;
    if (n->type == YAML_SEQUENCE_NODE && (item = tb_yaml_take(w, n->data.sequence.items.start[i])) == NULL) {
      return -1;
    }
    if (client_item(w, item, &in->clients[i]) != 0) {
      return -1;
    }
  }
  in->nclients = count;
  return 0;
}

/* A deny rule's keys: the others would configure what it never does. */
static int deny_rule_check(struct tb_yaml_walk *w, const struct rule_in *in, size_t number) {
  static const enum rule_key allowed[] = {RK_HOST, RK_PORTS, RK_NAME, RK_ACTION};
  for (size_t k = 0; k < RK_COUNT; k++) {
    int ok = 0;
    for (size_t a = 0; a < sizeof allowed / sizeof allowed[0]; a++) {
      ok |= (size_t)allowed[a] == k;
    }
    if (!ok && in->node[k] != NULL) {
      return tb_yaml_fail_at(
          w, &in->node[k]->start_mark,
          "rule %zu has action: deny, which refuses the CONNECT (403): it takes only host, ports, "
          "name and action, not '%s'%s",
          number, rule_keys[k],
          k == RK_CLIENTS ? " (to refuse some clients, give the bridging rule a clients list)" : "");
    }
  }
  return 0;
}

static int rule_pair(struct tb_yaml_walk *w, size_t key, const yaml_node_t *k, yaml_node_t *v, void *arg) {
  struct rule_in *in = arg;
  in->node[key] = v;
  if (key >= RK_SETTING && key < RK_HEALTH) {
    return want_setting(w, key - RK_SETTING, k, v, &in->settings);
  }
  if (key >= RK_TLS) {
    return tb_yaml_tls_key(w, (enum tb_tls_key)(key - RK_TLS), k, v, &in->tls);
  }
  if ((key == RK_PEER && in->node[RK_PEERS] != NULL) || (key == RK_PEERS && in->node[RK_PEER] != NULL)) {
    return tb_yaml_fail_at(
        w, &k->start_mark,
        "a rule has either 'peer' (one peer) or 'peers' (a list), not both (peer: X is peers: [X])");
  }
  switch ((enum rule_key)key) {
  case RK_HOST:
    return tb_yaml_want_string(w, v, "host");
  case RK_PEER:
    return peer_item(w, in, v, "peer");
  case RK_PEERS:
    return want_peers(w, v, in);
  case RK_BALANCE:
    if (v->type != YAML_SCALAR_NODE || tb_balance_parse(tb_yaml_scalar(v), &in->balance) != 0) {
      char buf[FOUND_SIZE];
      return tb_yaml_fail_at(w, &v->start_mark, "balance must be failover, round_robin or hash, found %s",
                             tb_yaml_found(v, buf));
    }
    return 0;
  case RK_HEALTH:
    return want_health(w, v, &in->health);
  case RK_NAME:
    return tb_yaml_want_name(w, v);
  case RK_ACTION:
    if (v->type != YAML_SCALAR_NODE ||
        (strcmp(tb_yaml_scalar(v), "bridge") != 0 && strcmp(tb_yaml_scalar(v), "deny") != 0)) {
      char buf[FOUND_SIZE];
      return tb_yaml_fail_at(w, &v->start_mark, "action must be bridge or deny, found %s",
                             tb_yaml_found(v, buf));
    }
    in->action = strcmp(tb_yaml_scalar(v), "deny") == 0 ? TB_ACTION_DENY : TB_ACTION_BRIDGE;
    return 0;
  case RK_CLIENTS:
    return want_clients(w, v, in);
  case RK_PORTS:
    return tb_yaml_want_ports(w, v, &in->ports, &in->nports);
  case RK_ENGINE:
    return tb_yaml_tls_engine(w, k, v, &in->tls);
  case RK_SETTING:
  case RK_TLS:
  case RK_COUNT:
  default:
    return -1;
  }
}

static int one_rule(struct tb_yaml_walk *w, const yaml_node_t *n, size_t number) {
  struct rule_in in = {.settings = TB_SETTINGS_UNSET, .tls = TB_YAML_TLS_INIT};
  struct tb_transport transport;
  const struct tb_transport *use = NULL;
  char what[48];
  char origin[TB_ORIGIN_MAX];
  char where[TB_ORIGIN_MAX];
  int rc = -1;

  snprintf(what, sizeof what, "rule %zu", number);
  if (tb_yaml_walk_mapping(w, n, what, rule_keys, RK_COUNT, rule_pair, &in) != 0) {
    goto done;
  }
  if (in.action == TB_ACTION_DENY && deny_rule_check(w, &in, number) != 0) {
    goto done;
  }
  if (in.node[RK_HOST] == NULL || (in.npeers == 0 && in.action != TB_ACTION_DENY)) {
    tb_yaml_fail_at(w, &n->start_mark, "rule %zu has no '%s'", number,
                    in.node[RK_HOST] == NULL ? "host" : "peer");
    goto done;
  }
  if (tb_yaml_tls_rule(w, &in.tls, &transport, &use) != 0) {
    goto done;
  }
  /* The store prefixes its messages (a bad regex) with origin; a rule
   * without a name is known by the line it starts on.  Its messages about
   * a peer start with that peer's own position. */
  const yaml_node_t *hn = in.node[RK_HOST];
  snprintf(origin, sizeof origin, "%s:%zu:%zu", w->name, hn->start_mark.line + 1, hn->start_mark.column + 1);
  snprintf(where, sizeof where, "%s:%zu", w->name, n->start_mark.line + 1);
  const struct tb_rule_spec spec = {
      .pattern = tb_yaml_scalar(hn),
      .peers = in.action == TB_ACTION_DENY ? NULL : in.peers,
      .npeers = in.npeers,
      .peer_origins = in.origins,
      .origin = origin,
      .name = in.node[RK_NAME] != NULL ? tb_yaml_scalar(in.node[RK_NAME]) : where,
      .ports = in.ports,
      .nports = in.nports,
      .settings = in.settings,
      .balance = in.balance,
      .health = in.health,
      .action = in.action,
      .clients = in.clients,
      .nclients = in.nclients,
      .transport = use,
  };
  rc = tb_config_add(w->c, &spec, w->err, w->errlen);

done:
  free(in.ports);
  free(in.clients);
  tb_yaml_tls_free(&in.tls);
  return rc;
}

/* ---- the top level ----------------------------------------------------- */

enum top_key {
  TK_RULES,
  TK_UNMATCHED,
  TK_SETTING,
  TK_POOL = TK_SETTING + NSETTINGS,
  TK_HEALTH,
  TK_ROLE,
  TK_POLICY,
  TK_ENGINE,
  TK_TLS,
  TK_COUNT
};
static const char *const top_keys[TK_COUNT] = {"rules", "unmatched", SETTING_KEYS, "pool", "health",
                                               "role",  "policy",    "engine",     "tls"};

/* What the top level says beyond the options it sets in place. */
struct top_in {
  struct tb_settings defaults;
  struct tb_yaml_tls tls;   /* engine and the tls mapping: the default transport */
  const yaml_node_t *rules; /* read last (see above) */
};

enum pool_key { PK_SIZE, PK_MAX_AGE, PK_COUNT };
static const char *const pool_keys[PK_COUNT] = {"size", "max_age"};

static int pool_pair(struct tb_yaml_walk *w, size_t key, const yaml_node_t *k, yaml_node_t *v, void *arg) {
  (void)k;
  (void)arg;
  if (key == PK_SIZE) {
    return tb_yaml_want_uint(w, v, "pool size", 0, TB_POOL_SIZE_MAX, &w->c->pool_size);
  }
  return tb_yaml_want_duration(w, v, "pool max_age", 1, TB_TIMEOUT_MAX_S * 1000u, &w->c->pool_max_age_ms);
}

/* The role the top level n declares, into w->c->role (ingress when it says
 * none).  Read before the walk, since which keys the file may hold depends
 * on it; the walk takes the node again (TK_ROLE), so nothing is marked here. */
static int read_role(struct tb_yaml_walk *w, const yaml_node_t *n) {
  if (n->type != YAML_MAPPING_NODE) {
    return 0; /* the walk says what is wrong */
  }
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
    const yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
    const yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
    if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE || strcmp(tb_yaml_scalar(k), "role") != 0) {
      continue;
    }
    if (v->type == YAML_SCALAR_NODE && strcmp(tb_yaml_scalar(v), "ingress") == 0) {
      w->c->role = TB_ROLE_INGRESS;
    } else if (v->type == YAML_SCALAR_NODE && strcmp(tb_yaml_scalar(v), "peer") == 0) {
      w->c->role = TB_ROLE_PEER;
    } else {
      char buf[FOUND_SIZE];
      return tb_yaml_fail_at(w, &v->start_mark, "role must be ingress or peer, found %s",
                             tb_yaml_found(v, buf));
    }
    return 0; /* a second role key is the walk's "appears twice" */
  }
  return 0;
}

/* Is top-level key `key` one of this role's?  If not, say so at k. */
static int role_key_check(const struct tb_yaml_walk *w, size_t key, const yaml_node_t *k) {
  if (key == TK_ROLE) {
    return 0;
  }
  if (w->c->role == TB_ROLE_PEER && key != TK_POLICY) {
    return tb_yaml_fail_at(
        w, &k->start_mark, "'%s' is for role ingress: a peer-role file has only 'role' and 'policy'%s",
        top_keys[key], key == TK_RULES ? " (a peer authorises CONNECTs by its policy; it has no rules)" : "");
  }
  if (w->c->role == TB_ROLE_INGRESS && key == TK_POLICY) {
    return tb_yaml_fail_at(
        w, &k->start_mark,
        "'policy' is for role peer, and this file is role ingress (the default when 'role' is left out): a "
        "peer's file says 'role: peer' and has a policy instead of rules");
  }
  return 0;
}

static int top_pair(struct tb_yaml_walk *w, size_t key, const yaml_node_t *k, yaml_node_t *v, void *arg) {
  struct top_in *top = arg;
  if (role_key_check(w, key, k) != 0) {
    return -1;
  }
  if (key >= TK_SETTING && key < TK_POOL) {
    return want_setting(w, key - TK_SETTING, k, v, &top->defaults);
  }
  switch ((enum top_key)key) {
  case TK_RULES:
    if (v->type != YAML_SEQUENCE_NODE) {
      return tb_yaml_fail_at(w, &v->start_mark,
                             "rules must be a list of rules (lines starting with '- '), found %s",
                             tb_yaml_kind(v));
    }
    if (v->data.sequence.items.top == v->data.sequence.items.start) {
      return tb_yaml_fail_at(w, &v->start_mark, "rules is empty: the bridge needs at least one rule");
    }
    top->rules = v;
    return 0;
  case TK_ENGINE:
    return tb_yaml_tls_engine(w, k, v, &top->tls);
  case TK_TLS:
    return tb_yaml_tls_mapping(w, v, &top->tls);
  case TK_UNMATCHED:
    if (v->type != YAML_SCALAR_NODE ||
        (strcmp(tb_yaml_scalar(v), "passthrough") != 0 && strcmp(tb_yaml_scalar(v), "deny") != 0)) {
      return tb_yaml_fail_at(w, &v->start_mark, "unmatched must be passthrough or deny, found %s",
                             v->type == YAML_SCALAR_NODE ? tb_yaml_scalar(v) : tb_yaml_kind(v));
    }
    w->c->deny_unmatched = strcmp(tb_yaml_scalar(v), "deny") == 0;
    return 0;
  case TK_POOL:
    return tb_yaml_walk_mapping(w, v, "pool", pool_keys, PK_COUNT, pool_pair, NULL);
  case TK_HEALTH: {
    struct tb_health_settings h = {w->c->health_failures, w->c->health_down_for_ms};
    if (want_health(w, v, &h) != 0) {
      return -1;
    }
    w->c->health_failures = h.failures;
    w->c->health_down_for_ms = h.down_for_ms;
    return 0;
  }
  case TK_ROLE:
    return 0; /* read before the walk (read_role) */
  case TK_POLICY:
    return tb_yaml_policy(w, v);
  case TK_SETTING:
  case TK_COUNT:
  default:
    return -1;
  }
}

/* The rules, in order, once the top level is read. */
static int walk_rules(struct tb_yaml_walk *w, const yaml_node_t *rules) {
  for (yaml_node_item_t *it = rules->data.sequence.items.start; it < rules->data.sequence.items.top; it++) {
    yaml_node_t *rn = tb_yaml_take(w, *it);
    if (rn == NULL || one_rule(w, rn, (size_t)(it - rules->data.sequence.items.start) + 1) != 0) {
      return -1;
    }
  }
  return 0;
}

static int walk_document(struct tb_yaml_walk *w) {
  struct top_in top = {.defaults = TB_SETTINGS_UNSET, .tls = TB_YAML_TLS_INIT};
  yaml_node_t *root = yaml_document_get_root_node(w->doc);
  int rc = -1;

  if (root == NULL) {
    snprintf(w->err, w->errlen, "%s: empty file: expected a mapping with a 'rules' list", w->name);
    return -1;
  }
  if ((root = tb_yaml_take(w, 1)) == NULL) {
    return -1;
  }
  if (read_role(w, root) != 0 ||
      tb_yaml_walk_mapping(w, root, "the top level", top_keys, TK_COUNT, top_pair, &top) != 0) {
    goto done;
  }
  if (w->c->role == TB_ROLE_PEER) {
    rc = w->c->policy == NULL
             ? tb_yaml_fail_at(w, &root->start_mark, "no 'policy': a peer-role file needs a policy list")
             : 0;
    goto done;
  }
  if (top.rules == NULL) {
    tb_yaml_fail_at(w, &root->start_mark, "no 'rules': the bridge needs at least one rule");
    goto done;
  }
  if (tb_yaml_tls_set_default(w, &top.tls) != 0 || walk_rules(w, top.rules) != 0) {
    goto done;
  }
  tb_config_set_defaults(w->c, &top.defaults);
  rc = 0;

done:
  tb_yaml_tls_free(&top.tls);
  return rc;
}

static int syntax_error(const struct tb_yaml_walk *w, const yaml_parser_t *p) {
  const char *problem = p->problem != NULL ? p->problem : "unreadable YAML";
  if (p->error == YAML_MEMORY_ERROR) {
    snprintf(w->err, w->errlen, "%s: out of memory", w->name);
    return -1;
  }
  if (p->context != NULL) {
    return tb_yaml_fail_at(w, &p->problem_mark, "YAML syntax error: %s (%s at line %zu)", problem, p->context,
                           p->context_mark.line + 1);
  }
  return tb_yaml_fail_at(w, &p->problem_mark, "YAML syntax error: %s", problem);
}

int tb_config_load_yaml_text(struct tb_config *c, const char *text, size_t len, const char *name,
                             const char *confdir, char *err, size_t errlen) {
  struct tb_config saved = *c;
  struct tb_yaml_walk w = {NULL, name, confdir, err, errlen, NULL, 0, c};
  yaml_parser_t parser;
  yaml_document_t doc;
  yaml_document_t extra;
  int rc = -1;

  if (c->nrules != 0) {
    snprintf(err, errlen, "%s: a YAML configuration cannot be added to rules from elsewhere", name);
    return -1;
  }
  if (memchr(text, '\0', len) != NULL) {
    snprintf(err, errlen, "%s: NUL byte in the file", name);
    return -1;
  }
  if (!yaml_parser_initialize(&parser)) {
    snprintf(err, errlen, "%s: out of memory", name);
    return -1;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, &doc)) {
    syntax_error(&w, &parser);
    yaml_parser_delete(&parser);
    return -1;
  }
  w.doc = &doc;
  w.nnodes = (size_t)(doc.nodes.top - doc.nodes.start);
  w.seen = calloc(w.nnodes + 1, 1);
  if (w.seen == NULL) {
    snprintf(err, errlen, "%s: out of memory", name);
  } else if (walk_document(&w) == 0) {
    /* One document only: a second one would be ignored silently. */
    if (!yaml_parser_load(&parser, &extra)) {
      syntax_error(&w, &parser);
    } else {
      yaml_node_t *more = yaml_document_get_root_node(&extra);
      if (more != NULL) {
        tb_yaml_fail_at(&w, &more->start_mark, "a second YAML document ('---'): only one is allowed");
      } else {
        rc = 0;
      }
      yaml_document_delete(&extra);
    }
  }
  free(w.seen);
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  if (rc != 0) {
    tb_config_undo(c, &saved);
  }
  return rc;
}

int tb_config_load_yaml(struct tb_config *c, const char *path, const char *confdir, char *err,
                        size_t errlen) {
  size_t len = 0;
  char *text = tb_file_read(path, &len, err, errlen);
  if (text == NULL) {
    return -1;
  }
  int rc = tb_config_load_yaml_text(c, text, len, path, confdir, err, errlen);
  free(text);
  return rc;
}
