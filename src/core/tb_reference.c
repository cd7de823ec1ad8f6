/*
 * tb_reference: what a rule meant to the reference.  See tb_reference.h.
 *
 * A small reader of regex text (struct tok, next_tok) models the part of
 * PCRE2 that host patterns use: literals, escaped punctuation, '.', classes
 * with ranges, \d \w \s, groups with alternatives, the quantifiers, '^' '$'
 * \A \z \Z, and "(?i)" or "(?-i)" at the very start.  Anything else (lookarounds,
 * backreferences, \b, \Q...\E, inline options elsewhere, POSIX classes) is
 * TOK_BAD: no static answer, and no example is made from such a pattern.
 *
 * Three questions are answered from the text where that is sound:
 *   - end_open: every top-level alternative ends in '$' (\z, \Z) or in '.'
 *     repeated without bound.  Then a host whose prefix matches also
 *     matches whole, so anchoring only at the start changes nothing.
 *   - case_sensitive: some literal letter, or some class holding a letter
 *     without its other case.  If none, the set of hosts a pattern matches
 *     is closed under changing case, and case-sensitivity changes nothing.
 *   - end_anchored: some '$' (\z, \Z).  A pattern without one matches
 *     "name." through its prefix "name" wherever it matches "name", so only
 *     an end anchor makes the reference's kept trailing dot matter.
 * Where the text says "may differ", an example decides: a host made from
 * the pattern's first alternative (make_alternatives), checked to match
 * both here and in the reference, is changed (a suffix added, its case
 * changed, a dot added) and run through both matchers (tb_index_lookup,
 * tb_index_reference_match); a host one takes and the other does not is a
 * difference shown, and is reported with that host.  When no example shows
 * it, the note says "may" (struct tb_ref_note.certain 0).
 */
#include "tb_reference.h"
#include "tb_index.h"
#include "tb_text.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define DEPTH_MAX 16     /* group nesting a pattern may have here */
#define REPEAT_MAX 16    /* "{n}" written out at most this many times in a sample */
#define REP_INF UINT_MAX /* no upper bound: '*', '+', "{n,}" */
#define SAMPLE_MAX 300   /* a host name and what examples add to it */
#define QUOTE_MAX 160    /* bytes of an example shown (longer ones end in "...") */
#define PATTERN_QUOTE_MAX 96

/* ---- reading regex text ------------------------------------------------ */

enum tok_kind {
  TOK_CHAR,  /* one character: a literal, or escaped punctuation */
  TOK_SET,   /* one of a set: a class, '.', \d, \w, \s */
  TOK_GROUP, /* (...) or (?:...); its inside is [in, in_end) */
  TOK_START, /* '^', \A: zero width */
  TOK_END,   /* '$', \z, \Z: zero width, the end of the host */
  TOK_BAD,   /* not modelled (see the top of this file) */
};

struct tok {
  enum tok_kind kind;
  char ch;               /* TOK_CHAR */
  int any;               /* TOK_SET from '.' */
  unsigned char set[32]; /* TOK_SET: one bit per byte value */
  const char *in;        /* TOK_GROUP */
  const char *in_end;
  unsigned lo, hi; /* repetitions: 1, 1 without a quantifier */
  const char *next;
};

static int is_alpha(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(unsigned char c) {
  return is_alpha(c) || (c >= '0' && c <= '9');
}

static unsigned char other_case(unsigned char c) {
  if (c >= 'a' && c <= 'z') {
    return (unsigned char)(c - 'a' + 'A');
  }
  if (c >= 'A' && c <= 'Z') {
    return (unsigned char)(c - 'A' + 'a');
  }
  return c;
}

static void set_add(unsigned char *set, unsigned lo, unsigned hi) {
  for (unsigned c = lo; c <= hi; c++) {
    set[c >> 3] = (unsigned char)(set[c >> 3] | (1u << (c & 7)));
  }
}

static int set_has(const unsigned char *set, unsigned c) {
  return (set[c >> 3] >> (c & 7)) & 1;
}

/* \d, \w or \s into set; -1 for any other letter after a backslash. */
static int set_add_escape(unsigned char *set, char e) {
  switch (e) {
  case 'd':
    set_add(set, '0', '9');
    return 0;
  case 'w':
    set_add(set, '0', '9');
    set_add(set, 'A', 'Z');
    set_add(set, 'a', 'z');
    set_add(set, '_', '_');
    return 0;
  case 's':
    set_add(set, '\t', '\r');
    set_add(set, ' ', ' ');
    return 0;
  default:
    return -1;
  }
}

/* The class that opens at p ('['): its members into set (when not NULL)
 * and the position after its ']'; NULL when it is not modelled or does not
 * close. */
static const char *read_class(const char *p, const char *end, unsigned char *set) {
  unsigned char members[32];
  int negate = 0;
  int first = 1;

  memset(members, 0, sizeof members);
  p++;
  if (p < end && *p == '^') {
    negate = 1;
    p++;
  }
  while (p < end && (*p != ']' || first)) {
    unsigned char lo;
    unsigned char hi;

    first = 0;
    if (*p == '[' && p + 1 < end && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
      return NULL; /* POSIX class */
    }
    if (*p == '\\') {
      if (p + 1 >= end) {
        return NULL;
      }
      if (is_alnum((unsigned char)p[1])) {
        if (set_add_escape(members, p[1]) != 0) {
          return NULL;
        }
        p += 2;
        continue;
      }
      lo = (unsigned char)p[1];
      p += 2;
    } else {
      lo = (unsigned char)*p++;
    }
    hi = lo;
    if (p + 1 < end && *p == '-' && p[1] != ']') {
      if (p[1] == '\\') {
        if (p + 2 >= end || is_alnum((unsigned char)p[2])) {
          return NULL;
        }
        hi = (unsigned char)p[2];
        p += 3;
      } else {
        hi = (unsigned char)p[1];
        p += 2;
      }
      if (hi < lo) {
        return NULL;
      }
    }
    set_add(members, lo, hi);
  }
  if (p >= end) {
    return NULL;
  }
  if (set != NULL) {
    for (size_t k = 0; k < sizeof members; k++) {
      set[k] = negate ? (unsigned char)~members[k] : members[k];
    }
  }
  return p + 1;
}

/* The position after the group that opens at p ('('), or NULL. */
static const char *group_end(const char *p, const char *end) {
  int depth = 0;

  while (p < end) {
    if (*p == '\\') {
      p = p + 1 < end ? p + 2 : end;
      continue;
    }
    if (*p == '[') {
      p = read_class(p, end, NULL);
      if (p == NULL) {
        return NULL;
      }
      continue;
    }
    if (*p == '(') {
      depth++;
    } else if (*p == ')' && --depth == 0) {
      return p + 1;
    }
    p++;
  }
  return NULL;
}

/* Where the alternative that starts at p ends: the next '|' at this level,
 * or end. */
static const char *branch_end(const char *p, const char *end) {
  while (p < end && *p != '|') {
    const char *q = p + 1;
    if (*p == '\\') {
      q = p + 2 <= end ? p + 2 : end;
    } else if (*p == '[') {
      q = read_class(p, end, NULL);
    } else if (*p == '(') {
      q = group_end(p, end);
    }
    if (q == NULL) {
      return end; /* unbalanced: next_tok reports it as TOK_BAD */
    }
    p = q;
  }
  return p;
}

/* "{n}", "{n,}" or "{n,m}" at p: 1 with the bounds and the position after
 * it; 0 when p does not start one (then '{' is a literal, as in PCRE2). */
static int read_braces(const char *p, const char *end, unsigned *lo, unsigned *hi, const char **next) {
  unsigned v[2] = {0, 0};
  int k = 0;
  int digits = 0;

  for (p++; p < end; p++) {
    if (*p >= '0' && *p <= '9') {
      if (v[k] > 100000) {
        return 0;
      }
      v[k] = v[k] * 10 + (unsigned)(*p - '0');
      digits++;
    } else if (*p == ',' && k == 0 && digits > 0) {
      k = 1;
      digits = 0;
    } else if (*p == '}' && (digits > 0 || k == 1)) {
      *lo = v[0];
      *hi = k == 0 ? v[0] : (digits > 0 ? v[1] : REP_INF);
      *next = p + 1;
      return *hi >= *lo;
    } else {
      return 0;
    }
  }
  return 0;
}

/* The atom at p (p < end) and its quantifier, into *t. */
static void next_tok(const char *p, const char *end, struct tok *t) {
  const char *q = p + 1;
  unsigned lo = 0;
  unsigned hi = 0;

  memset(t, 0, sizeof *t);
  t->lo = 1;
  t->hi = 1;
  switch (*p) {
  case '.':
    t->kind = TOK_SET;
    t->any = 1;
    set_add(t->set, 0, 255);
    t->set['\n' >> 3] = (unsigned char)(t->set['\n' >> 3] & ~(1u << ('\n' & 7)));
    break;
  case '[':
    t->kind = TOK_SET;
    q = read_class(p, end, t->set);
    if (q == NULL) {
      t->kind = TOK_BAD;
    }
    break;
  case '\\':
    if (p + 1 >= end) {
      t->kind = TOK_BAD;
      break;
    }
    q = p + 2;
    if (!is_alnum((unsigned char)p[1])) {
      t->kind = TOK_CHAR;
      t->ch = p[1];
    } else if (p[1] == 'A') {
      t->kind = TOK_START;
    } else if (p[1] == 'z' || p[1] == 'Z') {
      t->kind = TOK_END;
    } else {
      t->kind = set_add_escape(t->set, p[1]) == 0 ? TOK_SET : TOK_BAD;
    }
    break;
  case '(':
    q = group_end(p, end);
    if (q == NULL || (p + 1 < end && p[1] == '?' && (p + 2 >= end || p[2] != ':'))) {
      t->kind = TOK_BAD; /* unbalanced, or a lookaround, a named group, inline options */
      break;
    }
    t->kind = TOK_GROUP;
    t->in = p[1] == '?' ? p + 3 : p + 1;
    t->in_end = q - 1;
    break;
  case '^':
    t->kind = TOK_START;
    break;
  case '$':
    t->kind = TOK_END;
    break;
  case ')':
  case '|':
  case '*':
  case '+':
  case '?':
    t->kind = TOK_BAD;
    break;
  case '{':
    t->kind = read_braces(p, end, &lo, &hi, &q) ? TOK_BAD : TOK_CHAR; /* a quantifier of nothing */
    q = t->kind == TOK_CHAR ? p + 1 : q;
    t->ch = '{';
    break;
  default:
    t->kind = TOK_CHAR;
    t->ch = *p;
    break;
  }
  if (t->kind == TOK_BAD) {
    t->next = end;
    return;
  }
  if (q < end && (*q == '*' || *q == '+' || *q == '?' || *q == '{')) {
    if (*q == '{') {
      if (!read_braces(q, end, &lo, &hi, &q)) {
        t->next = q;
        return; /* a literal '{' follows */
      }
      t->lo = lo;
      t->hi = hi;
    } else {
      t->lo = *q == '+' ? 1 : 0;
      t->hi = *q == '?' ? 1 : REP_INF;
      q++;
    }
    if (t->kind == TOK_START || t->kind == TOK_END) {
      t->kind = TOK_BAD; /* a repeated anchor: not modelled */
      t->next = end;
      return;
    }
    if (q < end && (*q == '?' || *q == '+')) {
      q++; /* lazy or possessive: the same hosts match */
    }
  }
  t->next = q;
}

/* ---- what the text decides --------------------------------------------- */

/* Does every alternative of [p, end) end in an end anchor or in '.'
 * repeated without bound?  0 also when a part is not modelled. */
static int end_open(const char *p, const char *end) {
  for (;;) {
    const char *e = branch_end(p, end);
    struct tok t;
    int last = -1; /* 1: the alternative's last atom ends it open or anchored */

    while (p < e) {
      next_tok(p, e, &t);
      if (t.kind == TOK_BAD) {
        return 0;
      }
      last = t.kind == TOK_END || (t.kind == TOK_SET && t.any && t.hi == REP_INF);
      p = t.next;
    }
    if (last != 1) {
      return 0; /* an empty alternative matches the empty prefix of any host */
    }
    if (e >= end) {
      return 1;
    }
    p = e + 1;
  }
}

/* Does [p, end) hold an atom that matches one case of a letter and not the
 * other?  1 yes, 0 no, -1 not modelled. */
static int case_sensitive(const char *p, const char *end, int depth) {
  struct tok t;

  if (depth > DEPTH_MAX) {
    return -1;
  }
  while (p < end) {
    if (*p == '|') {
      p++;
      continue;
    }
    next_tok(p, end, &t);
    switch (t.kind) {
    case TOK_BAD:
      return -1;
    case TOK_CHAR:
      if (is_alpha((unsigned char)t.ch)) {
        return 1;
      }
      break;
    case TOK_SET:
      for (unsigned c = 'A'; c <= 'z'; c++) {
        if (is_alpha((unsigned char)c) && set_has(t.set, c) &&
            !set_has(t.set, other_case((unsigned char)c))) {
          return 1;
        }
      }
      break;
    case TOK_GROUP: {
      int inner = case_sensitive(t.in, t.in_end, depth + 1);
      if (inner != 0) {
        return inner;
      }
      break;
    }
    case TOK_START:
    case TOK_END:
      break;
    }
    p = t.next;
  }
  return 0;
}

/* Does [p, end) hold an end anchor?  1 yes, 0 no, -1 not modelled. */
static int end_anchored(const char *p, const char *end, int depth) {
  struct tok t;

  if (depth > DEPTH_MAX) {
    return -1;
  }
  while (p < end) {
    if (*p == '|') {
      p++;
      continue;
    }
    next_tok(p, end, &t);
    if (t.kind == TOK_BAD) {
      return -1;
    }
    if (t.kind == TOK_END) {
      return 1;
    }
    if (t.kind == TOK_GROUP) {
      int inner = end_anchored(t.in, t.in_end, depth + 1);
      if (inner != 0) {
        return inner;
      }
    }
    p = t.next;
  }
  return 0;
}

/* ---- examples ----------------------------------------------------------- */

struct sample {
  char host[SAMPLE_MAX];
  size_t len;
  int last_star_once; /* write a trailing '*' atom once too (see make_sequence) */
};

/* The member of set a host name would most likely hold: a letter, a digit,
 * then '.', '-', '_', then any printable character; -1 for none. */
static int pick(const unsigned char *set) {
  static const char prefer[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.-_";

  for (const char *c = prefer; *c != '\0'; c++) {
    if (set_has(set, (unsigned char)*c)) {
      return (unsigned char)*c;
    }
  }
  for (unsigned c = 0x21; c < 0x7f; c++) {
    if (set_has(set, c)) {
      return (int)c;
    }
  }
  return -1;
}

static int make_alternatives(struct sample *s, const char *p, const char *end, int depth);

/* A host matched by the atoms of [p, end) (one alternative), appended to s:
 * each atom as often as its quantifier's minimum ('?': not at all), '*'
 * once (see reps).  -1 when a part is not modelled or the host gets too
 * long. */
static int make_sequence(struct sample *s, const char *p, const char *end, int depth) {
  struct tok t;

  while (p < end) {
    size_t start = s->len;
    unsigned reps;

    next_tok(p, end, &t);
    switch (t.kind) {
    case TOK_BAD:
      return -1;
    case TOK_START:
    case TOK_END:
      p = t.next;
      continue;
    case TOK_CHAR:
    case TOK_SET: {
      int c = t.kind == TOK_CHAR ? (unsigned char)t.ch : pick(t.set);
      if (c < 0 || s->len + 1 >= sizeof s->host) {
        return -1;
      }
      s->host[s->len++] = (char)c;
      break;
    }
    case TOK_GROUP:
      if (make_alternatives(s, t.in, t.in_end, depth + 1) != 0) {
        return -1;
      }
      break;
    }
    /* The minimum, except: '*' and "{0,n}" (n > 1) once, so that ".*[.]x"
     * gives "a.x", not ".x"; but not a '*' at the very end, where "a[.]b.*"
     * reads best as "a.b" (unless last_star_once: "x*" alone). */
    if (t.lo > 0 || t.hi <= 1) {
      reps = t.lo;
    } else {
      reps = t.hi != REP_INF || t.next < end || s->last_star_once ? 1 : 0;
    }
    if (reps > REPEAT_MAX) {
      return -1;
    }
    if (reps == 0) {
      s->len = start;
    }
    size_t n = s->len - start; /* one copy of the atom */
    for (unsigned k = 1; k < reps; k++) {
      if (s->len + n >= sizeof s->host) {
        return -1;
      }
      memmove(s->host + s->len, s->host + start, n);
      s->len += n;
    }
    p = t.next;
  }
  return 0;
}

/* A host matched by the first alternative of [p, end), appended to s. */
static int make_alternatives(struct sample *s, const char *p, const char *end, int depth) {
  if (depth > DEPTH_MAX) {
    return -1;
  }
  return make_sequence(s, p, branch_end(p, end), depth);
}

/* Does rule r take host here (with a port it takes)?  1, 0, -1 failed. */
static int ours(const struct tb_rule *r, const char *host, size_t len) {
  const struct tb_rule *m = NULL;
  unsigned port = r->nports > 0 ? r->ports[0].lo : 0;

  if (tb_index_lookup(NULL, r, 1, host, len, port, &m) != 0) {
    return -1;
  }
  return m != NULL;
}

/* What the two matchers say about host: *here and *there, each 1 or 0;
 * -1 when either failed. */
static int both(const struct tb_rule *r, const char *host, size_t len, int *here, int *there) {
  *here = ours(r, host, len);
  *there = tb_index_reference_match(r->pattern, host, len);
  return *here < 0 || *there < 0 ? -1 : 0;
}

/* ---- notes -------------------------------------------------------------- */

const char *tb_ref_kind_name(enum tb_ref_kind kind) {
  switch (kind) {
  case TB_REF_ANCHOR:
    return "anchoring";
  case TB_REF_CASE:
    return "case";
  case TB_REF_DOT:
    return "trailing dot";
  case TB_REF_PEER_PORT:
    return "peer port";
  case TB_REF_PORTS:
    return "ports";
  case TB_REF_KINDS:
  default:
    return "?";
  }
}

static struct tb_ref_note *note(struct tb_ref_note *notes, int *n, enum tb_ref_kind kind, int certain) {
  struct tb_ref_note *x = &notes[(*n)++];
  x->kind = kind;
  x->certain = certain;
  x->text[0] = '\0';
  return x;
}

/* An example host, quoted for a note. */
static void quote_host(char *q, size_t qlen, const char *host, size_t len) {
  tb_text_quote(q, qlen, host, len, QUOTE_MAX);
}

/* A host the reference takes and this plugin does not: s with a suffix.
 * 1 found (in *ex), 0 none, -1 failed. */
static int anchor_example(const struct tb_rule *r, const struct sample *s, struct sample *ex) {
  static const char *const suffixes[] = {".example", ".net", "x", "-1", ".1"};

  for (size_t k = 0; k < sizeof suffixes / sizeof suffixes[0]; k++) {
    size_t n = strlen(suffixes[k]);
    int here;
    int there;
    if (s->len + n >= sizeof ex->host) {
      return 0;
    }
    if (s->len >= n && memcmp(s->host + s->len - n, suffixes[k], n) == 0) {
      continue; /* "a.example.example" reads as a typo: take the next */
    }
    memcpy(ex->host, s->host, s->len);
    memcpy(ex->host + s->len, suffixes[k], n);
    ex->len = s->len + n;
    if (both(r, ex->host, ex->len, &here, &there) != 0) {
      return -1;
    }
    if (!here && there) {
      return 1;
    }
  }
  return 0;
}

/* A host this plugin takes and the reference does not, differing from s
 * only in case: all upper, all lower, each letter flipped.  1, 0, -1. */
static int case_example(const struct tb_rule *r, const struct sample *s, struct sample *ex) {
  for (int how = 0; how < 3; how++) {
    int here;
    int there;
    ex->len = s->len;
    for (size_t i = 0; i < s->len; i++) {
      unsigned char c = (unsigned char)s->host[i];
      unsigned char up = c >= 'a' && c <= 'z' ? other_case(c) : c;
      unsigned char low = c >= 'A' && c <= 'Z' ? other_case(c) : c;
      ex->host[i] = (char)(how == 0 ? up : how == 1 ? low : other_case(c));
    }
    if (memcmp(ex->host, s->host, s->len) == 0) {
      continue;
    }
    if (both(r, ex->host, ex->len, &here, &there) != 0) {
      return -1;
    }
    if (here && !there) {
      return 1;
    }
  }
  return 0;
}

/* s with a trailing dot, when this plugin takes it and the reference does
 * not.  1, 0, -1. */
static int dot_example(const struct tb_rule *r, const struct sample *s, struct sample *ex) {
  int here;
  int there;

  if (s->len + 1 >= sizeof ex->host) {
    return 0;
  }
  memcpy(ex->host, s->host, s->len);
  ex->host[s->len] = '.';
  ex->len = s->len + 1;
  if (both(r, ex->host, ex->len, &here, &there) != 0) {
    return -1;
  }
  return here && !there;
}

int tb_reference_rule(const struct tb_rule *r, struct tb_ref_note notes[TB_REF_KINDS]) {
  const char *p = r->pattern;
  const char *end = p + strlen(p);
  char q[TB_QUOTE_SIZE(QUOTE_MAX)];
  struct sample s = {{0}, 0, 0};
  struct sample ex = {{0}, 0, 0};
  int have_sample = 0;
  int caseless_there = 0;
  int sensitive_here = 0;
  int n = 0;
  int found;
  int here;
  int there;

  if (end - p >= 4 && memcmp(p, "(?i)", 4) == 0) {
    caseless_there = 1; /* the reference honours it as PCRE2 does */
    p += 4;
  } else if (end - p >= 5 && memcmp(p, "(?-i)", 5) == 0) {
    sensitive_here = 1; /* case-sensitive here too: the way to keep the reference's meaning */
    p += 5;
  }
  /* A host both take: the base of every example.  Second try for "x*",
   * whose first sample is empty. */
  for (int attempt = 0; attempt < 2 && !have_sample; attempt++) {
    s.len = 0;
    s.last_star_once = attempt;
    if (make_alternatives(&s, p, end, 0) != 0) {
      break;
    }
    if (both(r, s.host, s.len, &here, &there) != 0) {
      return -1;
    }
    have_sample = here && there;
  }

  if (!end_open(p, end)) {
    found = have_sample ? anchor_example(r, &s, &ex) : 0;
    if (found < 0) {
      return -1;
    }
    struct tb_ref_note *x = note(notes, &n, TB_REF_ANCHOR, found);
    if (found) {
      quote_host(q, sizeof q, ex.host, ex.len);
      snprintf(x->text, sizeof x->text,
               "the reference also matched hosts that merely start with this pattern, e.g. '%s'", q);
    } else {
      snprintf(x->text, sizeof x->text,
               "the reference anchored the pattern at the start only: it may also have matched longer hosts "
               "that start with a match (no example derived)");
    }
  }

  if (!caseless_there && !sensitive_here && case_sensitive(p, end, 0) != 0) {
    found = have_sample ? case_example(r, &s, &ex) : 0;
    if (found < 0) {
      return -1;
    }
    struct tb_ref_note *x = note(notes, &n, TB_REF_CASE, found);
    if (found) {
      quote_host(q, sizeof q, ex.host, ex.len);
      snprintf(x->text, sizeof x->text, "the reference matched case-sensitively: '%s' was not bridged there",
               q);
    } else {
      snprintf(x->text, sizeof x->text,
               "the reference matched case-sensitively: a host written in another case may not have been "
               "bridged there (no example derived)");
    }
  }

  if (end_anchored(p, end, 0) != 0) {
    found = have_sample ? dot_example(r, &s, &ex) : 0;
    if (found < 0) {
      return -1;
    }
    struct tb_ref_note *x = note(notes, &n, TB_REF_DOT, found);
    if (found) {
      quote_host(q, sizeof q, ex.host, ex.len);
      snprintf(x->text, sizeof x->text,
               "the reference did not drop a trailing dot: '%s' was not bridged there", q);
    } else {
      snprintf(x->text, sizeof x->text,
               "the reference did not drop a trailing dot: a host written with one may not have been bridged "
               "there (no example derived)");
    }
  }

  if (!r->peer.port_given) {
    struct tb_ref_note *x = note(notes, &n, TB_REF_PEER_PORT, 1);
    snprintf(x->text, sizeof x->text,
             "peer has no port: the reference connected to port %u, this plugin to %u",
             (unsigned)TB_REFERENCE_PEER_PORT, (unsigned)r->peer.port);
  }

  if (r->nports > 0) {
    char ports[256];
    struct tb_ref_note *x = note(notes, &n, TB_REF_PORTS, 1);
    (void)tb_rule_format_ports(r, ports, sizeof ports); /* a cut list ends in "..." */
    snprintf(
        x->text, sizeof x->text,
        "the reference ignored the CONNECT port: it bridged every port of a matching host, this rule only "
        "%s",
        ports);
  }
  return n;
}

int tb_reference_next_option(int argc, const char *const *argv, int *i, char *buf, size_t buflen) {
  char q[TB_QUOTE_SIZE(PATTERN_QUOTE_MAX)];

  while (*i >= 0 && *i < argc) {
    const char *a = argv[*i];
    int at = *i;

    *i += 2; /* an option and its value, or a regex and its peer */
    if (a != NULL && a[0] == '-' && a[1] == '-' && strcmp(a, "--file") != 0) {
      tb_text_quote(q, sizeof q, a, strlen(a), PATTERN_QUOTE_MAX);
      snprintf(
          buf, buflen,
          "plugin.config argument %d ('%s'): an option of this plugin only: the reference cannot parse it",
          at + 1, q);
      return 1;
    }
  }
  return 0;
}
