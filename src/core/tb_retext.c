/*
 * tb_retext: a small model of the regex text host patterns use.  See
 * tb_retext.h.
 *
 * The reader (struct tok, next_tok) models literals, escaped punctuation,
 * '.', classes with ranges, \d \w \s, groups with alternatives, the
 * quantifiers, '^' '$' \A \z \Z.  Anything else (lookarounds,
 * backreferences, \b, \Q...\E, inline options, POSIX classes) is TOK_BAD:
 * no static answer, and no sample is made from such a pattern.
 */
#include "tb_retext.h"

#include <limits.h>
#include <string.h>

#define DEPTH_MAX 16     /* group nesting a pattern may have here */
#define REPEAT_MAX 16    /* "{n}" written out at most this many times in a sample */
#define REP_INF UINT_MAX /* no upper bound: '*', '+', "{n,}" */

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

unsigned char tb_retext_other_case(unsigned char c) {
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
int tb_retext_end_open(const char *p, const char *end) {
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
            !set_has(t.set, tb_retext_other_case((unsigned char)c))) {
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

static int make_alternatives(struct tb_sample *s, const char *p, const char *end, int depth);

/* A host matched by the atoms of [p, end) (one alternative), appended to s:
 * each atom as often as its quantifier's minimum ('?': not at all), '*'
 * once (see reps).  -1 when a part is not modelled or the host gets too
 * long. */
static int make_sequence(struct tb_sample *s, const char *p, const char *end, int depth) {
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
static int make_alternatives(struct tb_sample *s, const char *p, const char *end, int depth) {
  if (depth > DEPTH_MAX) {
    return -1;
  }
  return make_sequence(s, p, branch_end(p, end), depth);
}

int tb_retext_case_sensitive(const char *p, const char *end) {
  return case_sensitive(p, end, 0);
}

int tb_retext_end_anchored(const char *p, const char *end) {
  return end_anchored(p, end, 0);
}

int tb_retext_sample(struct tb_sample *s, const char *p, const char *end) {
  return make_alternatives(s, p, end, 0);
}
