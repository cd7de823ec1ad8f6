/*
 * tb_explain: a configuration put in words for people.  What a CONNECT would
 * get (the answer to `traffic_ctl plugin msg tls_bridge match HOST:PORT`,
 * and to tls_bridge_check --match), and a one-line summary of a loaded
 * configuration (tls_bridge_check).  One wording for the plugin and the
 * checker: both call these.
 *
 * Owns nothing; writes into the caller's buffer.  Thread-safe on a built
 * (immutable) tb_config, as its lookups are.
 */
#ifndef TB_EXPLAIN_H
#define TB_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

#include "tb_certnames.h"
#include "tb_config.h"

struct sockaddr;

/* Bytes that hold any explanation or summary in full: the host, the origin
 * and the regex are quoted up to 256, 160 and 512 bytes (4 bytes each at
 * worst, as \xNN), the port list up to 512, TLS paths up to 256 each; only
 * a regex, a port list or a long list of peers is cut (and ends in "..."). */
#define TB_EXPLAIN_MAX 8192

enum tb_explain_result {
  TB_EXPLAIN_FAILED = -1, /* matching itself failed: a CONNECT would be refused (502) */
  TB_EXPLAIN_NO_RULE = 0, /* no rule: left to Traffic Server, or 403 under unmatched deny */
  TB_EXPLAIN_RULE = 1,    /* a rule takes it */
  TB_EXPLAIN_NO_PEER = 2, /* a rule takes it, but none of its peers is valid for this host (a template
                             gave no valid peer): a CONNECT would be refused (502) */
  TB_EXPLAIN_DENIED = 3,  /* a rule takes it and refuses it (403): action deny, or the client given is
                             not in the rule's clients */
};

/* Which rule of c takes a CONNECT to host[0..len):port, and with what, as
 * one line in buf (always NUL-terminated when buflen > 0; cut to fit, ending
 * in "..."):
 *   match HOST:PORT: rule N "ORIGIN" (host 'REGEX', ports PORTS[, configuration G]) -> PEERS[;
 *     health failures F, down_for D ms]; connect_timeout T ms, idle_timeout LIMIT, max_lifetime LIMIT,
 *     client_identity POLICY[; engine ENGINE[: TLS SETTINGS]]
 *   match HOST:PORT: rule N ... -> PEERS; no valid peer for this host: a CONNECT would be refused (502)
 *   match HOST:PORT: no rule[ (configuration G)]: left to Traffic Server | denied (403)
 *   match HOST:PORT: matching failed (PCRE2 limit or out of memory): a CONNECT would be refused (502)
 * (the first on one line) where LIMIT is "N ms", "never" or "unset (Traffic
 * Server's timeouts apply)"; when some rule of c uses engine direct, every
 * rule's answer then ends in its transport, as tb_config_format_transport
 * puts it; and PEERS is "peer P" for one peer, "peers P,
 * Q (BALANCE)" for several (then with the health settings); a peer a
 * template made for this host reads "P (template 'TPL')", a template that
 * gives no valid peer "none (peer template 'TPL' gave 'X': WHY)".
 * generation is the plugin's load number ("configuration G"); 0 leaves it
 * out.  The host, the regex and the origin are quoted as in error messages
 * (tb_text.h).  c must not be NULL.  Returns what the answer was. */
enum tb_explain_result tb_config_explain(const struct tb_config *c, const char *host, size_t len,
                                         unsigned port, uint64_t generation, char *buf, size_t buflen);

/* tb_config_explain for a client at address client (NULL: not known) on an
 * ingress whose rules may be deny rules or have clients lists:
 *   match HOST:PORT: rule N "ORIGIN" (host 'REGEX', ports PORTS[, configuration G]): action deny:
 *     refused (403)
 *   match HOST:PORT: rule N ... -> PEERS; ...; clients NETS: client ADDR refused (403)
 *   match HOST:PORT: rule N ... -> PEERS; ...; clients NETS[: client ADDR allowed]
 * (a rule without a clients list reads as in tb_config_explain).  Returns
 * TB_EXPLAIN_DENIED for the refusals. */
enum tb_explain_result tb_config_explain_client(const struct tb_config *c, const char *host, size_t len,
                                                unsigned port, const struct sockaddr *client,
                                                uint64_t generation, char *buf, size_t buflen);

/* What the peer role's policy of c (c->policy) decides for a client
 * certificate with names and a CONNECT to host[0..len):port, as one line
 * (cut to fit, ending in "..."):
 *   authz NAMES -> HOST:PORT[ (configuration G)]: allowed: policy entry N "ORIGIN" (identity 'REGEX'
 *     matched KIND:NAME), allow target T (host 'REGEX', ports PORTS)
 *   authz ...: refused (403, target_not_allowed): policy entry N ... deny target T (host ..., ports ...)
 *   authz ...: refused (403, target_not_allowed): policy entry N ... allows no target for this host and
 *     port (A allow targets)
 *   authz ...: refused (403, unknown_identity): no policy entry's identity matches
 *   authz ...: matching failed (PCRE2 limit or out of memory): refused (403)
 * where NAMES is tb_certnames_format's.  The decision is tb_policy_decide's
 * (into *out when out is not NULL); returns its result. */
enum tb_authz_result tb_policy_explain(const struct tb_config *c, const struct tb_certnames *names,
                                       const char *host, size_t len, unsigned port, uint64_t generation,
                                       struct tb_authz *out, char *buf, size_t buflen);

/* A policy target as the answers show it, "(host 'REGEX', ports PORTS)",
 * into buf (NUL-terminated, cut to fit).  Returns 0, or -1 when it was cut. */
int tb_policy_format_target(const struct tb_policy_target *t, char *buf, size_t buflen);

/* A loaded configuration in one line (NUL-terminated, cut to fit):
 *   N rules; unmatched CONNECTs left to Traffic Server | denied (403); defaults: connect_timeout T ms,
 *     idle_timeout LIMIT, max_lifetime LIMIT, client_identity POLICY; pool: N warm connections per
 *     peer, max_age T ms | pool: off[; P distinct peers (S rules with several, T with a template);
 *     health: failures F, down_for D ms]
 *     [; engine E by default: R rules direct (T distinct TLS client settings), A ats]
 *     [; access: D deny rules, C rules with a clients list]
 * (the peers part only when some rule has several peers or a template, the
 * engine part only when some transport uses engine direct, the access part
 * only when some rule is a deny rule or has clients), or, in the peer role:
 *   role peer: N policy entries (A allow and D deny targets); CONNECTs over TLS are authorised by the
 *     client certificate's names, others refused (403)
 * Returns 0, or -1 when it was cut. */
int tb_config_describe(const struct tb_config *c, char *buf, size_t buflen);

/* Rule r's transport, into buf (NUL-terminated, cut to fit): "" when no
 * transport of c uses engine direct (the answers then read as before there
 * were engines); else "; engine ats", or "; engine direct: client_cert C,
 * client_key K, ca A, sni S, verify V" where C, K and A are a quoted path or
 * "from Traffic Server's records" (K also "in the client_cert file"), S a
 * quoted name or "the peer's host", V "true", "false" or "from Traffic
 * Server's records".  Returns 0, or -1 when it was cut. */
int tb_config_format_transport(const struct tb_config *c, const struct tb_rule *r, char *buf, size_t buflen);

/* Rule r's peers as configured, into buf (NUL-terminated, cut to fit):
 * "peer P", "peers P, Q (BALANCE)", a template as "template 'TPL'"; a deny
 * rule's "action deny (403)".
 * Returns 0, or -1 when it was cut. */
int tb_config_format_peers(const struct tb_config *c, const struct tb_rule *r, char *buf, size_t buflen);

#endif
