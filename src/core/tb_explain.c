/*
 * tb_explain: see tb_explain.h.
 *
 * Each text is built by appending to the caller's buffer (struct out); the
 * first piece that does not fit marks the text as cut, and the end of the
 * buffer then reads "...", so a cut answer never passes for a whole one.
 */
#include "tb_explain.h"
#include "tb_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define HOST_QUOTE_MAX 256    /* host bytes shown (a DNS name is at most 253) */
#define PATTERN_QUOTE_MAX 512 /* regex bytes shown */
#define PORTS_MAX 512         /* bytes of port list shown */

struct out {
  char *buf;
  size_t len; /* of buf; 0: nothing is written */
  size_t used;
  int cut;
};

static void out_init(struct out *o, char *buf, size_t len) {
  o->buf = buf;
  o->len = len;
  o->used = 0;
  o->cut = 0;
  if (len > 0) {
    buf[0] = '\0';
  }
}

/* Where the next piece goes, and the room for it: none once cut. */
static char *out_at(const struct out *o) {
  return o->len > 0 ? o->buf + o->used : NULL;
}

static size_t out_room(const struct out *o) {
  return o->cut || o->len == 0 ? 0 : o->len - o->used;
}

/* Account for a piece snprintf wrote (n: what it wanted to write). */
static void out_step(struct out *o, int n) {
  if (o->cut) {
    return;
  }
  if (n < 0 || o->len == 0 || (size_t)n >= o->len - o->used) {
    o->cut = 1;
    if (o->len > 0) {
      o->used = o->len - 1;
    }
    if (o->len >= 4) {
      memcpy(o->buf + o->len - 4, "...", 4);
    }
    return;
  }
  o->used += (size_t)n;
}

/* Append printf-style; the format stays a literal at each call, checked by
 * -Wformat. */
#define PUT(o, ...) out_step((o), snprintf(out_at(o), out_room(o), __VA_ARGS__))

/* idle_timeout / max_lifetime in words: "30000 ms", "never", or "unset
 * (Traffic Server's timeouts apply)" (see struct tb_settings). */
static void put_limit(struct out *o, unsigned ms) {
  if (ms == TB_UNSET) {
    PUT(o, "unset (Traffic Server's timeouts apply)");
  } else if (ms == 0) {
    PUT(o, "never");
  } else {
    PUT(o, "%u ms", ms);
  }
}

/* "connect_timeout T ms, idle_timeout ..., max_lifetime ..., client_identity P" */
static void put_settings(struct out *o, const struct tb_settings *s) {
  PUT(o, "connect_timeout %u ms, idle_timeout ", s->connect_timeout_ms);
  put_limit(o, s->idle_timeout_ms);
  PUT(o, ", max_lifetime ");
  put_limit(o, s->max_lifetime_ms);
  PUT(o, ", client_identity %s", tb_identity_name(s->identity));
}

static void put_rule(struct out *o, const struct tb_config *c, const struct tb_rule *r, uint64_t generation) {
  char origin[TB_QUOTE_SIZE(TB_ORIGIN_MAX)];
  char pattern[TB_QUOTE_SIZE(PATTERN_QUOTE_MAX)];
  char ports[PORTS_MAX];
  char peer[TB_PEER_TEXT_MAX];
  struct tb_settings s;

  tb_text_quote(origin, sizeof origin, r->origin, strlen(r->origin), TB_ORIGIN_MAX);
  tb_text_quote(pattern, sizeof pattern, r->pattern, strlen(r->pattern), PATTERN_QUOTE_MAX);
  (void)tb_rule_format_ports(r, ports, sizeof ports); /* a cut list ends in "..." */
  if (tb_peer_format(&r->peer, peer, sizeof peer) < 0) {
    snprintf(peer, sizeof peer, "%s", r->peer.host); /* cannot happen: TB_PEER_TEXT_MAX always fits */
  }
  tb_config_settings(c, r, &s);
  PUT(o, "rule %zu \"%s\" (host '%s', ports %s", (size_t)(r - c->rules) + 1, origin, pattern, ports);
  if (generation != 0) {
    PUT(o, ", configuration %" PRIu64, generation);
  }
  PUT(o, ") -> peer %s; ", peer);
  put_settings(o, &s);
}

enum tb_explain_result tb_config_explain(const struct tb_config *c, const char *host, size_t len,
                                         unsigned port, uint64_t generation, char *buf, size_t buflen) {
  char h[TB_QUOTE_SIZE(HOST_QUOTE_MAX)];
  const struct tb_rule *r = NULL;
  struct out o;

  out_init(&o, buf, buflen);
  tb_text_quote(h, sizeof h, host, len, HOST_QUOTE_MAX);
  PUT(&o, "match %s:%u: ", h, port);
  if (tb_config_lookup_port(c, host, len, port, &r) != 0) {
    PUT(&o, "matching failed (PCRE2 limit or out of memory): a CONNECT would be refused (502)");
    return TB_EXPLAIN_FAILED;
  }
  if (r == NULL) {
    PUT(&o, "no rule");
    if (generation != 0) {
      PUT(&o, " (configuration %" PRIu64 ")", generation);
    }
    PUT(&o, ": %s", c->deny_unmatched ? "denied (403)" : "left to Traffic Server");
    return TB_EXPLAIN_NO_RULE;
  }
  put_rule(&o, c, r, generation);
  return TB_EXPLAIN_RULE;
}

int tb_config_describe(const struct tb_config *c, char *buf, size_t buflen) {
  const struct tb_settings defaults = {c->connect_timeout_ms, c->idle_timeout_ms, c->max_lifetime_ms,
                                       c->identity};
  struct out o;

  out_init(&o, buf, buflen);
  PUT(&o, "%zu rule%s; unmatched CONNECTs %s; defaults: ", c->nrules, c->nrules == 1 ? "" : "s",
      c->deny_unmatched ? "denied (403)" : "left to Traffic Server");
  put_settings(&o, &defaults);
  if (c->pool_size == 0) {
    PUT(&o, "; pool: off");
  } else {
    PUT(&o, "; pool: %u warm connection%s per peer, max_age %u ms", c->pool_size,
        c->pool_size == 1 ? "" : "s", c->pool_max_age_ms);
  }
  return o.cut ? -1 : 0;
}
