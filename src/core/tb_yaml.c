/*
 * tb_yaml: the YAML configuration file.  See tb_yaml.h.
 *
 * libyaml's document loader builds the node tree; this file walks it against
 * a fixed schema.  Every error names the file, the line and the column of
 * the node at fault (libyaml counts both from 0; messages count from 1) and
 * what was expected there.
 *
 * Untagged scalars all come out of libyaml as strings, so types are ours to
 * check: a whole number is a scalar of digits (quoted or not); a duration is
 * such a number of seconds or "<digits><unit>" with unit ms, s, m or h.  Anchors and aliases are refused:
 * with the document loader an alias is the anchored node itself, so a small file could make the walk visit
 * one large list many times over.  Each node may be visited once.
 *
 * The settings a rule may override (struct tb_settings) are written the same
 * way at the top level, where they are the defaults, and in a rule: one
 * table (settings[]) reads them in both places into a struct tb_settings.
 * So is `health` (struct tb_health_settings), read by one function in both
 * places.  A rule's peers (`peer`, or the list `peers`) are handed to the
 * store with the position of each, so that what the store finds wrong with
 * a peer (tb_config_add: a bad address, a peer listed twice, a template
 * naming a group the regex lacks) is reported where that peer is written.
 */
#include "tb_yaml.h"
#include "tb_file.h"
#include "tb_text.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define KEY_MAX 64
#define QUOTE_MAX 64
#define NAME_MAX_LEN 100
#define FOUND_SIZE (TB_QUOTE_SIZE(QUOTE_MAX) + 2)

#if defined(__GNUC__)
#define TB_PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define TB_PRINTFLIKE(f, a)
#endif

struct walk {
  yaml_document_t *doc;
  const char *name; /* the file, for messages */
  char *err;
  size_t errlen;
  unsigned char *seen; /* one flag per node (index = node id - 1) */
  size_t nnodes;
  struct tb_config *c;
};

static int fail_at(const struct walk *w, const yaml_mark_t *m, const char *fmt, ...) TB_PRINTFLIKE(3, 4);
static int fail_at(const struct walk *w, const yaml_mark_t *m, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  (void)vsnprintf(msg, sizeof msg, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): started above */
  va_end(ap);
  snprintf(w->err, w->errlen, "%s:%zu:%zu: %s", w->name, m->line + 1, m->column + 1, msg);
  return -1;
}

/* "key:" with no value, "~" or "null" (plain): YAML's null. */
static int is_null(const yaml_node_t *n) {
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
    return 0;
  }
  const char *s = (const char *)n->data.scalar.value;
  return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
         strcmp(s, "NULL") == 0;
}

static const char *kind_name(const yaml_node_t *n) {
  switch (n->type) {
  case YAML_SCALAR_NODE:
    return is_null(n) ? "nothing" : "a single value";
  case YAML_SEQUENCE_NODE:
    return "a list";
  case YAML_MAPPING_NODE:
    return "a mapping";
  case YAML_NO_NODE:
  default:
    return "nothing";
  }
}

static const char *scalar(const yaml_node_t *n) {
  return (const char *)n->data.scalar.value;
}

/* What a message says was found instead: a scalar quoted ("'5x'", into buf
 * of FOUND_SIZE bytes), else the kind of node ("a list"). */
static const char *found(const yaml_node_t *n, char *buf) {
  char q[TB_QUOTE_SIZE(QUOTE_MAX)];
  if (n->type != YAML_SCALAR_NODE) {
    return kind_name(n);
  }
  tb_text_quote(q, sizeof q, scalar(n), n->data.scalar.length, QUOTE_MAX);
  snprintf(buf, FOUND_SIZE, "'%s'", q);
  return buf;
}

/* Node id of the document, marked as visited; NULL (with err set) when it
 * was visited before, i.e. reached again through an alias. */
static yaml_node_t *take(struct walk *w, int id) {
  yaml_node_t *n = yaml_document_get_node(w->doc, id);
  if (n == NULL) {
    snprintf(w->err, w->errlen, "%s: malformed document (node %d missing)", w->name, id);
    return NULL;
  }
  size_t i = (size_t)(id - 1);
  if (i < w->nnodes && w->seen[i]) {
    fail_at(w, &n->start_mark,
            "this value is used again through an alias; anchors and aliases are not supported");
    return NULL;
  }
  if (i < w->nnodes) {
    w->seen[i] = 1;
  }
  return n;
}

/* A scalar that holds a real string: not empty, no NUL inside. */
static int want_string(const struct walk *w, const yaml_node_t *n, const char *what) {
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.length == 0 || is_null(n)) {
    return fail_at(w, &n->start_mark, "%s must be a non-empty string, found %s", what, kind_name(n));
  }
  if (strlen(scalar(n)) != n->data.scalar.length) {
    return fail_at(w, &n->start_mark, "%s contains a NUL character", what);
  }
  return 0;
}

/* digits[0..len) as a number no larger than max; -1 otherwise. */
static int digits_value(const char *s, size_t len, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  if (len == 0) {
    return -1;
  }
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return -1;
    }
    v = v * 10 + (uint64_t)(s[i] - '0');
    if (v > max) {
      return -1;
    }
  }
  *out = v;
  return 0;
}

static int want_uint(const struct walk *w, const yaml_node_t *n, const char *what, unsigned min, unsigned max,
                     unsigned *out) {
  uint64_t v = 0;
  if (n->type != YAML_SCALAR_NODE || digits_value(scalar(n), n->data.scalar.length, max, &v) != 0 ||
      v < min) {
    char buf[FOUND_SIZE];
    return fail_at(w, &n->start_mark, "%s must be a whole number from %u to %u, found %s", what, min, max,
                   found(n, buf));
  }
  *out = (unsigned)v;
  return 0;
}

/* A duration in milliseconds: plain digits (seconds) or "<digits>ms|s|m|h",
 * between min_ms and max_ms. */
static int want_duration(const struct walk *w, const yaml_node_t *n, const char *what, unsigned min_ms,
                         unsigned max_ms, unsigned *out) {
  static const struct {
    const char *suffix;
    uint64_t ms;
  } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
  uint64_t v = 0;
  int ok = 0;

  if (n->type == YAML_SCALAR_NODE) {
    const char *s = scalar(n);
    size_t len = n->data.scalar.length;
    size_t d = 0;
    while (d < len && s[d] >= '0' && s[d] <= '9') {
      d++;
    }
    if (d == len) {
      ok = digits_value(s, d, UINT32_MAX, &v) == 0;
      v *= 1000;
    } else {
      for (size_t u = 0; u < sizeof units / sizeof units[0] && !ok; u++) {
        if (len - d == strlen(units[u].suffix) && memcmp(s + d, units[u].suffix, len - d) == 0 &&
            digits_value(s, d, UINT32_MAX, &v) == 0) {
          v *= units[u].ms;
          ok = 1;
        }
      }
    }
  }
  if (!ok || v < min_ms || v > max_ms) {
    char buf[FOUND_SIZE];
    char min[24];
    /* "1ms", "0ms"; a minimum of whole seconds as seconds: "1s" */
    snprintf(min, sizeof min, min_ms > 0 && min_ms % 1000 == 0 ? "%us" : "%ums",
             min_ms > 0 && min_ms % 1000 == 0 ? min_ms / 1000 : min_ms);
    return fail_at(w, &n->start_mark,
                   "%s must be a duration from %s to %us (seconds, or a number with ms, s, m or h), found %s",
                   what, min, max_ms / 1000, found(n, buf));
  }
  *out = (unsigned)v;
  return 0;
}

static int want_identity(const struct walk *w, const yaml_node_t *n, enum tb_identity *out) {
  if (n->type != YAML_SCALAR_NODE || tb_identity_parse(scalar(n), out) != 0) {
    return fail_at(w, &n->start_mark, "client_identity must be keep, strip or forwarded, found %s",
                   n->type == YAML_SCALAR_NODE ? scalar(n) : kind_name(n));
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
static int want_setting(const struct walk *w, size_t which, const yaml_node_t *k, const yaml_node_t *v,
                        struct tb_settings *out) {
  const struct setting *s = &settings[which];
  if (s->kind == IDENTITY) {
    return want_identity(w, v, &out->identity);
  }
  return want_duration(w, v, scalar(k), s->min_ms, s->max_ms, (unsigned *)((char *)out + s->offset));
}

/* One port "443" or range "8000-8999". */
static int port_item(const struct walk *w, const yaml_node_t *n, struct tb_port_range *out) {
  uint64_t lo = 0;
  uint64_t hi = 0;
  int ok = 0;
  if (n->type == YAML_SCALAR_NODE) {
    const char *s = scalar(n);
    size_t len = n->data.scalar.length;
    const char *dash = memchr(s, '-', len);
    if (dash == NULL) {
      ok = digits_value(s, len, 65535, &lo) == 0;
      hi = lo;
    } else {
      ok = digits_value(s, (size_t)(dash - s), 65535, &lo) == 0 &&
           digits_value(dash + 1, len - (size_t)(dash - s) - 1, 65535, &hi) == 0;
    }
  }
  if (!ok || lo == 0 || hi == 0) {
    char buf[FOUND_SIZE];
    return fail_at(w, &n->start_mark, "a port must be a number 1-65535 or a range like 8000-8999, found %s",
                   found(n, buf));
  }
  if (lo > hi) {
    return fail_at(w, &n->start_mark, "port range %s runs backwards", scalar(n));
  }
  out->lo = (unsigned short)lo;
  out->hi = (unsigned short)hi;
  return 0;
}

/* ports: one item or a non-empty list of them.  *out is malloc'd. */
static int want_ports(struct walk *w, const yaml_node_t *n, struct tb_port_range **out, size_t *nout) {
  size_t count = 1;
  if (n->type == YAML_SEQUENCE_NODE) {
    count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count == 0) {
      return fail_at(w, &n->start_mark, "ports is an empty list (leave ports out to allow every port)");
    }
  } else if (n->type != YAML_SCALAR_NODE) {
    return fail_at(w, &n->start_mark, "ports must be a port, a range or a list of them, found %s",
                   kind_name(n));
  }
  struct tb_port_range *r = calloc(count, sizeof *r);
  if (r == NULL) {
    return fail_at(w, &n->start_mark, "out of memory");
  }
  for (size_t i = 0; i < count; i++) {
    const yaml_node_t *item = n;
    if (n->type == YAML_SEQUENCE_NODE && (item = take(w, n->data.sequence.items.start[i])) == NULL) {
      free(r);
      return -1;
    }
    if (port_item(w, item, &r[i]) != 0) {
      free(r);
      return -1;
    }
  }
  *out = r;
  *nout = count;
  return 0;
}

/* Walk mapping n: for each pair, check the key is a known, unrepeated
 * string and call one(w, index in keys, key node, value node, arg). */
typedef int (*pair_fn)(struct walk *w, size_t key, const yaml_node_t *k, yaml_node_t *v, void *arg);

static int unknown_key(const struct walk *w, const yaml_node_t *k, const char *what, const char *const *keys,
                       size_t nkeys) {
  char q[TB_QUOTE_SIZE(KEY_MAX)];
  char expected[512] = ""; /* the keys, ", " between them */
  for (size_t i = 0; i < nkeys; i++) {
    size_t used = strlen(expected);
    snprintf(expected + used, sizeof expected - used, "%s%s", i == 0 ? "" : ", ", keys[i]);
  }
  tb_text_quote(q, sizeof q, scalar(k), k->data.scalar.length, KEY_MAX);
  return fail_at(w, &k->start_mark, "unknown key '%s' in %s (expected %s)", q, what, expected);
}

static int walk_mapping(struct walk *w, const yaml_node_t *n, const char *what, const char *const *keys,
                        size_t nkeys, pair_fn one, void *arg) {
  const yaml_node_t *first[16] = {NULL};
  if (n->type != YAML_MAPPING_NODE) {
    return fail_at(w, &n->start_mark, "%s must be a mapping (key: value lines), found %s", what,
                   kind_name(n));
  }
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
    yaml_node_t *k = take(w, p->key);
    yaml_node_t *v = k != NULL ? take(w, p->value) : NULL;
    size_t i;
    if (v == NULL) {
      return -1;
    }
    if (k->type != YAML_SCALAR_NODE) {
      return fail_at(w, &k->start_mark, "a key in %s must be a plain name, found %s", what, kind_name(k));
    }
    for (i = 0; i < nkeys && strcmp(scalar(k), keys[i]) != 0; i++) {
    }
    if (i == nkeys || strlen(scalar(k)) != k->data.scalar.length) {
      return unknown_key(w, k, what, keys, nkeys);
    }
    if (first[i] != NULL) {
      return fail_at(w, &k->start_mark, "key '%s' appears twice in %s (first at line %zu)", keys[i], what,
                     first[i]->start_mark.line + 1);
    }
    first[i] = k;
    if (one(w, i, k, v, arg) != 0) {
      return -1;
    }
  }
  return 0;
}

/* ---- health (top level and rules) -------------------------------------- */

enum health_key { HK_FAILURES, HK_DOWN_FOR, HK_COUNT };
static const char *const health_keys[HK_COUNT] = {"failures", "down_for"};

static int health_pair(struct walk *w, size_t key, const yaml_node_t *k, yaml_node_t *v, void *arg) {
  struct tb_health_settings *out = arg;
  (void)k;
  if (key == HK_FAILURES) {
    return want_uint(w, v, "health failures", 1, TB_HEALTH_FAILURES_MAX, &out->failures);
  }
  return want_duration(w, v, "health down_for", TB_HEALTH_DOWN_FOR_MIN_MS, TB_HEALTH_DOWN_FOR_MAX_MS,
                       &out->down_for_ms);
}

/* health: {failures: N, down_for: DURATION}, either key optional: into
 * *out, whose fields stay as they are for a key not given. */
static int want_health(struct walk *w, const yaml_node_t *n, struct tb_health_settings *out) {
  return walk_mapping(w, n, "health", health_keys, HK_COUNT, health_pair, out);
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
  RK_COUNT
};
static const char *const rule_keys[RK_COUNT] = {"host",  "peer", "peers",      "balance",
                                                "ports", "name", SETTING_KEYS, "health"};

struct rule_in {
  const yaml_node_t *node[RK_COUNT]; /* value nodes as found */
  struct tb_port_range *ports;       /* owned */
  size_t nports;
  struct tb_settings settings; /* the rule's own */
  struct tb_health_settings health;
  enum tb_balance balance;
  size_t npeers; /* peer or peers: their texts and where each is */
  const char *peers[TB_RULE_PEERS_MAX];
  char where[TB_RULE_PEERS_MAX][TB_ORIGIN_MAX];
  const char *origins[TB_RULE_PEERS_MAX];
};

/* Peer n of the rule, value node v: its text and where it is written. */
static int peer_item(struct walk *w, struct rule_in *in, const yaml_node_t *v, const char *what) {
  if (want_string(w, v, what) != 0) {
    return -1;
  }
  snprintf(in->where[in->npeers], sizeof in->where[in->npeers], "%s:%zu:%zu", w->name, v->start_mark.line + 1,
           v->start_mark.column + 1);
  in->origins[in->npeers] = in->where[in->npeers];
  in->peers[in->npeers++] = scalar(v);
  return 0;
}

/* peers: a non-empty list of peers (or templates). */
static int want_peers(struct walk *w, const yaml_node_t *n, struct rule_in *in) {
  size_t count;
  if (n->type != YAML_SEQUENCE_NODE) {
    return fail_at(w, &n->start_mark, "peers must be a list of peers (for one peer, 'peer: ...'), found %s",
                   kind_name(n));
  }
  count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
  if (count == 0) {
    return fail_at(w, &n->start_mark, "peers is an empty list (a rule needs at least one peer)");
  }
  if (count > TB_RULE_PEERS_MAX) {
    return fail_at(w, &n->start_mark, "peers lists %zu peers: at most %d are allowed in one rule", count,
                   TB_RULE_PEERS_MAX);
  }
  for (size_t i = 0; i < count; i++) {
    const yaml_node_t *item = take(w, n->data.sequence.items.start[i]);
    if (item == NULL || peer_item(w, in, item, "a peer in peers") != 0) {
      return -1;
    }
  }
  return 0;
}

static int rule_pair(struct walk *w, size_t key, const yaml_node_t *k, yaml_node_t *v, void *arg) {
  struct rule_in *in = arg;
  in->node[key] = v;
  if (key >= RK_SETTING && key < RK_HEALTH) {
    return want_setting(w, key - RK_SETTING, k, v, &in->settings);
  }
  if ((key == RK_PEER && in->node[RK_PEERS] != NULL) || (key == RK_PEERS && in->node[RK_PEER] != NULL)) {
    return fail_at(
        w, &k->start_mark,
        "a rule has either 'peer' (one peer) or 'peers' (a list), not both (peer: X is peers: [X])");
  }
  switch ((enum rule_key)key) {
  case RK_HOST:
    return want_string(w, v, "host");
  case RK_PEER:
    return peer_item(w, in, v, "peer");
  case RK_PEERS:
    return want_peers(w, v, in);
  case RK_BALANCE:
    if (v->type != YAML_SCALAR_NODE || tb_balance_parse(scalar(v), &in->balance) != 0) {
      char buf[FOUND_SIZE];
      return fail_at(w, &v->start_mark, "balance must be failover, round_robin or hash, found %s",
                     found(v, buf));
    }
    return 0;
  case RK_HEALTH:
    return want_health(w, v, &in->health);
  case RK_NAME:
    if (want_string(w, v, "name") != 0) {
      return -1;
    }
    for (const char *s = scalar(v); *s != '\0'; s++) {
      if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e || *s == '"') {
        return fail_at(w, &v->start_mark, "name may hold only printable ASCII without spaces or quotes");
      }
    }
    if (v->data.scalar.length > NAME_MAX_LEN) {
      return fail_at(w, &v->start_mark, "name is longer than %d characters", NAME_MAX_LEN);
    }
    return 0;
  case RK_PORTS:
    return want_ports(w, v, &in->ports, &in->nports);
  case RK_SETTING:
  case RK_COUNT:
  default:
    return -1;
  }
}

static int one_rule(struct walk *w, const yaml_node_t *n, size_t number) {
  struct rule_in in = {.settings = TB_SETTINGS_UNSET};
  char what[48];
  char origin[TB_ORIGIN_MAX];
  char where[TB_ORIGIN_MAX];
  int rc = -1;

  snprintf(what, sizeof what, "rule %zu", number);
  if (walk_mapping(w, n, what, rule_keys, RK_COUNT, rule_pair, &in) != 0) {
    goto done;
  }
  if (in.node[RK_HOST] == NULL || in.npeers == 0) {
    fail_at(w, &n->start_mark, "rule %zu has no '%s'", number, in.node[RK_HOST] == NULL ? "host" : "peer");
    goto done;
  }
  /* The store prefixes its messages (a bad regex) with origin; a rule
   * without a name is known by the line it starts on.  Its messages about
   * a peer start with that peer's own position. */
  const yaml_node_t *hn = in.node[RK_HOST];
  snprintf(origin, sizeof origin, "%s:%zu:%zu", w->name, hn->start_mark.line + 1, hn->start_mark.column + 1);
  snprintf(where, sizeof where, "%s:%zu", w->name, n->start_mark.line + 1);
  const struct tb_rule_spec spec = {
      .pattern = scalar(hn),
      .peers = in.peers,
      .npeers = in.npeers,
      .peer_origins = in.origins,
      .origin = origin,
      .name = in.node[RK_NAME] != NULL ? scalar(in.node[RK_NAME]) : where,
      .ports = in.ports,
      .nports = in.nports,
      .settings = in.settings,
      .balance = in.balance,
      .health = in.health,
  };
  rc = tb_config_add(w->c, &spec, w->err, w->errlen);

done:
  free(in.ports);
  return rc;
}

/* ---- the top level ----------------------------------------------------- */

enum top_key { TK_RULES, TK_UNMATCHED, TK_SETTING, TK_POOL = TK_SETTING + NSETTINGS, TK_HEALTH, TK_COUNT };
static const char *const top_keys[TK_COUNT] = {"rules", "unmatched", SETTING_KEYS, "pool", "health"};

enum pool_key { PK_SIZE, PK_MAX_AGE, PK_COUNT };
static const char *const pool_keys[PK_COUNT] = {"size", "max_age"};

static int pool_pair(struct walk *w, size_t key, const yaml_node_t *k, yaml_node_t *v, void *arg) {
  (void)k;
  (void)arg;
  if (key == PK_SIZE) {
    return want_uint(w, v, "pool size", 0, TB_POOL_SIZE_MAX, &w->c->pool_size);
  }
  return want_duration(w, v, "pool max_age", 1, TB_TIMEOUT_MAX_S * 1000u, &w->c->pool_max_age_ms);
}

static int top_pair(struct walk *w, size_t key, const yaml_node_t *k, yaml_node_t *v, void *arg) {
  struct tb_settings *defaults = arg;
  if (key >= TK_SETTING && key < TK_POOL) {
    return want_setting(w, key - TK_SETTING, k, v, defaults);
  }
  switch ((enum top_key)key) {
  case TK_RULES:
    if (v->type != YAML_SEQUENCE_NODE) {
      return fail_at(w, &v->start_mark, "rules must be a list of rules (lines starting with '- '), found %s",
                     kind_name(v));
    }
    if (v->data.sequence.items.top == v->data.sequence.items.start) {
      return fail_at(w, &v->start_mark, "rules is empty: the bridge needs at least one rule");
    }
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
      yaml_node_t *rn = take(w, *it);
      if (rn == NULL || one_rule(w, rn, (size_t)(it - v->data.sequence.items.start) + 1) != 0) {
        return -1;
      }
    }
    return 0;
  case TK_UNMATCHED:
    if (v->type != YAML_SCALAR_NODE ||
        (strcmp(scalar(v), "passthrough") != 0 && strcmp(scalar(v), "deny") != 0)) {
      return fail_at(w, &v->start_mark, "unmatched must be passthrough or deny, found %s",
                     v->type == YAML_SCALAR_NODE ? scalar(v) : kind_name(v));
    }
    w->c->deny_unmatched = strcmp(scalar(v), "deny") == 0;
    return 0;
  case TK_POOL:
    return walk_mapping(w, v, "pool", pool_keys, PK_COUNT, pool_pair, NULL);
  case TK_HEALTH: {
    struct tb_health_settings h = {w->c->health_failures, w->c->health_down_for_ms};
    if (want_health(w, v, &h) != 0) {
      return -1;
    }
    w->c->health_failures = h.failures;
    w->c->health_down_for_ms = h.down_for_ms;
    return 0;
  }
  case TK_SETTING:
  case TK_COUNT:
  default:
    return -1;
  }
}

static int walk_document(struct walk *w) {
  struct tb_settings defaults = TB_SETTINGS_UNSET;
  yaml_node_t *root = yaml_document_get_root_node(w->doc);
  if (root == NULL) {
    snprintf(w->err, w->errlen, "%s: empty file: expected a mapping with a 'rules' list", w->name);
    return -1;
  }
  if ((root = take(w, 1)) == NULL) {
    return -1;
  }
  if (walk_mapping(w, root, "the top level", top_keys, TK_COUNT, top_pair, &defaults) != 0) {
    return -1;
  }
  if (w->c->nrules == 0) {
    return fail_at(w, &root->start_mark, "no 'rules': the bridge needs at least one rule");
  }
  tb_config_set_defaults(w->c, &defaults);
  return 0;
}

static int syntax_error(const struct walk *w, const yaml_parser_t *p) {
  const char *problem = p->problem != NULL ? p->problem : "unreadable YAML";
  if (p->error == YAML_MEMORY_ERROR) {
    snprintf(w->err, w->errlen, "%s: out of memory", w->name);
    return -1;
  }
  if (p->context != NULL) {
    return fail_at(w, &p->problem_mark, "YAML syntax error: %s (%s at line %zu)", problem, p->context,
                   p->context_mark.line + 1);
  }
  return fail_at(w, &p->problem_mark, "YAML syntax error: %s", problem);
}

int tb_config_load_yaml_text(struct tb_config *c, const char *text, size_t len, const char *name, char *err,
                             size_t errlen) {
  struct tb_config saved = *c;
  struct walk w = {NULL, name, err, errlen, NULL, 0, c};
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
        fail_at(&w, &more->start_mark, "a second YAML document ('---'): only one is allowed");
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

int tb_config_load_yaml(struct tb_config *c, const char *path, char *err, size_t errlen) {
  size_t len = 0;
  char *text = tb_file_read(path, &len, err, errlen);
  if (text == NULL) {
    return -1;
  }
  int rc = tb_config_load_yaml_text(c, text, len, path, err, errlen);
  free(text);
  return rc;
}
