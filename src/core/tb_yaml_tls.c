/*
 * tb_yaml_tls: see tb_yaml_tls.h.
 *
 * The file's default is made once the whole top level is read (engine may
 * be written after tls, or after the rules), and before any rule: the
 * rules are read last (tb_yaml.c), so each rule's transport is made against
 * the final default, and a rule whose transport is the default's takes
 * the default itself (tb_config.h: the glue then needs one TLS client for
 * both).
 */
#include "tb_yaml_tls.h"
#include "tb_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_QUOTE_MAX 200 /* bytes of a path shown in a message */

/* Why client_key alone is refused: the pair is one setting. */
#define KEY_ALONE "client_key needs client_cert beside it: a key is of use only with its own certificate"

int tb_yaml_tls_engine(const struct tb_yaml_walk *w, const yaml_node_t *k, const yaml_node_t *v,
                       struct tb_yaml_tls *in) {
  char buf[TB_YAML_FOUND_SIZE];

  if (v->type != YAML_SCALAR_NODE || tb_engine_parse(tb_yaml_scalar(v), &in->t.engine) != 0) {
    return tb_yaml_fail_at(w, &v->start_mark, "engine must be ats or direct, found %s",
                           tb_yaml_found(v, buf));
  }
  in->engine_key = k;
  return 0;
}

/* verify: true or false, in the spellings YAML 1.2's core schema has
 * (yes/no/on/off are not booleans there, and are refused). */
static int want_verify(const struct tb_yaml_walk *w, const yaml_node_t *v, int *out) {
  static const char *const yes[] = {"true", "True", "TRUE"};
  static const char *const no[] = {"false", "False", "FALSE"};
  char buf[TB_YAML_FOUND_SIZE];

  for (size_t i = 0; v->type == YAML_SCALAR_NODE && i < sizeof yes / sizeof yes[0]; i++) {
    if (strcmp(tb_yaml_scalar(v), yes[i]) == 0 || strcmp(tb_yaml_scalar(v), no[i]) == 0) {
      *out = strcmp(tb_yaml_scalar(v), yes[i]) == 0;
      return 0;
    }
  }
  return tb_yaml_fail_at(w, &v->start_mark, "verify must be true or false, found %s", tb_yaml_found(v, buf));
}

/* sni: a host name, kept in lower case without a trailing dot. */
static int want_sni(const struct tb_yaml_walk *w, const yaml_node_t *v, char **out) {
  char host[TB_HOST_MAX + 1];
  char q[TB_QUOTE_SIZE(TB_YAML_QUOTE_MAX)];
  const char *why;

  if (tb_yaml_want_string(w, v, "sni") != 0) {
    return -1;
  }
  why = tb_transport_sni_problem(tb_yaml_scalar(v), v->data.scalar.length, host);
  if (why != NULL) {
    tb_text_quote(q, sizeof q, tb_yaml_scalar(v), v->data.scalar.length, TB_YAML_QUOTE_MAX);
    return tb_yaml_fail_at(w, &v->start_mark, "sni '%s': %s", q, why);
  }
  *out = strdup(host);
  return *out != NULL ? 0 : tb_yaml_fail_at(w, &v->start_mark, "out of memory");
}

/* A path (TLS key which): resolved against confdir, and a file this
 * process can read (for ca, also a directory it can search). */
static int want_path(const struct tb_yaml_walk *w, enum tb_tls_key which, const yaml_node_t *v, char **out) {
  char why[256];
  char q[TB_QUOTE_SIZE(PATH_QUOTE_MAX)];
  char *path;

  if (tb_yaml_want_string(w, v, tb_tls_key_name(which)) != 0) {
    return -1;
  }
  path = tb_file_resolve(w->confdir, tb_yaml_scalar(v));
  if (path == NULL) {
    return tb_yaml_fail_at(w, &v->start_mark, "out of memory");
  }
  if (tb_file_check(path, which == TB_TLSKEY_CA, why, sizeof why) != 0) {
    tb_text_quote(q, sizeof q, path, strlen(path), PATH_QUOTE_MAX);
    free(path);
    return tb_yaml_fail_at(w, &v->start_mark, "%s '%s': %s", tb_tls_key_name(which), q, why);
  }
  *out = path;
  return 0;
}

int tb_yaml_tls_key(const struct tb_yaml_walk *w, enum tb_tls_key which, const yaml_node_t *k,
                    const yaml_node_t *v, struct tb_yaml_tls *in) {
  char **field = tb_transport_field(&in->t, which);

  in->key[which] = k;
  if (which == TB_TLSKEY_VERIFY) {
    return want_verify(w, v, &in->t.verify);
  }
  free(*field); /* NULL (a mapping gives each key once), but never leak */
  *field = NULL;
  return which == TB_TLSKEY_SNI ? want_sni(w, v, field) : want_path(w, which, v, field);
}

static int tls_pair(struct tb_yaml_walk *w, size_t key, const yaml_node_t *k, yaml_node_t *v, void *arg) {
  return tb_yaml_tls_key(w, (enum tb_tls_key)key, k, v, arg);
}

int tb_yaml_tls_mapping(struct tb_yaml_walk *w, const yaml_node_t *v, struct tb_yaml_tls *in) {
  static const char *const keys[TB_TLSKEY_COUNT] = {TB_YAML_TLS_KEYS};
  return tb_yaml_walk_mapping(w, v, "tls", keys, TB_TLSKEY_COUNT, tls_pair, in);
}

/* The TLS key of in written first in the file, or NULL when it gives none. */
static const yaml_node_t *first_tls_key(const struct tb_yaml_tls *in, enum tb_tls_key *which) {
  const yaml_node_t *first = NULL;

  for (int k = 0; k < TB_TLSKEY_COUNT; k++) {
    const yaml_node_t *n = in->key[k];
    if (n != NULL && (first == NULL || n->start_mark.index < first->start_mark.index)) {
      first = n;
      *which = (enum tb_tls_key)k;
    }
  }
  return first;
}

int tb_yaml_tls_set_default(const struct tb_yaml_walk *w, const struct tb_yaml_tls *top) {
  struct tb_transport t = top->t; /* its strings lent to the store, which copies them */
  enum tb_tls_key which = TB_TLSKEY_CLIENT_CERT;
  const yaml_node_t *first = first_tls_key(top, &which);

  if (first == NULL && top->engine_key == NULL) {
    return 0; /* the configuration's default stays as it is */
  }
  if (t.engine == TB_ENGINE_UNSET) {
    t.engine = w->c->transports[0].engine;
  }
  if (t.engine == TB_ENGINE_ATS && first != NULL) {
    return tb_yaml_fail_at(w, &first->start_mark,
                           "%s applies only to engine: direct; the file's default engine is ats",
                           tb_tls_key_name(which));
  }
  if (top->key[TB_TLSKEY_CLIENT_KEY] != NULL && top->key[TB_TLSKEY_CLIENT_CERT] == NULL) {
    return tb_yaml_fail_at(w, &top->key[TB_TLSKEY_CLIENT_KEY]->start_mark, KEY_ALONE);
  }
  return tb_config_set_transport(w->c, &t, w->name, w->err, w->errlen);
}

int tb_yaml_tls_rule(const struct tb_yaml_walk *w, const struct tb_yaml_tls *rule, struct tb_transport *out,
                     const struct tb_transport **use) {
  const struct tb_transport *d = &w->c->transports[0];
  enum tb_tls_key which = TB_TLSKEY_CLIENT_CERT;
  const yaml_node_t *first = first_tls_key(rule, &which);

  *out = (struct tb_transport)TB_TRANSPORT_ATS;
  out->engine = rule->t.engine != TB_ENGINE_UNSET ? rule->t.engine : d->engine;
  if (out->engine == TB_ENGINE_ATS && first != NULL) {
    /* Traffic Server's CONNECT would not use them: its records govern. */
    return tb_yaml_fail_at(w, &first->start_mark,
                           "%s applies only to engine: direct; this rule uses engine ats",
                           tb_tls_key_name(which));
  }
  if (rule->key[TB_TLSKEY_CLIENT_KEY] != NULL && rule->key[TB_TLSKEY_CLIENT_CERT] == NULL) {
    return tb_yaml_fail_at(w, &rule->key[TB_TLSKEY_CLIENT_KEY]->start_mark, KEY_ALONE);
  }
  if (out->engine == TB_ENGINE_DIRECT) {
    /* The default's settings are all unset when its engine is ats. */
    const struct tb_transport *pair = rule->t.client_cert != NULL ? &rule->t : d;
    out->client_cert = pair->client_cert;
    out->client_key = pair->client_key;
    out->ca = rule->t.ca != NULL ? rule->t.ca : d->ca;
    out->sni = rule->t.sni != NULL ? rule->t.sni : d->sni;
    out->verify = rule->t.verify != TB_VERIFY_UNSET ? rule->t.verify : d->verify;
  }
  *use = tb_transport_same(out, d) ? NULL : out;
  return 0;
}

void tb_yaml_tls_free(struct tb_yaml_tls *in) {
  tb_transport_clear(&in->t);
}
