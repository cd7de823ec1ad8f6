/*
 * tb_rule: what one configured rule is (the host regex, the peer, the ports
 * it takes, its own settings) and the questions a rule answers alone: does it
 * take this port, what is this identity policy called.
 *
 * A struct tb_rule is built and owned by the tb_config that holds it (see
 * tb_config.h); everyone else only reads it.  The functions here own nothing
 * and are thread-safe (no state).
 */
#ifndef TB_RULE_H
#define TB_RULE_H

#include <stddef.h>

#include "tb_peer.h"

#define TB_ORIGIN_MAX 160    /* "plugin.config argument 3" or "/path/rules.conf:12" */
#define TB_UNSET 0xffffffffu /* a setting nobody gave a value (see tb_config.h for each) */

/* What the ingress tells the peer about the client, in the CONNECT it
 * forwards: */
enum tb_identity {
  TB_IDENTITY_UNSET = 0, /* (rules only) the configuration's default */
  TB_IDENTITY_KEEP,      /* whatever Traffic Server adds (Client-ip, X-Forwarded-For per records) */
  TB_IDENTITY_STRIP,     /* no client identity headers at all */
  TB_IDENTITY_FORWARDED, /* only "Forwarded: for=<client address>" (RFC 7239) */
};

/* "keep", "strip", "forwarded" (UNSET: "default"). */
const char *tb_identity_name(enum tb_identity id);

/* "keep", "strip" or "forwarded" (exactly) to *out and 0; -1 for anything
 * else, *out untouched. */
int tb_identity_parse(const char *s, enum tb_identity *out);

struct tb_port_range {
  unsigned short lo, hi; /* inclusive, 1..65535, lo <= hi */
};

struct tb_rule {
  char *pattern;               /* owned: the regex text as configured */
  void *re;                    /* owned: pcre2_code * (see tb_index.h), opaque to users */
  struct tb_peer peer;         /* where matching CONNECTs go */
  char origin[TB_ORIGIN_MAX];  /* the rule's name, or where it was configured, for messages */
  struct tb_port_range *ports; /* owned; NULL (nports 0): every port */
  size_t nports;
  /* Overrides of the configuration's defaults; TB_UNSET / TB_IDENTITY_UNSET:
   * not overridden.  Read them through tb_config_settings. */
  unsigned connect_timeout_ms;
  unsigned idle_timeout_ms;
  unsigned max_lifetime_ms;
  enum tb_identity identity;
};

/* Does r take CONNECTs to port?  (Every port when r has no port list; none
 * when port is 0, "unknown".) */
int tb_rule_port_ok(const struct tb_rule *r, unsigned port);

/* r's ports as the messages show them: "any" (no port list), or "443",
 * "443,8000-8999".  Always NUL-terminated when len > 0; a list that does not
 * fit is cut and ends in "...".  Returns 0, or -1 when it was cut. */
int tb_rule_format_ports(const struct tb_rule *r, char *buf, size_t len);

#endif
