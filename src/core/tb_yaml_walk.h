/*
 * tb_yaml_walk: the YAML loader's reading of values (tb_yaml.c has the
 * schema): the walk's state, messages at a node's line and column, each
 * node visited once, strings, whole numbers, durations, ports, and mappings
 * checked against a list of keys.  Untagged scalars all come out of libyaml
 * as strings, so types are ours to check: a whole number is a scalar of
 * digits (quoted or not); a duration is such a number of seconds or
 * "<digits><unit>" with unit ms, s, m or h.  Anchors and aliases are
 * refused: with the document loader an alias is the anchored node itself,
 * so a small file could make the walk visit one large list many times over;
 * each node may be taken once.
 *
 * Internal to the YAML front end (tb_yaml.c, tb_yaml_tls.c), not an API.
 * Owns nothing; the functions read the document and write their message
 * into the walk's err.  Not thread-safe (a walk is one load).
 */
#ifndef TB_YAML_WALK_H
#define TB_YAML_WALK_H

#include <stddef.h>
#include <yaml.h>

#include "tb_config.h"
#include "tb_text.h"

#define TB_YAML_QUOTE_MAX 64 /* bytes of a value shown in a message */
#define TB_YAML_FOUND_SIZE (TB_QUOTE_SIZE(TB_YAML_QUOTE_MAX) + 2)
#define TB_YAML_KEYS_MAX 24  /* keys of one mapping (a rule has the most) */
#define TB_YAML_NAME_MAX 100 /* characters of a name (a rule's, a policy entry's) */

#if defined(__GNUC__)
#define TB_PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define TB_PRINTFLIKE(f, a)
#endif

struct tb_yaml_walk {
  yaml_document_t *doc;
  const char *name;    /* the file, for messages */
  const char *confdir; /* relative paths in the file are there (NULL: as written) */
  char *err;
  size_t errlen;
  unsigned char *seen; /* one flag per node (index = node id - 1) */
  size_t nnodes;
  struct tb_config *c;
};

/* "<file>:<line>:<column>: <message>" into w->err, at mark m; returns -1. */
int tb_yaml_fail_at(const struct tb_yaml_walk *w, const yaml_mark_t *m, const char *fmt, ...)
    TB_PRINTFLIKE(3, 4);

/* What kind of node n is, for messages: "a single value", "a list", "a
 * mapping", "nothing" (YAML's null). */
/* YAML's null: "key:" with no value, "~" or "null" (plain). */
int tb_yaml_is_null(const yaml_node_t *n);

const char *tb_yaml_kind(const yaml_node_t *n);

/* A scalar node's text (NUL-terminated; check its length for NULs inside). */
const char *tb_yaml_scalar(const yaml_node_t *n);

/* What a message says was found instead: a scalar quoted ("'5x'", into buf
 * of TB_YAML_FOUND_SIZE bytes), else the kind of node ("a list"). */
const char *tb_yaml_found(const yaml_node_t *n, char *buf);

/* Node id of the document, marked as visited; NULL (with err set) when it
 * was visited before, i.e. reached again through an alias. */
yaml_node_t *tb_yaml_take(struct tb_yaml_walk *w, int id);

/* A scalar that holds a real string: not empty, no NUL inside; what names
 * it in the message.  0, or -1 with the message. */
int tb_yaml_want_string(const struct tb_yaml_walk *w, const yaml_node_t *n, const char *what);

/* A name (of a rule, of a policy entry): a string of printable ASCII
 * without spaces or quotes, at most TB_YAML_NAME_MAX characters.  0, or -1
 * with the message. */
int tb_yaml_want_name(const struct tb_yaml_walk *w, const yaml_node_t *n);

/* A whole number min..max into *out; 0, or -1 with the message. */
int tb_yaml_want_uint(const struct tb_yaml_walk *w, const yaml_node_t *n, const char *what, unsigned min,
                      unsigned max, unsigned *out);

/* A duration in milliseconds, min_ms..max_ms, into *out; 0, or -1. */
int tb_yaml_want_duration(const struct tb_yaml_walk *w, const yaml_node_t *n, const char *what,
                          unsigned min_ms, unsigned max_ms, unsigned *out);

/* ports: one port or range, or a non-empty list of them, into a malloc'd
 * *out (the caller frees it) of *nout; 0, or -1. */
int tb_yaml_want_ports(struct tb_yaml_walk *w, const yaml_node_t *n, struct tb_port_range **out,
                       size_t *nout);

/* Called for each pair of a mapping: key is the index of the pair's key in
 * the keys the walk was given, k and v the key and value nodes. */
typedef int (*tb_yaml_pair_fn)(struct tb_yaml_walk *w, size_t key, const yaml_node_t *k, yaml_node_t *v,
                               void *arg);

/* Walk mapping n (what names it in messages: "rule 3", "the top level"):
 * each key must be one of keys (nkeys <= TB_YAML_KEYS_MAX), given once;
 * one(w, its index, key, value, arg) for each pair, in order.  0, or -1 at
 * the first error. */
int tb_yaml_walk_mapping(struct tb_yaml_walk *w, const yaml_node_t *n, const char *what,
                         const char *const *keys, size_t nkeys, tb_yaml_pair_fn one, void *arg);

#endif
