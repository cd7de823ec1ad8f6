/*
 * tb_index: rule regexes and the index over them.  See tb_index.h.
 *
 * Every regex is compiled with the anchoring in its compile options, not at
 * match time: PCRE2 documents that PCRE2_ANCHORED or PCRE2_ENDANCHORED passed
 * to pcre2_match() turn the JIT off for that call (and pcre2_jit_match()
 * ignores them), while compile-time anchoring holds on both paths.  So
 * ".*[.]service[.]com" matches the whole host or nothing, JIT or not.
 *
 * Most rules in large configurations are an exact name or "any name under
 * this domain".  Those are recognised from the regex text and put in two
 * hash tables keyed by the lower-cased literal; everything else stays a
 * regex, tried in order.  First match wins across all three: a lookup takes
 * the lowest rule number among the exact hit, the suffix hits and the first
 * regex that matches before them.
 *
 * Recognised (anything else is left to PCRE2, which gives the same answers):
 *   exact:  a literal of [A-Za-z0-9_:/-], "\." or "[.]", "\-"  e.g. db[.]internal,
 *           or spiffe://corp[.]example/ingress/a (':' and '/' are literal
 *           characters wherever a pattern of this shape can hold them)
 *   suffix: ".*" followed by such a literal that starts with a dot,
 *           e.g. .*[.]service[.]com, which matches exactly the hosts ending
 *           in ".service.com" (caseless, ASCII: PCRE2's default tables fold
 *           only ASCII letters, as tolower() in the C locale does).
 * Neither shape can hold a '(', so neither has capture groups: a rule with
 * groups, and so every rule with a peer template (tb_capture.h), is always
 * matched by PCRE2, which leaves its captures in the match data.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "tb_index.h"
#include "tb_text.h"

#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#define RE_OPTIONS                                                                                           \
  (PCRE2_CASELESS | PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C)
#define QUOTE_MAX 96 /* bytes of configured text shown in a message */
#define LITERAL_MAX TB_HOST_MAX

/* ---- hash tables ------------------------------------------------------- */

struct slot {
  char *key; /* owned, lower case; NULL: empty slot */
  size_t len;
  size_t rule; /* lowest rule number with this key */
  size_t last; /* highest: the end of the chain through tb_index.next */
};

struct table {
  struct slot *slots; /* owned; cap is a power of two */
  size_t cap;
  size_t n;
};

/* Rules with the same key differ only in their ports: each slot heads a
 * chain of them, in rule order, through next[] (SIZE_MAX ends it). */
struct tb_index {
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
        *p == '-' || *p == ':' || *p == '/') {
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

/* ---- compiling ---------------------------------------------------------- */

void *tb_index_compile(const char *pattern, char *err, size_t errlen) {
  char q[TB_QUOTE_SIZE(QUOTE_MAX)];
  char lit[LITERAL_MAX];
  size_t litlen = 0;
  size_t patlen = strlen(pattern);
  pcre2_code *re;
  int code;
  PCRE2_SIZE offset;

  if (patlen == 0) {
    snprintf(err, errlen, "empty regex");
    return NULL;
  }
  re = pcre2_compile((PCRE2_SPTR)pattern, patlen, RE_OPTIONS, &code, &offset, NULL);
  if (re == NULL) {
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(code, msg, sizeof msg) < 0) {
      snprintf((char *)msg, sizeof msg, "error %d", code);
    }
    tb_text_quote(q, sizeof q, pattern, patlen, QUOTE_MAX);
    snprintf(err, errlen, "bad regex '%s' at offset %lu: %s", q, (unsigned long)offset, (const char *)msg);
    return NULL;
  }
  /* Rules the index answers run as regexes only if the index is lost, so
   * they skip the JIT (it is most of the load time and memory of a large
   * rule file).  Without JIT (no support for this CPU, no executable memory)
   * the interpreter gives the same answers, only slower: not worth failing. */
  if (classify(pattern, lit, &litlen) == SHAPE_REGEX) {
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
  }
  return re;
}

unsigned tb_index_groups(const void *re) {
  uint32_t n = 0;
  if (re == NULL || pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &n) != 0) {
    return 0;
  }
  return (unsigned)n;
}

void tb_index_free_regex(void *re) {
  pcre2_code_free(re);
}

/* ---- building ----------------------------------------------------------- */

struct tb_index *tb_index_create(void) {
  return calloc(1, sizeof(struct tb_index));
}

void tb_index_destroy(struct tb_index *ix) {
  if (ix == NULL) {
    return;
  }
  table_free(&ix->exact);
  table_free(&ix->suffix);
  free(ix->next);
  free(ix->regex);
  free(ix);
}

/* Room for n entries in the array *a of *cap; doubling keeps 100,000 rules
 * at O(n) copying. */
static int grow(size_t **a, size_t *cap, size_t n) {
  size_t ncap = *cap == 0 ? 16 : *cap;
  size_t *na;

  if (n <= *cap) {
    return 0;
  }
  while (ncap < n) {
    if (ncap > SIZE_MAX / 2 / sizeof *na) {
      return -1;
    }
    ncap *= 2;
  }
  na = realloc(*a, ncap * sizeof *na);
  if (na == NULL) {
    return -1;
  }
  *a = na;
  *cap = ncap;
  return 0;
}

int tb_index_add(struct tb_index *ix, const char *pattern, size_t i) {
  char lit[LITERAL_MAX];
  size_t len = 0;

  if (grow(&ix->next, &ix->next_cap, i + 1) != 0) {
    return -1;
  }
  ix->next[i] = SIZE_MAX;
  switch (classify(pattern, lit, &len)) {
  case SHAPE_EXACT:
    return table_add(&ix->exact, lit, len, i, ix->next);
  case SHAPE_SUFFIX:
    return table_add(&ix->suffix, lit, len, i, ix->next);
  case SHAPE_REGEX:
  default:
    if (grow(&ix->regex, &ix->regex_cap, ix->nregex + 1) != 0) {
      return -1;
    }
    ix->regex[ix->nregex++] = i;
    return 0;
  }
}

/* ---- looking up --------------------------------------------------------- */

/*
 * pcre2_match() needs a match-data block to write into.  Making one per call
 * costs a malloc and a free per CONNECT; sharing one would be a data race
 * between ATS's threads.  So each thread keeps its own in a _Thread_local
 * pointer, made on first use.  It is made with
 * pcre2_match_data_create(TB_CAPTURE_MAX + 1, NULL), not from a pattern, so
 * it serves every rule of every configuration (old and new ones during a
 * reload): a yes/no match needs only the first pair, peer templates need
 * the groups they can name ($1..$9).  A regex with more groups still
 * matches: PCRE2 fills the pairs there is room for and returns 0.  ATS's threads last as long as the process,
 * but a thread that does exit (a test, an embedding program) frees its block through a C11 tss destructor;
 * the main thread's block stays reachable until exit.
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
  match_data = pcre2_match_data_create(TB_CAPTURE_MAX + 1, NULL);
  if (match_data == NULL) {
    return NULL;
  }
  call_once(&match_key_once, match_key_init);
  if (match_key_ok) {
    (void)tss_set(match_key, match_data); /* on failure: leaked at thread exit only */
  }
  return match_data;
}

/* What a lookup runs over: a configuration's rules (each with its regex and
 * its ports), or bare regexes (tb_index_lookup_texts: no ports, every entry
 * takes any port). */
struct set {
  const struct tb_rule *rules; /* NULL for bare regexes */
  void *const *res;            /* the bare regexes when rules is NULL */
  size_t n;
};

static const pcre2_code *set_re(const struct set *s, size_t i) {
  return s->rules != NULL ? s->rules[i].re : s->res[i];
}

static int set_port_ok(const struct set *s, size_t i, unsigned port) {
  return s->rules == NULL || tb_rule_port_ok(&s->rules[i], port);
}

/* Run re over text[0..len): 1 it matches (the whole text: the anchoring is
 * compiled in), 0 it does not, -1 matching failed. */
static int run(const pcre2_code *re, const char *text, size_t len, pcre2_match_data *md) {
  int rc = pcre2_match(re, (PCRE2_SPTR)text, len, 0, 0, md, NULL);
  if (rc >= 0) {
    return 1;
  }
  /* A match or depth limit hit by a pathological pattern is a failure, not
   * "no match": the text might have been this entry's. */
  return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

/* Does entry i of s take text[0..len) and port?  1 yes, 0 no, -1 matching failed. */
static int regex_match(const struct set *s, size_t i, const char *text, size_t len, unsigned port,
                       pcre2_match_data *md) {
  if (!set_port_ok(s, i, port)) {
    return 0;
  }
  return run(set_re(s, i), text, len, md);
}

/* The first entry at or after r in its key chain that takes port and comes
 * before best; SIZE_MAX when none. */
static size_t chain_first(const struct tb_index *ix, const struct set *s, size_t r, unsigned port,
                          size_t best) {
  for (; r != SIZE_MAX && r < best; r = ix->next[r]) {
    if (set_port_ok(s, r, port)) {
      return r;
    }
  }
  return SIZE_MAX;
}

/* The groups of rules[i]'s match, left in md, into caps (pairs beyond the
 * regex's groups hold stale offsets: PCRE2 never writes them). */
static void copy_captures(const struct tb_rule *r, pcre2_match_data *md, struct tb_captures *caps) {
  const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
  size_t n = (r->ngroups < TB_CAPTURE_MAX ? r->ngroups : TB_CAPTURE_MAX) + 1;

  if (caps == NULL || r->ngroups == 0) {
    return;
  }
  if (n > pcre2_get_ovector_count(md)) {
    n = pcre2_get_ovector_count(md);
  }
  for (size_t k = 0; k < n; k++) {
    caps->start[k] = ov[2 * k] == PCRE2_UNSET ? TB_CAPTURE_UNSET : (size_t)ov[2 * k];
    caps->end[k] = ov[2 * k + 1] == PCRE2_UNSET ? TB_CAPTURE_UNSET : (size_t)ov[2 * k + 1];
  }
  caps->n = n;
}

/* The first entry of s taking text[0..len) (len > 0, as given: no dot
 * dropped) and port, into *found (SIZE_MAX: none), with a rule's groups in
 * caps.  Returns 0, or -1 when matching failed. */
static int lookup(const struct tb_index *ix, const struct set *s, const char *text, size_t len, unsigned port,
                  size_t *found, struct tb_captures *caps) {
  char low[LITERAL_MAX];
  pcre2_match_data *md = thread_match_data();
  size_t best = SIZE_MAX;

  *found = SIZE_MAX;
  if (md == NULL) {
    return -1;
  }
  if (ix == NULL || len > sizeof low) {
    /* No index (never built, or lost to out of memory), or a text longer
     * than any indexed literal: every entry as a regex, in order. */
    for (size_t i = 0; i < s->n; i++) {
      int m = regex_match(s, i, text, len, port, md);
      if (m < 0) {
        return -1;
      }
      if (m > 0) {
        *found = i;
        if (s->rules != NULL) {
          copy_captures(&s->rules[i], md, caps);
        }
        return 0;
      }
    }
    return 0;
  }
  for (size_t i = 0; i < len; i++) {
    low[i] = lower(text[i]);
  }
  const struct slot *hit = table_find(&ix->exact, low, len);
  if (hit != NULL) {
    best = chain_first(ix, s, hit->rule, port, best);
  }
  if (ix->suffix.n > 0) {
    for (size_t i = 0; i < len; i++) {
      if (low[i] == '.' && (hit = table_find(&ix->suffix, low + i, len - i)) != NULL && hit->rule < best) {
        size_t r = chain_first(ix, s, hit->rule, port, best);
        best = r < best ? r : best;
      }
    }
  }
  for (size_t k = 0; k < ix->nregex && ix->regex[k] < best; k++) {
    int m = regex_match(s, ix->regex[k], text, len, port, md);
    if (m < 0) {
      return -1;
    }
    if (m > 0) {
      best = ix->regex[k];
      if (s->rules != NULL) {
        copy_captures(&s->rules[best], md, caps); /* an indexed winner has no groups (tb_index.h) */
      }
      break;
    }
  }
  *found = best;
  return 0;
}

int tb_index_lookup(const struct tb_index *ix, const struct tb_rule *rules, size_t nrules, const char *host,
                    size_t len, unsigned port, const struct tb_rule **rule) {
  return tb_index_lookup_captures(ix, rules, nrules, host, len, port, rule, NULL);
}

int tb_index_lookup_captures(const struct tb_index *ix, const struct tb_rule *rules, size_t nrules,
                             const char *host, size_t len, unsigned port, const struct tb_rule **rule,
                             struct tb_captures *caps) {
  const struct set s = {rules, NULL, nrules};
  size_t found = SIZE_MAX;

  *rule = NULL;
  if (caps != NULL) {
    caps->n = 0;
  }
  if (host == NULL || len == 0) {
    return 0;
  }
  if (host[len - 1] == '.') {
    len--; /* "example.com." is the same name as "example.com" */
  }
  if (len == 0) {
    return 0;
  }
  if (lookup(ix, &s, host, len, port, &found, caps) != 0) {
    return -1;
  }
  *rule = found == SIZE_MAX ? NULL : &rules[found];
  return 0;
}

int tb_index_lookup_texts(const struct tb_index *ix, void *const *res, size_t n, const char *text, size_t len,
                          size_t *found) {
  const struct set s = {NULL, res, n};

  *found = SIZE_MAX;
  if (text == NULL || len == 0) {
    return 0;
  }
  return lookup(ix, &s, text, len, 0, found, NULL);
}

int tb_index_match_host(const void *re, const char *host, size_t len) {
  pcre2_match_data *md;

  if (host == NULL || len == 0) {
    return 0;
  }
  if (host[len - 1] == '.') {
    len--; /* as tb_index_lookup: one trailing dot is no part of the name */
  }
  if (len == 0) {
    return 0;
  }
  md = thread_match_data();
  return md == NULL ? -1 : run(re, host, len, md);
}

/* ---- the reference's matching ------------------------------------------ */

int tb_index_reference_match(const char *pattern, const char *host, size_t len) {
  pcre2_code *re;
  pcre2_match_data *md;
  int code;
  int rc;
  PCRE2_SIZE offset;

  /* Only PCRE2_ANCHORED: the reference's regexes are anchored at the start
   * and nowhere else, case-sensitive, with PCRE's default '$' (end, or
   * before a final newline).  No JIT: this runs a handful of times. */
  re = pcre2_compile((PCRE2_SPTR)pattern, strlen(pattern), PCRE2_ANCHORED, &code, &offset, NULL);
  if (re == NULL) {
    return -1;
  }
  md = pcre2_match_data_create(1, NULL);
  rc = md != NULL ? pcre2_match(re, (PCRE2_SPTR)host, len, 0, 0, md, NULL) : PCRE2_ERROR_NOMEMORY;
  pcre2_match_data_free(md); /* NULL: a no-op */
  pcre2_code_free(re);
  if (rc >= 0) {
    return 1;
  }
  return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}
