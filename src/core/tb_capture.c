/*
 * tb_capture: peer templates.  See tb_capture.h.
 *
 * A template is read left to right once: literal bytes are copied, "$n" is
 * replaced; nothing a capture brings in is read again, so a capture holding
 * "$1" stays text (and is then refused: '$' is no host name character).
 */
#include "tb_capture.h"
#include "tb_text.h"

#include <stdio.h>
#include <string.h>

#define QUOTE_MAX 96 /* bytes of a template or a result shown in a message */

static int is_host_char(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
         ch == '_' || ch == '.';
}

static char lower(char ch) {
  return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

int tb_template_is(const char *s, size_t len) {
  return memchr(s, '$', len) != NULL;
}

/* "peer template 'TPL': " + what, into err. */
static int fail(char *err, size_t errlen, const char *tpl, const char *what) {
  char q[TB_QUOTE_SIZE(QUOTE_MAX)];

  if (err != NULL && errlen > 0) {
    tb_text_quote(q, sizeof q, tpl, strlen(tpl), QUOTE_MAX);
    snprintf(err, errlen, "peer template '%s': %s", q, what);
  }
  return -1;
}

/* The offset where tpl's port begins (after its ':'), or the length of tpl
 * when it has none.  Only for templates that do not start with '['. */
static size_t port_start(const char *tpl, size_t len) {
  const char *colon = memchr(tpl, ':', len);
  return colon != NULL ? (size_t)(colon - tpl) + 1 : len;
}

/* tpl with each $n as host_fill before the port and port_fill in it; -1
 * when that does not fit in buf. */
static int fill(const char *tpl, size_t len, const char *host_fill, const char *port_fill, char *buf,
                size_t buflen, size_t *outlen) {
  size_t port = port_start(tpl, len);
  size_t n = 0;

  for (size_t i = 0; i < len; i++) {
    const char *add = NULL;
    size_t addlen = 1;
    if (tpl[i] == '$') {
      add = i < port ? host_fill : port_fill;
      addlen = strlen(add);
      i++; /* the digit, checked by the caller */
    } else {
      add = &tpl[i];
    }
    if (n + addlen >= buflen) {
      return -1;
    }
    memcpy(buf + n, add, addlen);
    n += addlen;
  }
  *outlen = n;
  return 0;
}

int tb_template_check(const char *tpl, unsigned ngroups, char *err, size_t errlen) {
  static const struct { const char *host, *port; } samples[] = {{"a", "1"}, {"", ""}};
  char why[256];
  char sample[TB_TEMPLATE_MAX];
  size_t len = strlen(tpl);
  const char *problem = NULL;

  if (len >= TB_TEMPLATE_MAX) {
    snprintf(why, sizeof why, "longer than %d bytes", TB_TEMPLATE_MAX - 1);
    return fail(err, errlen, tpl, why);
  }
  for (size_t i = 0; i < len; i++) {
    unsigned group;
    if (tpl[i] != '$') {
      continue;
    }
    if (i + 1 >= len || tpl[i + 1] < '1' || tpl[i + 1] > '9') {
      return fail(err, errlen, tpl, "'$' must be followed by a group number 1-9");
    }
    group = (unsigned)(tpl[i + 1] - '0');
    if (ngroups == 0) {
      snprintf(why, sizeof why,
               "$%u names a capture group, but the host regex has none (put the part to capture in "
               "parentheses, e.g. '(.*)[.]corp')",
               group);
      return fail(err, errlen, tpl, why);
    }
    if (group > ngroups) {
      snprintf(why, sizeof why, "$%u names capture group %u, but the host regex has %u", group, group,
               ngroups);
      return fail(err, errlen, tpl, why);
    }
    i++;
  }
  if (tpl[0] == '[') {
    return 0; /* an IPv6 literal made from captures: checked when expanded */
  }
  for (size_t k = 0; k < sizeof samples / sizeof samples[0]; k++) {
    struct tb_peer p;
    size_t n = 0;
    if (fill(tpl, len, samples[k].host, samples[k].port, sample, sizeof sample, &n) != 0) {
      continue;
    }
    const char *why_k = tb_peer_problem(sample, n, &p);
    if (why_k == NULL) {
      return 0;
    }
    if (problem == NULL) {
      problem = why_k; /* the first sample's: "a" reads best */
    }
  }
  snprintf(why, sizeof why, "no capture can make it a valid peer: %s",
           problem != NULL ? problem : "longer than allowed");
  return fail(err, errlen, tpl, why);
}

int tb_template_expand(const char *tpl, const char *host, size_t len, const struct tb_captures *caps,
                       struct tb_peer *out, char *err, size_t errlen) {
  char buf[TB_TEMPLATE_MAX];
  char why[TB_QUOTE_SIZE(QUOTE_MAX) + 128];
  size_t n = 0;

  if (caps == NULL || caps->n == 0) {
    return fail(err, errlen, tpl, "no capture groups from the match (matched without capture extraction)");
  }
  for (const char *p = tpl; *p != '\0'; p++) {
    if (*p != '$') {
      if (n + 1 >= sizeof buf) {
        goto too_long;
      }
      buf[n++] = *p;
      continue;
    }
    if (p[1] < '1' || p[1] > '9') {
      return fail(err, errlen, tpl, "'$' must be followed by a group number 1-9");
    }
    size_t g = (size_t)(p[1] - '0');
    p++;
    if (g >= caps->n) {
      snprintf(why, sizeof why, "the match gave no capture group %zu", g);
      return fail(err, errlen, tpl, why);
    }
    size_t s = caps->start[g];
    size_t e = caps->end[g];
    if (s == TB_CAPTURE_UNSET || e == TB_CAPTURE_UNSET) {
      continue; /* a group that took no part: empty, as in Perl */
    }
    if (s > e || e > len) {
      snprintf(why, sizeof why, "capture group %zu lies outside the host", g);
      return fail(err, errlen, tpl, why);
    }
    for (size_t i = s; i < e; i++) {
      if (!is_host_char((unsigned char)host[i])) {
        char q[TB_QUOTE_SIZE(QUOTE_MAX)];
        tb_text_quote(q, sizeof q, host + s, e - s, QUOTE_MAX);
        snprintf(why, sizeof why,
                 "capture $%zu is '%s': only letters, digits, '-', '_' and '.' may come from the host", g, q);
        return fail(err, errlen, tpl, why);
      }
      if (n + 1 >= sizeof buf) {
        goto too_long;
      }
      buf[n++] = lower(host[i]);
    }
  }
  buf[n] = '\0';
  const char *problem = tb_peer_problem(buf, n, out);
  if (problem != NULL) {
    char q[TB_QUOTE_SIZE(QUOTE_MAX)];
    char t[TB_QUOTE_SIZE(QUOTE_MAX)];
    if (err != NULL && errlen > 0) {
      tb_text_quote(t, sizeof t, tpl, strlen(tpl), QUOTE_MAX);
      tb_text_quote(q, sizeof q, buf, n, QUOTE_MAX);
      snprintf(err, errlen, "peer template '%s' gave '%s': %s", t, q, problem);
    }
    return -1;
  }
  if (err != NULL && errlen > 0) {
    err[0] = '\0';
  }
  return 0;

too_long:
  snprintf(why, sizeof why, "what it gives is longer than %d bytes", TB_TEMPLATE_MAX - 1);
  return fail(err, errlen, tpl, why);
}
