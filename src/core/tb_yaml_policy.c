/*
 * tb_yaml_policy: the peer role's `policy:` list in the YAML file
 * (docs/configuration.md, "Peer role"), read into a tb_policy.  See
 * tb_yaml_walk.h for the walking helpers and tb_yaml.c for the rest of the
 * file.
 *
 *   policy:
 *     - name: branch-1                         # optional
 *       identity: branch-1[.]corp[.]example    # required, a regex
 *       allow:                                 # optional: none allows nothing
 *         - {host: db[.]internal, ports: 5432} # a mapping ...
 *         - .*[.]svc[.]corp[.]example          # ... or just a host regex (any port)
 *       deny:                                  # optional, checked first
 *         - {host: admin[.]svc[.]corp[.]example}
 *
 * Each target's messages (a bad regex, a bad port) name its own position;
 * an entry without a name is known by the line it starts on.
 */
#include "tb_yaml_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum entry_key { EK_IDENTITY, EK_ALLOW, EK_DENY, EK_NAME, EK_COUNT };
static const char *const entry_keys[EK_COUNT] = {"identity", "allow", "deny", "name"};

enum target_key { XK_HOST, XK_PORTS, XK_COUNT };
static const char *const target_keys[XK_COUNT] = {"host", "ports"};

struct target_in {
  const yaml_node_t *host;
  struct tb_port_range *ports; /* owned */
  size_t nports;
  char origin[TB_ORIGIN_MAX];
};

struct list_in {
  struct target_in *t; /* owned, n */
  size_t n;
  struct tb_policy_target_spec *specs; /* owned, n: what tb_policy_add reads */
};

struct entry_in {
  const yaml_node_t *node[EK_COUNT];
  struct list_in lists[2]; /* allow, deny */
};

static void list_free(struct list_in *l) {
  for (size_t i = 0; l->t != NULL && i < l->n; i++) {
    free(l->t[i].ports);
  }
  free(l->t);
  free(l->specs);
  memset(l, 0, sizeof *l);
}

static int target_pair(struct tb_yaml_walk *w, size_t key, const yaml_node_t *k, yaml_node_t *v, void *arg) {
  struct target_in *t = arg;
  (void)k;
  if (key == XK_HOST) {
    t->host = v;
    return tb_yaml_want_string(w, v, "host");
  }
  return tb_yaml_want_ports(w, v, &t->ports, &t->nports);
}

/* One target: {host: REGEX, ports: ...} or a bare host regex. */
static int one_target(struct tb_yaml_walk *w, const yaml_node_t *n, const char *what, struct target_in *t) {
  if (n->type == YAML_SCALAR_NODE) {
    if (tb_yaml_want_string(w, n, what) != 0) {
      return -1;
    }
    t->host = n;
  } else {
    if (tb_yaml_walk_mapping(w, n, what, target_keys, XK_COUNT, target_pair, t) != 0) {
      return -1;
    }
    if (t->host == NULL) {
      return tb_yaml_fail_at(w, &n->start_mark, "%s has no 'host'", what);
    }
  }
  snprintf(t->origin, sizeof t->origin, "%s:%zu:%zu", w->name, t->host->start_mark.line + 1,
           t->host->start_mark.column + 1);
  return 0;
}

/* allow: or deny: a non-empty list of targets. */
static int want_list(struct tb_yaml_walk *w, const yaml_node_t *n, const char *key, struct list_in *l) {
  char what[64];
  size_t count;

  if (n->type != YAML_SEQUENCE_NODE) {
    return tb_yaml_fail_at(
        w, &n->start_mark,
        "%s must be a list of targets ({host: REGEX, ports: ...} or a host regex), found %s", key,
        tb_yaml_kind(n));
  }
  count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
  if (count == 0) {
    return tb_yaml_fail_at(w, &n->start_mark, "%s is an empty list (leave it out: %s)", key,
                           strcmp(key, "allow") == 0
                               ? "an entry without allow allows nothing"
                               : "an entry without deny denies only what it does not allow");
  }
  l->t = calloc(count, sizeof *l->t);
  l->specs = calloc(count, sizeof *l->specs);
  if (l->t == NULL || l->specs == NULL) {
    return tb_yaml_fail_at(w, &n->start_mark, "out of memory");
  }
  l->n = count;
  for (size_t i = 0; i < count; i++) {
    const yaml_node_t *item = tb_yaml_take(w, n->data.sequence.items.start[i]);
    snprintf(what, sizeof what, "%s target %zu", key, i + 1);
    if (item == NULL || one_target(w, item, what, &l->t[i]) != 0) {
      return -1;
    }
    l->specs[i].pattern = tb_yaml_scalar(l->t[i].host);
    l->specs[i].origin = l->t[i].origin;
    l->specs[i].ports = l->t[i].ports;
    l->specs[i].nports = l->t[i].nports;
  }
  return 0;
}

static int entry_pair(struct tb_yaml_walk *w, size_t key, const yaml_node_t *k, yaml_node_t *v, void *arg) {
  struct entry_in *in = arg;
  (void)k;
  in->node[key] = v;
  switch ((enum entry_key)key) {
  case EK_IDENTITY:
    return tb_yaml_want_string(w, v, "identity");
  case EK_ALLOW:
    return want_list(w, v, "allow", &in->lists[0]);
  case EK_DENY:
    return want_list(w, v, "deny", &in->lists[1]);
  case EK_NAME:
    return tb_yaml_want_name(w, v);
  case EK_COUNT:
  default:
    return -1;
  }
}

static int one_entry(struct tb_yaml_walk *w, const yaml_node_t *n, size_t number) {
  struct entry_in in;
  char what[48];
  char origin[TB_ORIGIN_MAX];
  char where[TB_ORIGIN_MAX];
  int rc = -1;

  memset(&in, 0, sizeof in);
  snprintf(what, sizeof what, "policy entry %zu", number);
  if (tb_yaml_walk_mapping(w, n, what, entry_keys, EK_COUNT, entry_pair, &in) != 0) {
    goto done;
  }
  const yaml_node_t *id = in.node[EK_IDENTITY];
  if (id == NULL) {
    tb_yaml_fail_at(w, &n->start_mark, "policy entry %zu has no 'identity'", number);
    goto done;
  }
  snprintf(origin, sizeof origin, "%s:%zu:%zu", w->name, id->start_mark.line + 1, id->start_mark.column + 1);
  snprintf(where, sizeof where, "%s:%zu", w->name, n->start_mark.line + 1);
  const struct tb_policy_entry_spec spec = {
      .identity = tb_yaml_scalar(id),
      .origin = origin,
      .name = in.node[EK_NAME] != NULL ? tb_yaml_scalar(in.node[EK_NAME]) : where,
      .allow = in.lists[0].specs,
      .nallow = in.lists[0].n,
      .deny = in.lists[1].specs,
      .ndeny = in.lists[1].n,
  };
  rc = tb_policy_add(w->c->policy, &spec, w->err, w->errlen);

done:
  list_free(&in.lists[0]);
  list_free(&in.lists[1]);
  return rc;
}

int tb_yaml_policy(struct tb_yaml_walk *w, const yaml_node_t *n) {
  if (n->type != YAML_SEQUENCE_NODE) {
    return tb_yaml_fail_at(w, &n->start_mark,
                           "policy must be a list of entries (lines starting with '- '), found %s",
                           tb_yaml_kind(n));
  }
  if (n->data.sequence.items.top == n->data.sequence.items.start) {
    return tb_yaml_fail_at(w, &n->start_mark,
                           "policy is empty: a peer needs at least one entry (with none it would "
                           "refuse every CONNECT)");
  }
  if (w->c->policy == NULL && (w->c->policy = tb_policy_create()) == NULL) {
    return tb_yaml_fail_at(w, &n->start_mark, "out of memory");
  }
  for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
    yaml_node_t *en = tb_yaml_take(w, *it);
    if (en == NULL || one_entry(w, en, (size_t)(it - n->data.sequence.items.start) + 1) != 0) {
      return -1;
    }
  }
  return 0;
}
