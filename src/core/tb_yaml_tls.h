/*
 * tb_yaml_tls: the YAML file's engine and TLS keys (tb_transport.h).  At the
 * top level, `engine` and the `tls` mapping make the file's default
 * transport; in a rule, `engine` and the same TLS keys (written in the rule
 * itself) make its own.  Each key is read where it is written: a path
 * resolved against the configuration directory and checked readable by
 * this process (the plugin refuses to start, or to reload, on a file it
 * could not read later), sni read as a host name, verify as true or false.
 * Then the default and each rule's transport are made: TLS keys where the
 * engine is ats, and client_key without client_cert, are refused at the
 * key, since the transport would not do what they say.
 *
 * Internal to the YAML front end (tb_yaml.c), not an API.  A struct
 * tb_yaml_tls owns the strings it read (tb_yaml_tls_free).  Not thread-safe
 * (a walk is one load).
 */
#ifndef TB_YAML_TLS_H
#define TB_YAML_TLS_H

#include "tb_transport.h"
#include "tb_yaml_walk.h"

/* The TLS keys, in the order of enum tb_tls_key. */
#define TB_YAML_TLS_KEYS "client_cert", "client_key", "ca", "sni", "verify"

/* What one place (the top level, or one rule) says about its transport. */
struct tb_yaml_tls {
  const yaml_node_t *engine_key;           /* where engine is written; NULL: not given */
  const yaml_node_t *key[TB_TLSKEY_COUNT]; /* where each TLS key is written; NULL: not given */
  struct tb_transport t;                   /* as read: engine UNSET unless given; strings owned */
};

#define TB_YAML_TLS_INIT                                                                                     \
  {                                                                                                          \
    NULL, {NULL}, {                                                                                          \
      TB_ENGINE_UNSET, NULL, NULL, NULL, NULL, TB_VERIFY_UNSET                                               \
    }                                                                                                        \
  }

/* "engine: ats|direct" (key node k, value v) into *in.  0, or -1. */
int tb_yaml_tls_engine(const struct tb_yaml_walk *w, const yaml_node_t *k, const yaml_node_t *v,
                       struct tb_yaml_tls *in);

/* TLS key which (key node k, value v) into *in.  0, or -1. */
int tb_yaml_tls_key(const struct tb_yaml_walk *w, enum tb_tls_key which, const yaml_node_t *k,
                    const yaml_node_t *v, struct tb_yaml_tls *in);

/* The top level's `tls` mapping (value v) into *in.  0, or -1. */
int tb_yaml_tls_mapping(struct tb_yaml_walk *w, const yaml_node_t *v, struct tb_yaml_tls *in);

/* Make the file's default transport from what the top level says (engine
 * ats unless given) and put it into w->c (tb_config_set_transport).  0, or
 * -1. */
int tb_yaml_tls_set_default(const struct tb_yaml_walk *w, const struct tb_yaml_tls *top);

/* The transport of a rule that says *rule, over the file's default
 * (w->c->transports[0], set before): its engine, else the default's; with
 * engine direct, client_cert and client_key as a pair, the rule's when it
 * gives either, else the default's, and ca, sni and verify each the
 * rule's, else the default's.  *use is then NULL when that is the default
 * itself, else out (whose strings are borrowed from rule and the default).
 * 0, or -1. */
int tb_yaml_tls_rule(const struct tb_yaml_walk *w, const struct tb_yaml_tls *rule, struct tb_transport *out,
                     const struct tb_transport **use);

/* Free the strings in *in. */
void tb_yaml_tls_free(struct tb_yaml_tls *in);

#endif
