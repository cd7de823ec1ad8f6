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

#include "tb_config.h"

/* Bytes that hold any explanation or summary in full: the host, the origin
 * and the regex are quoted up to 256, 160 and 512 bytes (4 bytes each at
 * worst, as \xNN), the port list up to 512; only a regex or a port list
 * longer than that is cut (and ends in "..."). */
#define TB_EXPLAIN_MAX 8192

enum tb_explain_result {
  TB_EXPLAIN_FAILED = -1, /* matching itself failed: a CONNECT would be refused (502) */
  TB_EXPLAIN_NO_RULE = 0, /* no rule: left to Traffic Server, or 403 under unmatched deny */
  TB_EXPLAIN_RULE = 1,    /* a rule takes it */
};

/* Which rule of c takes a CONNECT to host[0..len):port, and with what, as
 * one line in buf (always NUL-terminated when buflen > 0; cut to fit, ending
 * in "..."):
 *   match HOST:PORT: rule N "ORIGIN" (host 'REGEX', ports PORTS[, configuration G]) -> peer PEER;
 *     connect_timeout T ms, idle_timeout LIMIT, max_lifetime LIMIT, client_identity POLICY
 *   match HOST:PORT: no rule[ (configuration G)]: left to Traffic Server | denied (403)
 *   match HOST:PORT: matching failed (PCRE2 limit or out of memory): a CONNECT would be refused (502)
 * (the first on one line) where LIMIT is "N ms", "never" or "unset (Traffic
 * Server's timeouts apply)".  generation is the plugin's load number
 * ("configuration G"); 0 leaves it out.  The host, the regex and the origin
 * are quoted as in error messages (tb_text.h).  c must not be NULL.  Returns
 * what the answer was. */
enum tb_explain_result tb_config_explain(const struct tb_config *c, const char *host, size_t len,
                                         unsigned port, uint64_t generation, char *buf, size_t buflen);

/* A loaded configuration in one line (NUL-terminated, cut to fit):
 *   N rules; unmatched CONNECTs left to Traffic Server | denied (403); defaults: connect_timeout T ms,
 *     idle_timeout LIMIT, max_lifetime LIMIT, client_identity POLICY; pool: N warm connections per
 *     peer, max_age T ms | pool: off
 * Returns 0, or -1 when it was cut. */
int tb_config_describe(const struct tb_config *c, char *buf, size_t buflen);

#endif
