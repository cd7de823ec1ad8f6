/*
 * tb_config: the rule store.  A configuration is the bridge's rules, in
 * configuration order, the distinct peers they name, and the defaults they
 * fall back on.  The front ends fill it (tb_args: plugin.config arguments;
 * tb_rulefile: rule files; tb_yaml: the YAML file) through tb_config_add
 * and the option fields; the glue asks it which rule takes a CONNECT
 * (tb_config_lookup_captures, matched by tb_index), which peers that rule
 * offers for that CONNECT (tb_config_rule_peer) and what applies to it
 * (tb_config_settings, tb_config_health).
 *
 * A peer-role configuration holds no rules but a policy (tb_policy.h),
 * which the YAML front end fills; everything below about rules is the
 * ingress role's.
 *
 * Peers are interned: two rules that name the same host and port (as
 * tb_peer_same has it) share one entry of c->peers, and a rule holds
 * indexes into it, so the glue can keep one health record per distinct
 * peer (c->npeers of them, tb_select.h).  A peer template (tb_capture.h) is
 * not in the table: what it names is known only per CONNECT.
 *
 * Transports (tb_transport.h: the engine, and the direct engine's TLS
 * settings) are interned too, so that the glue can make one TLS client
 * context per distinct set of settings: c->transports[0] is the
 * configuration's default, which a rule added without a transport of its
 * own uses (tb_config_set_transport may change it later, and --engine
 * anywhere on the plugin.config line then applies to every rule); a rule
 * given its own shares an entry with the rules whose own is the same
 * (tb_transport_same), never the default's.  tb_config_transport gives a
 * rule's.
 *
 * The config owns its rules, their pattern strings, peer lists, templates,
 * port lists and compiled regexes, the tables of distinct peers and
 * transports (and the transports' strings), and the index over the rules;
 * only this module writes into a struct tb_rule or c->transports.  A built
 * tb_config is immutable and may be shared by any number of threads; the
 * lookups, tb_config_rule_peer, tb_config_find_peer, tb_config_settings,
 * tb_config_health and tb_config_transport are thread-safe.  Building
 * (create, the _add and _set calls, the option fields, undo) is not.
 */
#ifndef TB_CONFIG_H
#define TB_CONFIG_H

#include <stddef.h>

#include "tb_capture.h"
#include "tb_hashix.h"
#include "tb_policy.h"
#include "tb_rule.h"
#include "tb_transport.h"

#define TB_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define TB_DEFAULT_POOL_SIZE 2u           /* warm connections per peer in use */
#define TB_DEFAULT_POOL_MAX_AGE_MS 30000u /* a warm connection is retired after this */
#define TB_POOL_SIZE_MAX 64u              /* the one limit on warm connections per peer, core and glue */
#define TB_TIMEOUT_MAX_S 3600u            /* connect timeout, pool max age */
#define TB_LIFETIME_MAX_S 2000000u        /* idle timeout, lifetime: fits in unsigned milliseconds */

struct tb_index;

/* Which side of the bridge a configuration is for (docs/configuration.md):
 * the ingress bridges CONNECTs to peers by its rules; the peer authorises
 * the CONNECTs that arrive from ingresses by its policy (tb_policy.h). */
enum tb_role {
  TB_ROLE_INGRESS = 0, /* rules; no policy (the default, and always for plugin.config arguments) */
  TB_ROLE_PEER,        /* a policy; no rules */
};

/* "ingress", "peer". */
const char *tb_role_name(enum tb_role role);

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
  enum tb_role role;        /* ingress: rules below; peer: policy (and no rules) */
  struct tb_policy *policy; /* owned; NULL in the ingress role */
  struct tb_rule *rules;    /* owned array, nrules used, in configuration order */
  size_t nrules;
  size_t cap;
  unsigned connect_timeout_ms; /* set-up deadline per tunnel (peer answer) */
  unsigned pool_size;          /* warm connections kept per peer (0: none) */
  unsigned pool_max_age_ms;    /* age at which a warm connection is replaced */
  unsigned idle_timeout_ms;    /* TB_UNSET (at first), 0: never, else ms: see struct tb_settings */
  unsigned max_lifetime_ms;    /* TB_UNSET (at first), 0: never, else ms: see struct tb_settings */
  enum tb_identity identity;   /* client identity policy (never UNSET here) */
  int deny_unmatched;          /* CONNECTs that match no rule: 0 left to ATS, 1 answered 403 */
  unsigned health_failures;    /* default for rules: consecutive failures that mark a peer down */
  unsigned health_down_for_ms; /* default for rules: how long a peer stays down before a trial */
  struct tb_peer *peers;       /* owned array: the distinct peers rules name, npeers, in order of first use */
  size_t npeers;
  size_t peers_cap;
  struct tb_hashix peer_ix;        /* owned: finds a peer in peers */
  struct tb_transport *transports; /* owned array, ntransports (>= 1): the distinct transports rules use,
                                      [0] the default (see above), the others in order of first use */
  size_t ntransports;
  size_t transports_cap;
  struct tb_hashix transport_ix; /* owned: finds a rule's own transport in transports[1..] */
  /* transports[0] again, its strings shared (owned there): in the struct
   * itself so that a copy of *c taken for tb_config_undo keeps the default
   * as it was (the array is shared with the copy).  Only tb_config writes
   * it, always with transports[0]. */
  struct tb_transport transport0;
  struct tb_index *index; /* owned: lookup tables over the rules; NULL: lost (out of memory) */
};

/* A rule as a front end hands it to tb_config_add.  Nothing in it is kept:
 * the config copies the strings and the port list it needs.  Fields left
 * zero (a designated initializer) mean: one peer (peer), failover, the
 * configuration's health settings. */
struct tb_rule_spec {
  const char *pattern;               /* the host regex (PCRE2, see tb_index.h) */
  const char *peer;                  /* "host", "host:port", "[v6]:port" (tb_peer.h), or a template
                                        (tb_capture.h); NULL when peers is given */
  const char *origin;                /* where it was configured: prefixes messages about it */
  const char *name;                  /* kept as the rule's origin; NULL: origin (cut to TB_ORIGIN_MAX) */
  const struct tb_port_range *ports; /* each 1 <= lo <= hi; NULL with nports 0: every port */
  size_t nports;
  struct tb_settings settings; /* the rule's own; TB_UNSET / TB_IDENTITY_UNSET: the configuration's */
  const char *const *peers;    /* instead of peer: npeers (1..TB_RULE_PEERS_MAX) peers or templates */
  size_t npeers;
  const char *const *peer_origins;      /* NULL, or one per peer: prefixes messages about that peer
                                           (else origin does) */
  enum tb_balance balance;              /* 0: failover */
  struct tb_health_settings health;     /* the rule's own; 0 fields: the configuration's */
  const struct tb_transport *transport; /* the rule's own (engine set; copied), or NULL: the
                                           configuration's default, c->transports[0] */
  enum tb_action action;                /* 0: bridge; TB_ACTION_DENY: no peer or peers may be given */
  const struct tb_cidr *clients;        /* the clients that may use the rule; NULL with nclients 0: any
                                           (1..TB_RULE_CLIENTS_MAX; not with action deny) */
  size_t nclients;
};

/* Allocate an empty configuration with the defaults above; NULL when out of
 * memory. */
struct tb_config *tb_config_create(void);

/* Free c and everything it owns.  NULL is a no-op. */
void tb_config_destroy(struct tb_config *c);

/* Parse the peer, compile the pattern, copy the rest and append the rule.
 * Returns 0, or -1 with "<origin>: <what is wrong>" in err and c as it was. */
int tb_config_add(struct tb_config *c, const struct tb_rule_spec *spec, char *err, size_t errlen);

/* tb_config_add with every port, no name and no settings of its own; peer
 * may be a comma-separated failover list ("a:4443,b:4443", the form of
 * plugin.config arguments and rule files), refused with "<origin>: peer
 * list '...': peer N is empty" for an empty entry. */
int tb_config_add_rule(struct tb_config *c, const char *pattern, const char *peer, const char *origin,
                       char *err, size_t errlen);

/* Make each setting s gives a value (not TB_UNSET / TB_IDENTITY_UNSET) c's
 * default; the others stay as they are. */
void tb_config_set_defaults(struct tb_config *c, const struct tb_settings *s);

/* Make a copy of t c's default transport, c->transports[0]: the one every
 * rule added without a transport of its own uses, those added before
 * included.  Returns 0, or -1 with "<origin>: <what is wrong>" in err and c
 * as it was: t is not valid (tb_transport_problem), out of memory, or the
 * default already holds TLS settings (they are set once, from a YAML
 * file's tls mapping: a copy of *c taken for tb_config_undo must never
 * hold a string freed since). */
int tb_config_set_transport(struct tb_config *c, const struct tb_transport *t, const char *origin, char *err,
                            size_t errlen);

/* Rule r's transport: c->transports[r->transport] (engine never UNSET).
 * Thread-safe. */
const struct tb_transport *tb_config_transport(const struct tb_config *c, const struct tb_rule *r);

/* Put c back as it was when *saved was copied from it (struct assignment):
 * the rules added since dropped, with the peers and transports first named
 * by them, the option fields and the default transport restored, a policy
 * made since destroyed.  Only saved's counts, option fields, transport0 and
 * policy are read. */
void tb_config_undo(struct tb_config *c, const struct tb_config *saved);

/* What every configuration needs before it may be put in force, beyond what
 * each front end checks: in the ingress role at least one rule (a bridge
 * with none would bridge nothing, silently); in the peer role a policy of
 * at least one entry.  Returns 0, or -1 with "no rules (expected ...)" or
 * "no policy (...)" in err.  tb_config_load_plugin_args (tb_args.h) calls it: the plugin and
 * tls_bridge_check refuse the same configurations. */
int tb_config_check_loaded(const struct tb_config *c, char *err, size_t errlen);

/* A rule's effective settings: its overrides, else the defaults of c (so
 * idle_timeout_ms and max_lifetime_ms may be TB_UNSET, see above). */
void tb_config_settings(const struct tb_config *c, const struct tb_rule *r, struct tb_settings *out);

/* A rule's effective health settings: its overrides, else c's defaults
 * (both fields always set).  Health is kept per distinct peer, but judged
 * with the settings of the rule whose tunnel reports (tb_select.h). */
void tb_config_health(const struct tb_config *c, const struct tb_rule *r, struct tb_health_settings *out);

/* Peer i (< r->npeers) of rule r of c for a CONNECT to host[0..len) whose
 * match gave caps (tb_config_lookup_captures): a configured peer as it is
 * (c->peers[r->peers[i].index]; host and caps unused), a template made into
 * a peer (tb_template_expand).  Returns 0 with the peer in *out, or -1 with
 * 'rule N "ORIGIN": peer template ...' in err: the CONNECT must not go to
 * that peer.  Thread-safe. */
int tb_config_rule_peer(const struct tb_config *c, const struct tb_rule *r, size_t i, const char *host,
                        size_t len, const struct tb_captures *caps, struct tb_peer *out, char *err,
                        size_t errlen);

/* The index in c->peers of the peer tb_peer_same calls p, or SIZE_MAX when
 * no rule names it (for a peer a template made: it shares the health record
 * of the configured peer it equals).  Thread-safe. */
size_t tb_config_find_peer(const struct tb_config *c, const struct tb_peer *p);

/* Find the first rule of c taking host[0..len) and port, as
 * tb_index_lookup does (anchored, caseless, one trailing dot ignored; port
 * 0: unknown, only rules without a port list apply): sets *rule to it, or
 * to NULL when no rule matches (or c is NULL), and returns 0, with the
 * rule's capture groups in *caps (caps->n 0 when it has none; see
 * tb_index_lookup_captures).  Returns -1 (and *rule NULL) when matching
 * itself failed (out of memory, a PCRE2 resource limit hit by a
 * pathological regex): the caller must not treat that as "no rule", or
 * traffic meant for a peer could go elsewhere.  Thread-safe. */
int tb_config_lookup_captures(const struct tb_config *c, const char *host, size_t len, unsigned port,
                              const struct tb_rule **rule, struct tb_captures *caps);

/* tb_config_lookup_captures for callers that take no captures.  A rule
 * with a peer template cannot be served without them: when one matches,
 * this returns -1 (and *rule NULL), as for a failed match, so that such a
 * caller refuses the CONNECT rather than send it to a peer it cannot name.
 * Thread-safe. */
int tb_config_lookup_port(const struct tb_config *c, const char *host, size_t len, unsigned port,
                          const struct tb_rule **rule);

/* tb_config_lookup_port with port 0. */
int tb_config_lookup(const struct tb_config *c, const char *host, size_t len, const struct tb_rule **rule);

/* tb_config_lookup's rule, or NULL for no match and for a failure. */
const struct tb_rule *tb_config_match(const struct tb_config *c, const char *host, size_t len);

#endif
