/*
 * tb_yaml_walk: see tb_yaml_walk.h.  Every message names the file, the line
 * and the column of the node at fault (libyaml counts both from 0; messages
 * count from 1) and what was expected there.
 */
#include "tb_yaml_walk.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 64 /* bytes of a key shown in a message */

int tb_yaml_fail_at(const struct tb_yaml_walk *w, const yaml_mark_t *m, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  (void)vsnprintf(msg, sizeof msg, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): started above */
  va_end(ap);
  snprintf(w->err, w->errlen, "%s:%zu:%zu: %s", w->name, m->line + 1, m->column + 1, msg);
  return -1;
}

/* "key:" with no value, "~" or "null" (plain): YAML's null. */
int tb_yaml_is_null(const yaml_node_t *n) {
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
    return 0;
  }
  const char *s = (const char *)n->data.scalar.value;
  return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
         strcmp(s, "NULL") == 0;
}

const char *tb_yaml_kind(const yaml_node_t *n) {
  switch (n->type) {
  case YAML_SCALAR_NODE:
    return tb_yaml_is_null(n) ? "nothing" : "a single value";
  case YAML_SEQUENCE_NODE:
    return "a list";
  case YAML_MAPPING_NODE:
    return "a mapping";
  case YAML_NO_NODE:
  default:
    return "nothing";
  }
}

const char *tb_yaml_scalar(const yaml_node_t *n) {
  return (const char *)n->data.scalar.value;
}

/* What a message says was found instead: a scalar quoted ("'5x'", into buf
 * of TB_YAML_FOUND_SIZE bytes), else the kind of node ("a list"). */
const char *tb_yaml_found(const yaml_node_t *n, char *buf) {
  char q[TB_QUOTE_SIZE(TB_YAML_QUOTE_MAX)];
  if (n->type != YAML_SCALAR_NODE) {
    return tb_yaml_kind(n);
  }
  tb_text_quote(q, sizeof q, tb_yaml_scalar(n), n->data.scalar.length, TB_YAML_QUOTE_MAX);
  snprintf(buf, TB_YAML_FOUND_SIZE, "'%s'", q);
  return buf;
}

/* Node id of the document, marked as visited; NULL (with err set) when it
 * was visited before, i.e. reached again through an alias. */
yaml_node_t *tb_yaml_take(struct tb_yaml_walk *w, int id) {
  yaml_node_t *n = yaml_document_get_node(w->doc, id);
  if (n == NULL) {
    snprintf(w->err, w->errlen, "%s: malformed document (node %d missing)", w->name, id);
    return NULL;
  }
  size_t i = (size_t)(id - 1);
  if (i < w->nnodes && w->seen[i]) {
    tb_yaml_fail_at(w, &n->start_mark,
                    "this value is used again through an alias; anchors and aliases are not supported");
    return NULL;
  }
  if (i < w->nnodes) {
    w->seen[i] = 1;
  }
  return n;
}

/* A scalar that holds a real string: not empty, no NUL inside. */
int tb_yaml_want_string(const struct tb_yaml_walk *w, const yaml_node_t *n, const char *what) {
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.length == 0 || tb_yaml_is_null(n)) {
    return tb_yaml_fail_at(w, &n->start_mark, "%s must be a non-empty string, found %s", what,
                           tb_yaml_kind(n));
  }
  if (strlen(tb_yaml_scalar(n)) != n->data.scalar.length) {
    return tb_yaml_fail_at(w, &n->start_mark, "%s contains a NUL character", what);
  }
  return 0;
}

int tb_yaml_want_name(const struct tb_yaml_walk *w, const yaml_node_t *n) {
  if (tb_yaml_want_string(w, n, "name") != 0) {
    return -1;
  }
  for (const char *s = tb_yaml_scalar(n); *s != '\0'; s++) {
    if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e || *s == '"') {
      return tb_yaml_fail_at(w, &n->start_mark,
                             "name may hold only printable ASCII without spaces or quotes");
    }
  }
  if (n->data.scalar.length > TB_YAML_NAME_MAX) {
    return tb_yaml_fail_at(w, &n->start_mark, "name is longer than %d characters", TB_YAML_NAME_MAX);
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

int tb_yaml_want_uint(const struct tb_yaml_walk *w, const yaml_node_t *n, const char *what, unsigned min,
                      unsigned max, unsigned *out) {
  uint64_t v = 0;
  if (n->type != YAML_SCALAR_NODE || digits_value(tb_yaml_scalar(n), n->data.scalar.length, max, &v) != 0 ||
      v < min) {
    char buf[TB_YAML_FOUND_SIZE];
    return tb_yaml_fail_at(w, &n->start_mark, "%s must be a whole number from %u to %u, found %s", what, min,
                           max, tb_yaml_found(n, buf));
  }
  *out = (unsigned)v;
  return 0;
}

/* A duration in milliseconds: plain digits (seconds) or "<digits>ms|s|m|h",
 * between min_ms and max_ms. */
int tb_yaml_want_duration(const struct tb_yaml_walk *w, const yaml_node_t *n, const char *what,
                          unsigned min_ms, unsigned max_ms, unsigned *out) {
  static const struct {
    const char *suffix;
    uint64_t ms;
  } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
  uint64_t v = 0;
  int ok = 0;

  if (n->type == YAML_SCALAR_NODE) {
    const char *s = tb_yaml_scalar(n);
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
    char buf[TB_YAML_FOUND_SIZE];
    char min[24];
    /* "1ms", "0ms"; a minimum of whole seconds as seconds: "1s" */
    snprintf(min, sizeof min, min_ms > 0 && min_ms % 1000 == 0 ? "%us" : "%ums",
             min_ms > 0 && min_ms % 1000 == 0 ? min_ms / 1000 : min_ms);
    return tb_yaml_fail_at(
        w, &n->start_mark,
        "%s must be a duration from %s to %us (seconds, or a number with ms, s, m or h), found %s", what, min,
        max_ms / 1000, tb_yaml_found(n, buf));
  }
  *out = (unsigned)v;
  return 0;
}

static int port_item(const struct tb_yaml_walk *w, const yaml_node_t *n, struct tb_port_range *out) {
  uint64_t lo = 0;
  uint64_t hi = 0;
  int ok = 0;
  if (n->type == YAML_SCALAR_NODE) {
    const char *s = tb_yaml_scalar(n);
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
    char buf[TB_YAML_FOUND_SIZE];
    return tb_yaml_fail_at(w, &n->start_mark,
                           "a port must be a number 1-65535 or a range like 8000-8999, found %s",
                           tb_yaml_found(n, buf));
  }
  if (lo > hi) {
    return tb_yaml_fail_at(w, &n->start_mark, "port range %s runs backwards", tb_yaml_scalar(n));
  }
  out->lo = (unsigned short)lo;
  out->hi = (unsigned short)hi;
  return 0;
}

/* ports: one item or a non-empty list of them.  *out is malloc'd. */
int tb_yaml_want_ports(struct tb_yaml_walk *w, const yaml_node_t *n, struct tb_port_range **out,
                       size_t *nout) {
  size_t count = 1;
  if (n->type == YAML_SEQUENCE_NODE) {
    count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count == 0) {
      return tb_yaml_fail_at(w, &n->start_mark,
                             "ports is an empty list (leave ports out to allow every port)");
    }
  } else if (n->type != YAML_SCALAR_NODE) {
    return tb_yaml_fail_at(w, &n->start_mark, "ports must be a port, a range or a list of them, found %s",
                           tb_yaml_kind(n));
  }
  struct tb_port_range *r = calloc(count, sizeof *r);
  if (r == NULL) {
    return tb_yaml_fail_at(w, &n->start_mark, "out of memory");
  }
  for (size_t i = 0; i < count; i++) {
    const yaml_node_t *item = n;
    if (n->type == YAML_SEQUENCE_NODE && (item = tb_yaml_take(w, n->data.sequence.items.start[i])) == NULL) {
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

static int unknown_key(const struct tb_yaml_walk *w, const yaml_node_t *k, const char *what,
                       const char *const *keys, size_t nkeys) {
  char q[TB_QUOTE_SIZE(KEY_MAX)];
  char expected[512] = ""; /* the keys, ", " between them */
  for (size_t i = 0; i < nkeys; i++) {
    size_t used = strlen(expected);
    snprintf(expected + used, sizeof expected - used, "%s%s", i == 0 ? "" : ", ", keys[i]);
  }
  tb_text_quote(q, sizeof q, tb_yaml_scalar(k), k->data.scalar.length, KEY_MAX);
  return tb_yaml_fail_at(w, &k->start_mark, "unknown key '%s' in %s (expected %s)", q, what, expected);
}

int tb_yaml_walk_mapping(struct tb_yaml_walk *w, const yaml_node_t *n, const char *what,
                         const char *const *keys, size_t nkeys, tb_yaml_pair_fn one, void *arg) {
  const yaml_node_t *first[TB_YAML_KEYS_MAX] = {NULL};
  if (nkeys > TB_YAML_KEYS_MAX) {
    return tb_yaml_fail_at(w, &n->start_mark, "internal error: %s has more than %d keys", what,
                           TB_YAML_KEYS_MAX);
  }
  if (n->type != YAML_MAPPING_NODE) {
    return tb_yaml_fail_at(w, &n->start_mark, "%s must be a mapping (key: value lines), found %s", what,
                           tb_yaml_kind(n));
  }
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
    yaml_node_t *k = tb_yaml_take(w, p->key);
    yaml_node_t *v = k != NULL ? tb_yaml_take(w, p->value) : NULL;
    size_t i;
    if (v == NULL) {
      return -1;
    }
    if (k->type != YAML_SCALAR_NODE) {
      return tb_yaml_fail_at(w, &k->start_mark, "a key in %s must be a plain name, found %s", what,
                             tb_yaml_kind(k));
    }
    for (i = 0; i < nkeys && strcmp(tb_yaml_scalar(k), keys[i]) != 0; i++) {
    }
    if (i == nkeys || strlen(tb_yaml_scalar(k)) != k->data.scalar.length) {
      return unknown_key(w, k, what, keys, nkeys);
    }
    if (first[i] != NULL) {
      return tb_yaml_fail_at(w, &k->start_mark, "key '%s' appears twice in %s (first at line %zu)", keys[i],
                             what, first[i]->start_mark.line + 1);
    }
    first[i] = k;
    if (one(w, i, k, v, arg) != 0) {
      return -1;
    }
  }
  return 0;
}
