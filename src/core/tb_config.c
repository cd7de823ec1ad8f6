/*
 * tb_config: rules from plugin.config arguments and rule files, and the
 * matcher.  See tb_config.h.
 *
 * Every regex is compiled with the anchoring in its compile options, not at
 * match time: PCRE2 documents that PCRE2_ANCHORED or PCRE2_ENDANCHORED passed
 * to pcre2_match() turn the JIT off for that call (and pcre2_jit_match()
 * ignores them), while compile-time anchoring holds on both paths.  So
 * ".*[.]service[.]com" matches the whole host or nothing, JIT or not.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "tb_config.h"
#include "tb_config_private.h"
#include "tb_text.h"

#include <errno.h>
#include <stddef.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#define RE_OPTIONS                                                                                           \
  (PCRE2_CASELESS | PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C)
#define QUOTE_MAX 96 /* bytes of configured text shown in a message */

/* ---- the rule index ---------------------------------------------------
 *
 * Most rules in large configurations are an exact name or "any name under
 * this domain".  Those are recognised from the regex text and put in two
 * hash tables keyed by the lower-cased literal; everything else stays a
 * regex, tried in order.  First match wins across all three: a lookup takes
 * the lowest rule number among the exact hit, the suffix hits and the first
 * regex that matches before them.
 *
 * Recognised (anything else is left to PCRE2, which gives the same answers):
 *   exact:  a literal of [A-Za-z0-9_-], "\." or "[.]", "\-"  e.g. db[.]internal
 *   suffix: ".*" followed by such a literal that starts with a dot,
 *           e.g. .*[.]service[.]com, which matches exactly the hosts ending
 *           in ".service.com" (caseless, ASCII: PCRE2's default tables fold
 *           only ASCII letters, as tolower() in the C locale does). */

#define LITERAL_MAX TB_HOST_MAX

struct slot {
  char *key; /* owned, lower case; NULL: empty slot */
  size_t len;
  size_t rule; /* lowest rule number with this key */
  size_t last; /* highest: the end of the chain through index.next */
};

struct table {
  struct slot *slots; /* owned; cap is a power of two */
  size_t cap;
  size_t n;
};

/* Rules with the same key differ only in their ports: each slot heads a
 * chain of them, in rule order, through next[] (SIZE_MAX ends it). */
struct index {
  struct table exact;
  struct table suffix;
  size_t *next; /* owned: one entry per rule */
  size_t next_cap;
  size_t *regex; /* owned: numbers of rules that need PCRE2, ascending */
  size_t nregex;
  size_t regex_cap;
};

static uint64_t hash(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  return h;
}

static char lower(char ch) {
  return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

static struct slot *table_find(const struct table *t, const char *key, size_t len) {
  if (t->cap == 0) {
    return NULL;
  }
  for (size_t i = hash(key, len) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
    struct slot *sl = &t->slots[i];
    if (sl->key == NULL) {
      return NULL;
    }
    if (sl->len == len && memcmp(sl->key, key, len) == 0) {
      return sl;
    }
  }
}

static int table_grow(struct table *t) {
  size_t cap = t->cap == 0 ? 64 : t->cap * 2;
  struct slot *slots = calloc(cap, sizeof *slots);
  if (slots == NULL) {
    return -1;
  }
  for (size_t i = 0; i < t->cap; i++) {
    const struct slot *old = &t->slots[i];
    if (old->key != NULL) {
      size_t j = hash(old->key, old->len) & (cap - 1);
      while (slots[j].key != NULL) {
        j = (j + 1) & (cap - 1);
      }
      slots[j] = *old;
    }
  }
  free(t->slots);
  t->slots = slots;
  t->cap = cap;
  return 0;
}

/* Insert key for rule, or chain rule after the earlier rules with it. */
static int table_add(struct table *t, const char *key, size_t len, size_t rule, size_t *next) {
  struct slot *sl = table_find(t, key, len);
  if (sl != NULL) {
    next[sl->last] = rule;
    sl->last = rule;
    return 0;
  }
  if ((t->n + 1) * 4 > t->cap * 3 && table_grow(t) != 0) { /* load <= 3/4 */
    return -1;
  }
  char *k = malloc(len + 1);
  if (k == NULL) {
    return -1;
  }
  memcpy(k, key, len);
  k[len] = '\0';
  size_t i = hash(key, len) & (t->cap - 1);
  while (t->slots[i].key != NULL) {
    i = (i + 1) & (t->cap - 1);
  }
  t->slots[i].key = k;
  t->slots[i].len = len;
  t->slots[i].rule = rule;
  t->slots[i].last = rule;
  t->n++;
  return 0;
}

static void table_free(struct table *t) {
  for (size_t i = 0; i < t->cap; i++) {
    free(t->slots[i].key);
  }
  free(t->slots);
  memset(t, 0, sizeof *t);
}

static void index_free(struct index *ix) {
  if (ix == NULL) {
    return;
  }
  table_free(&ix->exact);
  table_free(&ix->suffix);
  free(ix->next);
  free(ix->regex);
  free(ix);
}

enum shape { SHAPE_REGEX, SHAPE_EXACT, SHAPE_SUFFIX };

/* Classify pattern; for EXACT and SUFFIX write the lower-cased literal (for
 * SUFFIX with its leading dot) into lit and its length into *litlen. */
static enum shape classify(const char *pattern, char *lit, size_t *litlen) {
  enum shape shape = SHAPE_EXACT;
  const char *p = pattern;
  size_t n = 0;

  if (p[0] == '.' && p[1] == '*') {
    shape = SHAPE_SUFFIX;
    p += 2;
  }
  while (*p != '\0') {
    char ch;
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
        *p == '-') {
      ch = lower(*p);
      p += 1;
    } else if (p[0] == '\\' && (p[1] == '.' || p[1] == '-')) {
      ch = p[1];
      p += 2;
    } else if (p[0] == '[' && p[1] == '.' && p[2] == ']') {
      ch = '.';
      p += 3;
    } else {
      return SHAPE_REGEX;
    }
    if (n == LITERAL_MAX) {
      return SHAPE_REGEX;
    }
    lit[n++] = ch;
  }
  if (n == 0 || (shape == SHAPE_SUFFIX && lit[0] != '.')) {
    return SHAPE_REGEX;
  }
  *litlen = n;
  return shape;
}

/* Enter rule number i of c into the index (creating it on first use). */
static int index_add(struct tb_config *c, size_t i) {
  char lit[LITERAL_MAX];
  size_t len = 0;
  struct index *ix = c->index;

  if (ix == NULL) {
    ix = calloc(1, sizeof *ix);
    if (ix == NULL) {
      return -1;
    }
    c->index = ix;
  }
  if (i >= ix->next_cap) {
    size_t cap = ix->next_cap == 0 ? 16 : ix->next_cap * 2;
    size_t *n = realloc(ix->next, cap * sizeof *n);
    if (n == NULL) {
      return -1;
    }
    ix->next = n;
    ix->next_cap = cap;
  }
  ix->next[i] = SIZE_MAX;
  switch (classify(c->rules[i].pattern, lit, &len)) {
  case SHAPE_EXACT:
    return table_add(&ix->exact, lit, len, i, ix->next);
  case SHAPE_SUFFIX:
    return table_add(&ix->suffix, lit, len, i, ix->next);
  case SHAPE_REGEX:
  default:
    if (ix->nregex == ix->regex_cap) {
      size_t cap = ix->regex_cap == 0 ? 16 : ix->regex_cap * 2;
      size_t *r = realloc(ix->regex, cap * sizeof *r);
      if (r == NULL) {
        return -1;
      }
      ix->regex = r;
      ix->regex_cap = cap;
    }
    ix->regex[ix->nregex++] = i;
    return 0;
  }
}

/* Rebuild the index from the rules (after a failed load was undone). */
static int index_rebuild(struct tb_config *c) {
  index_free(c->index);
  c->index = NULL;
  for (size_t i = 0; i < c->nrules; i++) {
    if (index_add(c, i) != 0) {
      return -1;
    }
  }
  return 0;
}

struct tb_config *tb_config_create(void) {
  struct tb_config *c = calloc(1, sizeof *c);

  if (c == NULL) {
    return NULL;
  }
  c->connect_timeout_ms = TB_DEFAULT_CONNECT_TIMEOUT_MS;
  c->pool_size = TB_DEFAULT_POOL_SIZE;
  c->pool_max_age_ms = TB_DEFAULT_POOL_MAX_AGE_MS;
  c->identity = TB_IDENTITY_KEEP;
  return c;
}

const char *tb_identity_name(enum tb_identity id) {
  switch (id) {
  case TB_IDENTITY_KEEP:
    return "keep";
  case TB_IDENTITY_STRIP:
    return "strip";
  case TB_IDENTITY_FORWARDED:
    return "forwarded";
  case TB_IDENTITY_UNSET:
  default:
    return "default";
  }
}

void tb_config_settings(const struct tb_config *c, const struct tb_rule *r, struct tb_settings *out) {
  out->connect_timeout_ms = r->connect_timeout_ms != TB_UNSET ? r->connect_timeout_ms : c->connect_timeout_ms;
  out->idle_timeout_ms = r->idle_timeout_ms != TB_UNSET ? r->idle_timeout_ms : c->idle_timeout_ms;
  out->max_lifetime_ms = r->max_lifetime_ms != TB_UNSET ? r->max_lifetime_ms : c->max_lifetime_ms;
  out->identity = r->identity != TB_IDENTITY_UNSET ? r->identity : c->identity;
}

int tb_identity_parse(const char *s, enum tb_identity *out) {
  static const enum tb_identity all[] = {TB_IDENTITY_KEEP, TB_IDENTITY_STRIP, TB_IDENTITY_FORWARDED};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    if (strcmp(s, tb_identity_name(all[i])) == 0) {
      *out = all[i];
      return 0;
    }
  }
  return -1;
}

int tb_rule_port_ok(const struct tb_rule *r, unsigned port) {
  if (r->nports == 0) {
    return 1;
  }
  for (size_t i = 0; i < r->nports; i++) {
    if (port >= r->ports[i].lo && port <= r->ports[i].hi) {
      return 1;
    }
  }
  return 0;
}

/* Drop the rules from index n on (undoes a load that failed half-way). */
static void truncate_rules(struct tb_config *c, size_t n) {
  size_t had = c->nrules;
  while (c->nrules > n) {
    struct tb_rule *r = &c->rules[--c->nrules];
    pcre2_code_free(r->re);
    free(r->pattern);
    free(r->ports);
  }
  if (had != n) {
    /* Out of memory here leaves no index: lookups then try every rule as a
     * regex, which gives the same answers. */
    if (n == 0 || index_rebuild(c) != 0) {
      index_free(c->index);
      c->index = NULL;
    }
  }
}

void tb_config_destroy(struct tb_config *c) {
  if (c == NULL) {
    return;
  }
  truncate_rules(c, 0);
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

int tb_config_add_rule(struct tb_config *c, const char *pattern, const char *peer, const char *origin,
                       char *err, size_t errlen) {
  char perr[512];
  char q[TB_QUOTE_SIZE(QUOTE_MAX)];
  struct tb_peer p;
  pcre2_code *re = NULL;
  char *pat = NULL;
  struct tb_rule *r;
  size_t patlen;
  int code;
  PCRE2_SIZE offset;

  if (tb_peer_parse(peer, strlen(peer), &p, perr, sizeof perr) != 0) {
    snprintf(err, errlen, "%s: %s", origin, perr);
    goto fail;
  }
  patlen = strlen(pattern);
  if (patlen == 0) {
    snprintf(err, errlen, "%s: empty regex", origin);
    goto fail;
  }
  re = pcre2_compile((PCRE2_SPTR)pattern, patlen, RE_OPTIONS, &code, &offset, NULL);
  if (re == NULL) {
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(code, msg, sizeof msg) < 0) {
      snprintf((char *)msg, sizeof msg, "error %d", code);
    }
    tb_text_quote(q, sizeof q, pattern, strlen(pattern), QUOTE_MAX);
    snprintf(err, errlen, "%s: bad regex '%s' at offset %lu: %s", origin, q, (unsigned long)offset,
             (const char *)msg);
    goto fail;
  }
  /* Rules the index answers run as regexes only if the index is lost, so
   * they skip the JIT (it is most of the load time and memory of a large
   * rule file).  Without JIT (no support for this CPU, no executable memory)
   * the interpreter gives the same answers, only slower: not worth failing. */
  {
    char lit[LITERAL_MAX];
    size_t litlen = 0;
    if (classify(pattern, lit, &litlen) == SHAPE_REGEX) {
      (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    }
  }

  pat = malloc(patlen + 1);
  if (pat == NULL || reserve(c) != 0) {
    snprintf(err, errlen, "%s: out of memory", origin);
    goto fail;
  }
  memcpy(pat, pattern, patlen + 1);

  r = &c->rules[c->nrules++];
  memset(r, 0, sizeof *r);
  r->pattern = pat;
  r->re = re;
  r->peer = p;
  r->connect_timeout_ms = TB_UNSET;
  r->idle_timeout_ms = TB_UNSET;
  r->max_lifetime_ms = TB_UNSET;
  snprintf(r->origin, sizeof r->origin, "%s", origin); /* cut if long: only for messages */
  if (index_add(c, c->nrules - 1) != 0) {
    snprintf(err, errlen, "%s: out of memory", origin);
    truncate_rules(c, c->nrules - 1);
    return -1;
  }
  return 0;

fail:
  pcre2_code_free(re);
  free(pat);
  return -1;
}

char *tb_read_file(const char *path, size_t *lenp, char *err, size_t errlen) {
  FILE *f;
  char *buf = NULL;
  size_t len = 0;
  size_t cap = 0;

  f = fopen(path, "rb");
  if (f == NULL) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  for (;;) {
    size_t n;
    if (len == cap) {
      size_t ncap = cap == 0 ? 4096 : cap * 2;
      char *nbuf;
      if (ncap > TB_FILE_MAX + 1) {
        ncap = TB_FILE_MAX + 1; /* one byte over the limit is enough to tell */
      }
      nbuf = realloc(buf, ncap + 1);
      if (nbuf == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
      }
      buf = nbuf;
      cap = ncap;
    }
    n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (len > TB_FILE_MAX) {
      snprintf(err, errlen, "%s: larger than 16 MiB", path);
      goto fail;
    }
    if (n == 0) {
      if (ferror(f)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        goto fail;
      }
      break;
    }
  }
  (void)fclose(f); /* read-only: nothing can be lost on close */
  buf[len] = '\0';
  *lenp = len;
  return buf;

fail:
  (void)fclose(f);
  free(buf);
  return NULL;
}

static int is_blank(char ch) {
  return ch == ' ' || ch == '\t';
}

int tb_config_load_file(struct tb_config *c, const char *path, char *err, size_t errlen) {
  size_t n0 = c->nrules;
  char *origin = NULL;
  char *buf;
  char *p;
  char *end;
  size_t len;
  size_t lineno;
  size_t originlen = strlen(path) + 32; /* "<path>:<line>" */

  buf = tb_read_file(path, &len, err, errlen);
  if (buf == NULL) {
    return -1;
  }
  origin = malloc(originlen);
  if (origin == NULL) {
    snprintf(err, errlen, "%s: out of memory", path);
    goto fail;
  }

  end = buf + len;
  for (p = buf, lineno = 1; p < end; lineno++) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *line = p;
    char *field[2] = {NULL, NULL};
    size_t n;
    size_t nfields = 0;
    size_t i;

    n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
    p = nl != NULL ? nl + 1 : end;
    if (memchr(line, '\0', n) != NULL) {
      snprintf(err, errlen, "%s:%zu: NUL byte in line", path, lineno);
      goto fail;
    }
    if (n > 0 && line[n - 1] == '\r') {
      n--; /* CRLF line end */
    }
    while (n > 0 && is_blank(line[n - 1])) {
      n--;
    }
    while (n > 0 && is_blank(line[0])) {
      line++;
      n--;
    }
    if (n == 0 || line[0] == '#') {
      continue;
    }

    /* Fields are cut in place: the byte after each one is a blank, the line
     * end, or the spare byte after the buffer, so it may become a NUL. */
    for (i = 0; i < n;) {
      size_t start;
      while (i < n && is_blank(line[i])) {
        i++;
      }
      start = i;
      while (i < n && !is_blank(line[i])) {
        i++;
      }
      if (nfields < 2) {
        field[nfields] = line + start;
      }
      nfields++;
      if (nfields <= 2) {
        line[i] = '\0';
        i += i < n;
      }
    }
    if (nfields != 2) {
      snprintf(err, errlen, "%s:%zu: expected '<regex> <peer>', found %zu field%s", path, lineno, nfields,
               nfields == 1 ? "" : "s");
      goto fail;
    }
    snprintf(origin, originlen, "%s:%zu", path, lineno);
    if (tb_config_add_rule(c, field[0], field[1], origin, err, errlen) != 0) {
      goto fail;
    }
  }
  free(origin);
  free(buf);
  return 0;

fail:
  truncate_rules(c, n0);
  free(origin);
  free(buf);
  return -1;
}

/* Numeric options: name, where the value goes, its range, and the factor
 * from what the operator writes to what is stored (seconds -> ms). */
struct num_option {
  const char *name;
  size_t offset; /* of the unsigned field in struct tb_config */
  unsigned min, max, scale;
  const char *metavar; /* how the usage names the value */
  const char *unit;
};

static const struct num_option num_options[] = {
    {"--connect-timeout", offsetof(struct tb_config, connect_timeout_ms), 1, TB_TIMEOUT_MAX_S, 1000,
     "SECONDS", "seconds"},
    {"--pool", offsetof(struct tb_config, pool_size), 0, TB_POOL_SIZE_MAX, 1, "N", "connections"},
    {"--pool-max-age", offsetof(struct tb_config, pool_max_age_ms), 1, TB_TIMEOUT_MAX_S, 1000, "SECONDS",
     "seconds"},
    {"--idle-timeout", offsetof(struct tb_config, idle_timeout_ms), 0, TB_LIFETIME_MAX_S, 1000, "SECONDS",
     "seconds"},
    {"--max-lifetime", offsetof(struct tb_config, max_lifetime_ms), 0, TB_LIFETIME_MAX_S, 1000, "SECONDS",
     "seconds"},
};

/* Decimal digits only, min..max. */
static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out) {
  unsigned long v = 0;
  size_t i;

  for (i = 0; s[i] != '\0'; i++) {
    if (s[i] < '0' || s[i] > '9' || i >= 8) {
      return -1;
    }
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (i == 0 || v < min || v > max) {
    return -1;
  }
  *out = (unsigned)v;
  return 0;
}

/* PATH as is when absolute or when there is no confdir, else confdir/PATH. */
static char *resolve(const char *confdir, const char *path) {
  size_t dl;
  size_t pl = strlen(path);
  char *full;

  if (path[0] == '/' || confdir == NULL || confdir[0] == '\0') {
    dl = 0;
  } else {
    dl = strlen(confdir);
  }
  full = malloc(dl + 1 + pl + 1);
  if (full == NULL) {
    return NULL;
  }
  if (dl == 0) {
    memcpy(full, path, pl + 1);
    return full;
  }
  memcpy(full, confdir, dl);
  if (confdir[dl - 1] != '/') {
    full[dl++] = '/';
  }
  memcpy(full + dl, path, pl + 1);
  return full;
}

static const struct num_option *find_option(const char *a) {
  for (size_t k = 0; k < sizeof num_options / sizeof num_options[0]; k++) {
    if (strcmp(a, num_options[k].name) == 0) {
      return &num_options[k];
    }
  }
  return NULL;
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

int tb_config_load_args(struct tb_config *c, int argc, const char *const *argv, const char *confdir,
                        char *err, size_t errlen) {
  struct tb_config saved = *c; /* the options, to restore on failure */
  const struct num_option *opt;
  char q[TB_QUOTE_SIZE(QUOTE_MAX)];
  char origin[48];
  char *path = NULL;
  int i;

  for (i = 0; i < argc; i++) {
    const char *a = argv[i];

    if (a == NULL) {
      snprintf(err, errlen, "plugin.config argument %d: missing", i + 1);
      goto fail;
    }
    tb_text_quote(q, sizeof q, a, strlen(a), QUOTE_MAX);
    if (strcmp(a, "--config") == 0) {
      if (argc != 2 || i != 0 || c->nrules != 0 || argv[1] == NULL || argv[1][0] == '\0') {
        snprintf(err, errlen,
                 "plugin.config argument %d ('%s'): --config PATH must be the only argument (the YAML file "
                 "holds the whole configuration)",
                 i + 1, q);
        goto fail;
      }
      path = resolve(confdir, argv[++i]);
      if (path == NULL) {
        snprintf(err, errlen, "plugin.config argument %d: out of memory", i + 1);
        goto fail;
      }
      if (tb_config_load_yaml(c, path, err, errlen) != 0) {
        goto fail;
      }
      free(path);
      path = NULL;
    } else if (strcmp(a, "--client-identity") == 0) {
      const char *v = i + 1 < argc ? argv[i + 1] : NULL;
      if (v == NULL || tb_identity_parse(v, &c->identity) != 0) {
        if (v != NULL) {
          tb_text_quote(q, sizeof q, v, strlen(v), QUOTE_MAX);
        }
        snprintf(err, errlen,
                 "plugin.config argument %d ('%s'): --client-identity takes 'keep', 'strip' or 'forwarded'",
                 v != NULL ? i + 2 : i + 1, q);
        goto fail;
      }
      i++;
    } else if (strcmp(a, "--file") == 0) {
      if (i + 1 >= argc || argv[i + 1] == NULL || argv[i + 1][0] == '\0') {
        snprintf(err, errlen, "plugin.config argument %d ('%s'): needs a PATH", i + 1, q);
        goto fail;
      }
      path = resolve(confdir, argv[++i]);
      if (path == NULL) {
        snprintf(err, errlen, "plugin.config argument %d: out of memory", i + 1);
        goto fail;
      }
      if (tb_config_load_file(c, path, err, errlen) != 0) {
        goto fail;
      }
      free(path);
      path = NULL;
    } else if (strcmp(a, "--unmatched") == 0) {
      const char *v = i + 1 < argc ? argv[i + 1] : NULL;
      if (v == NULL || (strcmp(v, "passthrough") != 0 && strcmp(v, "deny") != 0)) {
        if (v != NULL) {
          tb_text_quote(q, sizeof q, v, strlen(v), QUOTE_MAX);
        }
        snprintf(err, errlen, "plugin.config argument %d ('%s'): --unmatched takes 'passthrough' or 'deny'",
                 v != NULL ? i + 2 : i + 1, q);
        goto fail;
      }
      c->deny_unmatched = strcmp(argv[++i], "deny") == 0;
    } else if ((opt = find_option(a)) != NULL) {
      unsigned v = 0;
      if (i + 1 >= argc || argv[i + 1] == NULL) {
        snprintf(err, errlen, "plugin.config argument %d ('%s'): needs %s", i + 1, q, opt->metavar);
        goto fail;
      }
      i++;
      if (parse_uint(argv[i], opt->min, opt->max, &v) != 0) {
        tb_text_quote(q, sizeof q, argv[i], strlen(argv[i]), QUOTE_MAX);
        snprintf(err, errlen, "plugin.config argument %d ('%s'): %s must be whole %s, %u-%u", i + 1, q,
                 opt->name, opt->unit, opt->min, opt->max);
        goto fail;
      }
      *(unsigned *)((char *)c + opt->offset) = v * opt->scale;
    } else if (a[0] == '-' && a[1] == '-') {
      snprintf(err, errlen, "plugin.config argument %d ('%s'): unknown option", i + 1, q);
      goto fail;
    } else {
      if (i + 1 >= argc || argv[i + 1] == NULL) {
        snprintf(err, errlen, "plugin.config argument %d: regex '%s' has no peer (arguments come in pairs)",
                 i + 1, q);
        goto fail;
      }
      snprintf(origin, sizeof origin, "plugin.config argument %d", i + 1);
      if (tb_config_add_rule(c, a, argv[i + 1], origin, err, errlen) != 0) {
        goto fail;
      }
      i++;
    }
  }
  return 0;

fail:
  free(path);
  tb_config_undo(c, &saved);
  return -1;
}

/*
 * pcre2_match() needs a match-data block to write into.  Making one per call
 * costs a malloc and a free per CONNECT; sharing one would be a data race
 * between ATS's threads.  So each thread keeps its own in a _Thread_local
 * pointer, made on first use.  It is made with pcre2_match_data_create(1,
 * NULL), not from a pattern, so it serves every rule of every configuration
 * (old and new ones during a reload): a yes/no anchored match needs only the
 * one pair.  ATS's threads last as long as the process, but a thread that
 * does exit (a test, an embedding program) frees its block through a C11 tss
 * destructor; the main thread's block stays reachable until exit.
 */
static _Thread_local pcre2_match_data *match_data;
static once_flag match_key_once = ONCE_FLAG_INIT;
static tss_t match_key;
static int match_key_ok;

static void match_data_free(void *md) {
  pcre2_match_data_free(md);
  match_data = NULL; /* runs in the exiting thread: its own slot */
}

static void match_key_init(void) {
  match_key_ok = tss_create(&match_key, match_data_free) == thrd_success;
}

static pcre2_match_data *thread_match_data(void) {
  if (match_data != NULL) {
    return match_data;
  }
  match_data = pcre2_match_data_create(1, NULL);
  if (match_data == NULL) {
    return NULL;
  }
  call_once(&match_key_once, match_key_init);
  if (match_key_ok) {
    (void)tss_set(match_key, match_data); /* on failure: leaked at thread exit only */
  }
  return match_data;
}

/* Does rule i take host[0..len) and port?  1 yes, 0 no, -1 matching failed. */
static int regex_match(const struct tb_config *c, size_t i, const char *host, size_t len, unsigned port,
                       pcre2_match_data *md) {
  if (!tb_rule_port_ok(&c->rules[i], port)) {
    return 0;
  }
  int rc = pcre2_match(c->rules[i].re, (PCRE2_SPTR)host, len, 0, 0, md, NULL);
  if (rc >= 0) {
    return 1;
  }
  /* A match or depth limit hit by a pathological pattern is a failure, not
   * "no match": the host might have been this rule's. */
  return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

/* The first rule at or after r in its key chain that takes port and comes
 * before best; SIZE_MAX when none. */
static size_t chain_first(const struct tb_config *c, const struct index *ix, size_t r, unsigned port,
                          size_t best) {
  for (; r != SIZE_MAX && r < best; r = ix->next[r]) {
    if (tb_rule_port_ok(&c->rules[r], port)) {
      return r;
    }
  }
  return SIZE_MAX;
}

int tb_config_lookup(const struct tb_config *c, const char *host, size_t len, const struct tb_rule **rule) {
  return tb_config_lookup_port(c, host, len, 0, rule);
}

int tb_config_lookup_port(const struct tb_config *c, const char *host, size_t len, unsigned port,
                          const struct tb_rule **rule) {
  char low[LITERAL_MAX];
  const struct index *ix;
  pcre2_match_data *md;
  size_t best = SIZE_MAX;

  *rule = NULL;
  if (c == NULL || host == NULL || len == 0) {
    return 0;
  }
  if (host[len - 1] == '.') {
    len--; /* "example.com." is the same name as "example.com" */
  }
  if (len == 0) {
    return 0;
  }
  md = thread_match_data();
  if (md == NULL) {
    return -1;
  }
  ix = c->index;
  if (ix == NULL || len > sizeof low) {
    /* No index (never built, or lost to out of memory), or a host longer
     * than any indexed literal: every rule as a regex, in order. */
    for (size_t i = 0; i < c->nrules; i++) {
      int m = regex_match(c, i, host, len, port, md);
      if (m != 0) {
        *rule = m > 0 ? &c->rules[i] : NULL;
        return m > 0 ? 0 : -1;
      }
    }
    return 0;
  }
  for (size_t i = 0; i < len; i++) {
    low[i] = lower(host[i]);
  }
  const struct slot *hit = table_find(&ix->exact, low, len);
  if (hit != NULL) {
    best = chain_first(c, ix, hit->rule, port, best);
  }
  if (ix->suffix.n > 0) {
    for (size_t i = 0; i < len; i++) {
      if (low[i] == '.' && (hit = table_find(&ix->suffix, low + i, len - i)) != NULL && hit->rule < best) {
        size_t r = chain_first(c, ix, hit->rule, port, best);
        best = r < best ? r : best;
      }
    }
  }
  for (size_t k = 0; k < ix->nregex && ix->regex[k] < best; k++) {
    int m = regex_match(c, ix->regex[k], host, len, port, md);
    if (m < 0) {
      return -1;
    }
    if (m > 0) {
      best = ix->regex[k];
      break;
    }
  }
  *rule = best == SIZE_MAX ? NULL : &c->rules[best];
  return 0;
}

const struct tb_rule *tb_config_match(const struct tb_config *c, const char *host, size_t len) {
  const struct tb_rule *rule = NULL;
  return tb_config_lookup(c, host, len, &rule) == 0 ? rule : NULL;
}
