/*
 * libFuzzer target: peer templates (tb_capture.h).  The input, split on NUL
 * bytes, is a host regex, a peer template (or a comma-separated list of
 * peers and templates) and a CONNECT host; inputs over 4096 bytes are
 * skipped.
 *   1. The rule is loaded as the plugin loads it (tb_config_add_rule: the
 *      template checked against the regex's groups); if it loads and the
 *      host matches, every peer of the rule is made for the host through
 *      the matcher's captures (tb_config_rule_peer).
 *   2. The template is also expanded with capture offsets made from the
 *      input's bytes (any count, offsets in and out of the host, unset
 *      groups), which the matcher never gives: it must refuse, not read
 *      outside the host.
 * Checks: err is always NUL-terminated; a peer that is made is one a
 * configured peer could be (it formats, and its text parses back to the
 * same peer), and its host holds only what a host name or an IPv6 literal
 * may.
 */
#include "tb_capture.h"
#include "tb_config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 4096

static void check_err(const char *err, size_t errlen) {
  if (memchr(err, '\0', errlen) == NULL) {
    abort();
  }
}

/* A peer that was made must be one tb_peer_parse would give for its own
 * text. */
static void check_peer(const struct tb_peer *p) {
  char text[TB_PEER_TEXT_MAX];
  char err[256];
  struct tb_peer q;
  int n = tb_peer_format(p, text, sizeof text);

  if (n <= 0 || p->port == 0 || p->host[0] == '\0') {
    abort();
  }
  memset(&q, 0, sizeof q);
  if (tb_peer_parse(text, (size_t)n, &q, err, sizeof err) != 0 || !tb_peer_same(p, &q) ||
      strcmp(p->host, q.host) != 0) {
    abort();
  }
  if (strpbrk(p->host, "$, ") != NULL) {
    abort(); /* no template syntax left, no list */
  }
}

static void through_config(const char *regex, const char *tpl, const char *host, size_t hostlen) {
  struct tb_config *c = tb_config_create();
  const struct tb_rule *r = NULL;
  struct tb_captures caps;
  struct tb_peer p;
  char err[512];

  if (c == NULL) {
    return;
  }
  memset(err, 'x', sizeof err);
  if (tb_config_add_rule(c, regex, tpl, "fuzz", err, sizeof err) != 0) {
    check_err(err, sizeof err);
    if (c->nrules != 0 || c->npeers != 0) {
      abort();
    }
    tb_config_destroy(c);
    return;
  }
  if (tb_config_lookup_captures(c, host, hostlen, 443, &r, &caps) == 0 && r != NULL) {
    size_t want = r->ngroups == 0 ? 0 : (r->ngroups < TB_CAPTURE_MAX ? r->ngroups : TB_CAPTURE_MAX) + 1;
    if (caps.n != want) {
      abort();
    }
    for (size_t k = 0; k < caps.n; k++) {
      if (caps.start[k] != TB_CAPTURE_UNSET && (caps.end[k] > hostlen || caps.start[k] > caps.end[k])) {
        abort();
      }
    }
    for (size_t i = 0; i < r->npeers; i++) {
      memset(err, 'x', sizeof err);
      if (tb_config_rule_peer(c, r, i, host, hostlen, &caps, &p, err, sizeof err) == 0) {
        check_peer(&p);
      } else {
        check_err(err, sizeof err);
        if (r->peers[i].tpl == NULL) {
          abort(); /* a configured peer is always there */
        }
      }
    }
    /* the lookup without captures never hands out a template rule */
    const struct tb_rule *plain = NULL;
    int rc = tb_config_lookup_port(c, host, hostlen, 443, &plain);
    if ((r->ntemplates > 0) != (rc != 0) || (rc == 0 && plain != r)) {
      abort();
    }
  }
  tb_config_destroy(c);
}

/* Offsets from the input's bytes, whatever they are. */
static void made_up_captures(const char *tpl, const char *host, size_t hostlen, const uint8_t *data,
                             size_t size) {
  struct tb_captures caps;
  struct tb_peer p;
  char err[512];
  size_t at = 0;

  memset(&caps, 0, sizeof caps);
  caps.n = size > 0 ? data[0] % (TB_CAPTURE_MAX + 2) : 0;
  for (size_t k = 0; k < TB_CAPTURE_MAX + 1; k++) {
    size_t a = at < size ? data[at++] : 0;
    size_t b = at < size ? data[at++] : 0;
    caps.start[k] = a == 255 ? TB_CAPTURE_UNSET : a % (hostlen + 2);
    caps.end[k] = b == 255 ? TB_CAPTURE_UNSET : b % (hostlen + 2);
  }
  memset(err, 'x', sizeof err);
  if (tb_template_expand(tpl, host, hostlen, &caps, &p, err, sizeof err) == 0) {
    check_peer(&p);
  } else {
    check_err(err, sizeof err);
  }
  memset(err, 'x', sizeof err);
  if (tb_template_check(tpl, size > 1 ? data[1] % 12 : 0, err, sizeof err) != 0) {
    check_err(err, sizeof err);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char buf[MAX_INPUT + 3];
  const char *part[3] = {"", "", ""};
  size_t n = 0;

  if (size > MAX_INPUT) {
    return 0;
  }
  memcpy(buf, data, size);
  buf[size] = buf[size + 1] = buf[size + 2] = '\0';
  for (size_t i = 0; i < size + 1 && n < 3;) {
    part[n++] = buf + i;
    i += strlen(buf + i) + 1;
  }
  size_t hostlen = strlen(part[2]);
  through_config(part[0], part[1], part[2], hostlen);
  made_up_captures(part[1], part[2], hostlen, data, size);
  return 0;
}
