/*
 * tb_config: the rule store.  A configuration is the bridge's rules, in
 * configuration order, and the defaults they fall back on.  The front ends
 * fill it (tb_args: plugin.config arguments; tb_rulefile: rule files;
 * tb_yaml: the YAML file) through tb_config_add and the option fields; the
 * glue asks it which rule takes a CONNECT (tb_config_lookup_port, matched by
 * tb_index) and what applies to that rule (tb_config_settings).
 *
 * The config owns its rules, their pattern strings, port lists and compiled
 * regexes, and the index over them; only this module writes into a struct
 * tb_rule.  A built tb_config is immutable and may be shared by any number
 * of threads; the lookups and tb_config_settings are thread-safe.  Building
 * (create, the _add calls, the option fields, undo) is not.
 */
#ifndef TB_CONFIG_H
#define TB_CONFIG_H

#include <stddef.h>

#include "tb_rule.h"

#define TB_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define TB_DEFAULT_POOL_SIZE 2u           /* warm connections per peer in use */
#define TB_DEFAULT_POOL_MAX_AGE_MS 30000u /* a warm connection is retired after this */
#define TB_POOL_SIZE_MAX 64u              /* the one limit on warm connections per peer, core and glue */
#define TB_TIMEOUT_MAX_S 3600u            /* connect timeout, pool max age */
#define TB_LIFETIME_MAX_S 2000000u        /* idle timeout, lifetime: fits in unsigned milliseconds */

struct tb_index;

/*
 * The settings a rule may override, and what each means when unset:
 *   connect_timeout_ms: the set-up deadline per tunnel (until the peer's
 *     answer).  Always set in a configuration (default 10 s).
 *   idle_timeout_ms: end a tunnel with no bytes either way for this long.
 *   max_lifetime_ms: end a tunnel this long after it started, busy or not.
 *     For these two, TB_UNSET means the plugin sets no limit and ATS's own
 *     transaction timeouts apply; a set value, 0 ("never") included, means
 *     the plugin governs and ATS's transaction timeouts are lifted.  Both
 *     start unset in a configuration.
 *   identity: the client identity policy.  Always set in a configuration
 *     (default keep).
 * In a rule or a tb_rule_spec, TB_UNSET / TB_IDENTITY_UNSET mean "the
 * configuration's".
 */
struct tb_settings {
  unsigned connect_timeout_ms;
  unsigned idle_timeout_ms;
  unsigned max_lifetime_ms;
  enum tb_identity identity;
};

/* An initializer for a struct tb_settings that sets nothing. */
#define TB_SETTINGS_UNSET                                                                                    \
  { TB_UNSET, TB_UNSET, TB_UNSET, TB_IDENTITY_UNSET }

struct tb_config {
  struct tb_rule *rules; /* owned array, nrules used, in configuration order */
  size_t nrules;
  size_t cap;
  unsigned connect_timeout_ms; /* set-up deadline per tunnel (peer answer) */
  unsigned pool_size;          /* warm connections kept per peer (0: none) */
  unsigned pool_max_age_ms;    /* age at which a warm connection is replaced */
  unsigned idle_timeout_ms;    /* TB_UNSET (at first), 0: never, else ms: see struct tb_settings */
  unsigned max_lifetime_ms;    /* TB_UNSET (at first), 0: never, else ms: see struct tb_settings */
  enum tb_identity identity;   /* client identity policy (never UNSET here) */
  int deny_unmatched;          /* CONNECTs that match no rule: 0 left to ATS, 1 answered 403 */
  struct tb_index *index;      /* owned: lookup tables over the rules; NULL: lost (out of memory) */
};

/* A rule as a front end hands it to tb_config_add.  Nothing in it is kept:
 * the config copies the strings and the port list it needs. */
struct tb_rule_spec {
  const char *pattern;               /* the host regex (PCRE2, see tb_index.h) */
  const char *peer;                  /* "host", "host:port", "[v6]:port" (tb_peer.h) */
  const char *origin;                /* where it was configured: prefixes messages about it */
  const char *name;                  /* kept as the rule's origin; NULL: origin (cut to TB_ORIGIN_MAX) */
  const struct tb_port_range *ports; /* each 1 <= lo <= hi; NULL with nports 0: every port */
  size_t nports;
  struct tb_settings settings; /* the rule's own; TB_UNSET / TB_IDENTITY_UNSET: the configuration's */
};

/* Allocate an empty configuration with the defaults above; NULL when out of
 * memory. */
struct tb_config *tb_config_create(void);

/* Free c and everything it owns.  NULL is a no-op. */
void tb_config_destroy(struct tb_config *c);

/* Parse the peer, compile the pattern, copy the rest and append the rule.
 * Returns 0, or -1 with "<origin>: <what is wrong>" in err and c as it was. */
int tb_config_add(struct tb_config *c, const struct tb_rule_spec *spec, char *err, size_t errlen);

/* tb_config_add with every port, no name and no settings of its own. */
int tb_config_add_rule(struct tb_config *c, const char *pattern, const char *peer, const char *origin,
                       char *err, size_t errlen);

/* Make each setting s gives a value (not TB_UNSET / TB_IDENTITY_UNSET) c's
 * default; the others stay as they are. */
void tb_config_set_defaults(struct tb_config *c, const struct tb_settings *s);

/* Put c back as it was when *saved was copied from it (struct assignment):
 * the rules added since dropped, the option fields restored.  Only saved's
 * nrules and option fields are read. */
void tb_config_undo(struct tb_config *c, const struct tb_config *saved);

/* What every configuration needs before it may be put in force, beyond what
 * each front end checks: at least one rule (a bridge with none would bridge
 * nothing, silently).  Returns 0, or -1 with "no rules (expected ...)" in
 * err.  tb_config_load_plugin_args (tb_args.h) calls it: the plugin and
 * tls_bridge_check refuse the same configurations. */
int tb_config_check_loaded(const struct tb_config *c, char *err, size_t errlen);

/* A rule's effective settings: its overrides, else the defaults of c (so
 * idle_timeout_ms and max_lifetime_ms may be TB_UNSET, see above). */
void tb_config_settings(const struct tb_config *c, const struct tb_rule *r, struct tb_settings *out);

/* Find the first rule of c taking host[0..len) and port, as
 * tb_index_lookup does (anchored, caseless, one trailing dot ignored; port
 * 0: unknown, only rules without a port list apply): sets *rule to it, or
 * to NULL when no rule matches (or c is NULL), and returns 0.  Returns -1
 * (and *rule NULL) when matching itself failed (out of memory, a PCRE2
 * resource limit hit by a pathological regex): the caller must not treat
 * that as "no rule", or traffic meant for a peer could go elsewhere.
 * Thread-safe. */
int tb_config_lookup_port(const struct tb_config *c, const char *host, size_t len, unsigned port,
                          const struct tb_rule **rule);

/* tb_config_lookup_port with port 0. */
int tb_config_lookup(const struct tb_config *c, const char *host, size_t len, const struct tb_rule **rule);

/* tb_config_lookup's rule, or NULL for no match and for a failure. */
const struct tb_rule *tb_config_match(const struct tb_config *c, const char *host, size_t len);

#endif
