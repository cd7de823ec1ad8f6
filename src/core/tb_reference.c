/*
 * tb_reference: what a rule meant to the reference.  See tb_reference.h.
 *
 * The regex text is read by tb_retext (a model of the part of PCRE2 host
 * patterns use); "(?i)" or "(?-i)" at the very start is read here.  Three
 * questions are answered from the text where that is sound:
 *   - end open: every top-level alternative ends in '$' (\z, \Z) or in '.'
 *     repeated without bound.  Then a host whose prefix matches also
 *     matches whole, so anchoring only at the start changes nothing.
 *   - case-sensitive: some literal letter, or some class holding a letter
 *     without its other case.  If none, the set of hosts a pattern matches
 *     is closed under changing case, and case-sensitivity changes nothing.
 *   - end-anchored: some '$' (\z, \Z).  A pattern without one matches
 *     "name." through its prefix "name" wherever it matches "name", so only
 *     an end anchor makes the reference's kept trailing dot matter.
 * Where the text says "may differ", an example decides: a host made from
 * the pattern's first alternative (tb_retext_sample), checked to match
 * both here and in the reference, is changed (a suffix added, its case
 * changed, a dot added) and run through both matchers (tb_index_lookup,
 * tb_index_reference_match); a host one takes and the other does not is a
 * difference shown, and is reported with that host.  When no example shows
 * it, the note says "may" (struct tb_ref_note.certain 0).
 */
#include "tb_reference.h"
#include "tb_index.h"
#include "tb_retext.h"
#include "tb_text.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define QUOTE_MAX 160 /* bytes of an example shown (longer ones end in "...") */
#define PATTERN_QUOTE_MAX 96

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
  case TB_REF_PEERS:
    return "peers";
  case TB_REF_ACCESS:
    return "access";
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
static int anchor_example(const struct tb_rule *r, const struct tb_sample *s, struct tb_sample *ex) {
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
static int case_example(const struct tb_rule *r, const struct tb_sample *s, struct tb_sample *ex) {
  for (int how = 0; how < 3; how++) {
    int here;
    int there;
    ex->len = s->len;
    for (size_t i = 0; i < s->len; i++) {
      unsigned char c = (unsigned char)s->host[i];
      unsigned char up = c >= 'a' && c <= 'z' ? tb_retext_other_case(c) : c;
      unsigned char low = c >= 'A' && c <= 'Z' ? tb_retext_other_case(c) : c;
      ex->host[i] = (char)(how == 0 ? up : how == 1 ? low : tb_retext_other_case(c));
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
static int dot_example(const struct tb_rule *r, const struct tb_sample *s, struct tb_sample *ex) {
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
  struct tb_sample s = {{0}, 0, 0};
  struct tb_sample ex = {{0}, 0, 0};
  int have_sample = 0;
  int caseless_there = 0;
  int sensitive_here = 0;
  int n = 0;
  int found;
  int here;
  int there;

  if (r->action == TB_ACTION_DENY) {
    struct tb_ref_note *x = note(notes, &n, TB_REF_ACCESS, 1);
    snprintf(
        x->text, sizeof x->text,
        "action: deny, an option of this plugin only: the reference had no deny rules (a CONNECT this rule "
        "refuses went to a later rule or to Traffic Server there)");
    return n;
  }
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
    if (tb_retext_sample(&s, p, end) != 0) {
      break;
    }
    if (both(r, s.host, s.len, &here, &there) != 0) {
      return -1;
    }
    have_sample = here && there;
  }

  if (!tb_retext_end_open(p, end)) {
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

  if (!caseless_there && !sensitive_here && tb_retext_case_sensitive(p, end) != 0) {
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

  if (tb_retext_end_anchored(p, end) != 0) {
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

  if (r->npeers == 1 && r->ntemplates == 0 && !r->peer.port_given) {
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

  if (r->npeers > 1 || r->ntemplates > 0) {
    struct tb_ref_note *x = note(notes, &n, TB_REF_PEERS, 1);
    const char *what = r->npeers > 1 && r->ntemplates > 0 ? "several peers and a peer template"
                       : r->npeers > 1                    ? "several peers"
                                                          : "a peer template";
    snprintf(x->text, sizeof x->text,
             "%s (%s), an option of this plugin only: the reference took one peer per rule, as written", what,
             r->npeers > 1 ? tb_balance_name(r->balance) : "$1..$9 from the host");
  }

  if (r->nclients > 0) {
    struct tb_ref_note *x = note(notes, &n, TB_REF_ACCESS, 1);
    snprintf(x->text, sizeof x->text,
             "a clients list, an option of this plugin only: the reference let every client use the rule");
  }
  return n;
}

int tb_reference_next_option(int argc, const char *const *argv, int *i, char *buf, size_t buflen) {
  char q[TB_QUOTE_SIZE(PATTERN_QUOTE_MAX)];

  while (*i >= 0 && *i < argc) {
    const char *a = argv[*i];
    const char *peer = *i + 1 < argc ? argv[*i + 1] : NULL;
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
    if (a != NULL && !(a[0] == '-' && a[1] == '-') && peer != NULL &&
        (strchr(peer, ',') != NULL || strchr(peer, '$') != NULL)) {
      int list = strchr(peer, ',') != NULL;
      tb_text_quote(q, sizeof q, peer, strlen(peer), PATTERN_QUOTE_MAX);
      snprintf(buf, buflen, "plugin.config argument %d ('%s'): a peer %s, an option of this plugin only: %s",
               at + 2, q, list ? "list" : "template",
               list ? "the reference takes one peer per rule" : "the reference takes the peer as written");
      return 1;
    }
  }
  return 0;
}
