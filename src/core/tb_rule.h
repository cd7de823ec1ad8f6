/*
 * tb_rule: what one configured rule is (the host regex, what it does with
 * a match: bridge it to its peers, balanced as it says, or refuse it; the
 * ports it takes, the clients it serves, its own settings) and the
 * questions a rule answers alone: does it take this port, may this client
 * use it, what is this identity policy or balance called.
 *
 * A struct tb_rule is built and owned by the tb_config that holds it (see
 * tb_config.h); everyone else only reads it.  The functions here own nothing
 * and are thread-safe (no state).
 */
#ifndef TB_RULE_H
#define TB_RULE_H

#include <stddef.h>

#include "tb_cidr.h"
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

/* How a rule with several peers spreads its tunnels (tb_select.h): */
enum tb_balance {
  TB_BALANCE_FAILOVER = 0, /* the first healthy peer in list order (the default) */
  TB_BALANCE_ROUND_ROBIN,  /* the healthy peers in turn */
  TB_BALANCE_HASH,         /* by the CONNECT target (host:port), rendezvous hashing */
};

/* "failover", "round_robin", "hash". */
const char *tb_balance_name(enum tb_balance b);

/* One of those names (exactly) to *out and 0; -1 for anything else, *out
 * untouched. */
int tb_balance_parse(const char *s, enum tb_balance *out);

#define TB_RULE_PEERS_MAX 32 /* peers in one rule: bounds the selection's arrays */

/* Peer health (tb_select.h): after `failures` consecutive failures a peer
 * is down for `down_for_ms` (+-10%), then one trial tunnel is let through. */
#define TB_HEALTH_FAILURES_DEFAULT 3u
#define TB_HEALTH_FAILURES_MAX 100u
#define TB_HEALTH_DOWN_FOR_DEFAULT_MS 10000u
#define TB_HEALTH_DOWN_FOR_MIN_MS 1000u
#define TB_HEALTH_DOWN_FOR_MAX_MS 3600000u

struct tb_health_settings {
  unsigned failures;    /* 1..TB_HEALTH_FAILURES_MAX; in a rule, 0: the configuration's */
  unsigned down_for_ms; /* TB_HEALTH_DOWN_FOR_MIN_MS..MAX_MS; in a rule, 0: the configuration's */
};

/* One of a rule's peers: a configured peer, by its index in the
 * configuration's table of distinct peers (tb_config.h: c->peers), or a
 * template ("gw.site-$2.corp:4443", tb_capture.h) made into a peer for each
 * CONNECT from the host regex's capture groups. */
#define TB_PEER_TEMPLATE ((size_t)-1)

struct tb_rule_peer {
  size_t index; /* into c->peers; TB_PEER_TEMPLATE for a template */
  char *tpl;    /* owned: the template text; NULL for a configured peer */
};

struct tb_port_range {
  unsigned short lo, hi; /* inclusive, 1..65535, lo <= hi */
};

/* What a rule does with a CONNECT it takes: */
enum tb_action {
  TB_ACTION_BRIDGE = 0, /* tunnel it to the rule's peers (the default) */
  TB_ACTION_DENY,       /* refuse it (403) before any later rule sees it; no peers */
};

/* "bridge", "deny". */
const char *tb_action_name(enum tb_action a);

#define TB_RULE_CLIENTS_MAX 256 /* networks in one rule's clients list */

struct tb_rule {
  char *pattern;              /* owned: the regex text as configured */
  void *re;                   /* owned: pcre2_code * (see tb_index.h), opaque to users */
  enum tb_action action;      /* bridge (peers below) or deny (no peers) */
  struct tb_rule_peer *peers; /* owned: where matching CONNECTs go, npeers (1..TB_RULE_PEERS_MAX), in order;
                                 NULL (npeers 0) for a deny rule */
  size_t npeers;
  size_t ntemplates;       /* how many of peers are templates (then the rule is matched for captures) */
  unsigned ngroups;        /* capture groups in the regex (PCRE2_INFO_CAPTURECOUNT) */
  enum tb_balance balance; /* how the peers share the tunnels */
  struct tb_health_settings health; /* overrides; 0 fields: the configuration's (tb_config_health) */
  /* The first peer, as a value, for code that knows one peer per rule (the
   * reference comparison, the glue before peer lists): c->peers[peers[0].index];
   * all zero (host "", port 0) when the first peer is a template. */
  struct tb_peer peer;
  char origin[TB_ORIGIN_MAX];  /* the rule's name, or where it was configured, for messages */
  struct tb_port_range *ports; /* owned; NULL (nports 0): every port */
  size_t nports;
  struct tb_cidr *clients; /* owned; NULL (nclients 0): every client may use the rule */
  size_t nclients;
  /* Overrides of the configuration's defaults; TB_UNSET / TB_IDENTITY_UNSET:
   * not overridden.  Read them through tb_config_settings. */
  unsigned connect_timeout_ms;
  unsigned idle_timeout_ms;
  unsigned max_lifetime_ms;
  enum tb_identity identity;
  size_t transport; /* how it reaches its peers: an index into c->transports (0: the configuration's
                       default); read it through tb_config_transport */
};

/* Does r take CONNECTs to port?  (Every port when r has no port list; none
 * when port is 0, "unknown".)  tb_port_list_ok on r's list. */
int tb_rule_port_ok(const struct tb_rule *r, unsigned port);

/* Is port in ports[0..n)?  (Any port when n is 0; never port 0,
 * "unknown", when there is a list.) */
int tb_port_list_ok(const struct tb_port_range *ports, size_t n, unsigned port);

/* May a client at sa use r?  (Every client when r has no clients list;
 * else sa must be in one of its networks, tb_cidr.h.) */
int tb_rule_client_ok(const struct tb_rule *r, const struct sockaddr *sa);

/* r's clients as the messages show them: "any", or "10.0.0.0/8,2001:db8::/32";
 * cut like tb_rule_format_ports.  Returns 0, or -1 when it was cut. */
int tb_rule_format_clients(const struct tb_rule *r, char *buf, size_t len);

/* r's ports as the messages show them: "any" (no port list), or "443",
 * "443,8000-8999".  Always NUL-terminated when len > 0; a list that does not
 * fit is cut and ends in "...".  Returns 0, or -1 when it was cut. */
int tb_rule_format_ports(const struct tb_rule *r, char *buf, size_t len);

#endif
