/*
 * tb_yamlwalk: walking a libyaml document against a schema, shared by the
 * YAML front end's two halves (tb_yaml.c: the file's top level and the
 * ingress role's rules; tb_yaml_policy.c: the peer role's policy).  Internal
 * to them: nothing else includes this header.
 *
 * Every helper that fails writes "FILE:LINE:COLUMN: <what is wrong>" into
 * the walk's err (libyaml counts from 0, messages from 1) and returns -1.
 * Each node may be taken once: an alias would reach one node twice (see
 * tb_yaml_take).  Owns nothing; not thread-safe (one walk per load).
 */
#ifndef TB_YAMLWALK_H
#define TB_YAMLWALK_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "tb_config.h"
#include "tb_text.h"

#define TB_YAML_QUOTE_MAX 64
#define TB_YAML_FOUND_SIZE (TB_QUOTE_SIZE(TB_YAML_QUOTE_MAX) + 2) /* bytes for tb_yaml_found's text */

#if defined(__GNUC__)
#define TB_PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define TB_PRINTFLIKE(f, a)
#endif

/* One walk over one document. */
struct tb_yaml_walk {
  yaml_document_t *doc;
  const char *name; /* the file, for messages */
  char *err;
  size_t errlen;
  unsigned char *seen; /* one flag per node (index = node id - 1) */
  size_t nnodes;
  struct tb_config *c;
};

/* "FILE:LINE:COLUMN: " and the message, for the node at m; returns -1. */
int tb_yaml_fail(const struct tb_yaml_walk *w, const yaml_mark_t *m, const char *fmt, ...)
    TB_PRINTFLIKE(3, 4);

/* Is n YAML's null ("key:" with no value, "~", "null" written plain)? */
int tb_yaml_is_null(const yaml_node_t *n);

/* "a single value", "a list", "a mapping", "nothing": for messages. */
const char *tb_yaml_kind(const yaml_node_t *n);

/* A scalar node's text (NUL-terminated; may hold NULs of its own). */
const char *tb_yaml_scalar(const yaml_node_t *n);

/* What a message says was found instead: a scalar quoted ("'5x'", into buf
 * of TB_YAML_FOUND_SIZE bytes), else the kind of node. */
const char *tb_yaml_found(const yaml_node_t *n, char *buf);

/* Node id of the document, marked as visited; NULL (err set) when missing
 * or visited before (reached again through an alias). */
yaml_node_t *tb_yaml_take(struct tb_yaml_walk *w, int id);

/* n is a non-empty string without NUL (what: its name in the message). */
int tb_yaml_string(const struct tb_yaml_walk *w, const yaml_node_t *n, const char *what);

/* s[0..len) as a decimal number no larger than max into *out: 0, or -1. */
int tb_yaml_digits(const char *s, size_t len, uint64_t max, uint64_t *out);

/* A rule's or a policy entry's name: printable ASCII without spaces or
 * quotes, at most TB_YAML_NAME_MAX characters. */
#define TB_YAML_NAME_MAX 100
int tb_yaml_name(const struct tb_yaml_walk *w, const yaml_node_t *n);

/* A whole number min..max into *out. */
int tb_yaml_uint(const struct tb_yaml_walk *w, const yaml_node_t *n, const char *what, unsigned min,
                 unsigned max, unsigned *out);

/* A duration in milliseconds (digits: seconds; or <digits>ms|s|m|h),
 * min_ms..max_ms, into *out. */
int tb_yaml_duration(const struct tb_yaml_walk *w, const yaml_node_t *n, const char *what, unsigned min_ms,
                     unsigned max_ms, unsigned *out);

/* ports: one port or range ("443", "8000-8999") or a non-empty list of
 * them, into a malloc'd *out (the caller frees it) of *nout. */
int tb_yaml_ports(struct tb_yaml_walk *w, const yaml_node_t *n, struct tb_port_range **out, size_t *nout);

/* Called for each pair of a mapping: key is its index in the schema's keys. */
typedef int (*tb_yaml_pair_fn)(struct tb_yaml_walk *w, size_t key, const yaml_node_t *k, yaml_node_t *v,
                               void *arg);

/* Walk mapping n (what: its name in messages): each key must be one of
 * keys[0..nkeys) (at most 16), given once; one() gets each pair. */
int tb_yaml_mapping(struct tb_yaml_walk *w, const yaml_node_t *n, const char *what, const char *const *keys,
                    size_t nkeys, tb_yaml_pair_fn one, void *arg);

/* The peer role's policy list n (tb_yaml_policy.c) into w->c->policy. */
int tb_yaml_policy(struct tb_yaml_walk *w, const yaml_node_t *n);

#endif
