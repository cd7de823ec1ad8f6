/*
 * live: the configuration in force, and its replacement on reload.
 *
 * A `struct tb_live` is one loaded configuration (an immutable tb_config) plus
 * the per-rule cache of warm-connection pools that goes with it.  It is
 * reference counted: the plugin holds one reference to the current one, each
 * CONNECT takes one while it is matched, and each tunnel keeps one until it
 * closes, so a tunnel keeps the rule (and settings) it started with across
 * any number of reloads.  The last release frees it on a task thread.
 *
 * A reload (traffic_ctl config reload, or `traffic_ctl plugin msg tls_bridge
 * reload`) builds a new configuration from the plugin.config arguments on a
 * task thread, off the request path, and swaps it in atomically; an invalid
 * one (or one of another role than the process started with) is reported
 * and the running one stays in force.
 *
 * Warm-connection pools are shared across configurations (pool.h); a
 * configuration only caches, per rule, the pool its rule uses.
 */
#ifndef TB_LIVE_H
#define TB_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "tb_config.h"

struct tb_pool;       /* pool.h */
struct tb_direct;     /* direct.h */
struct tb_peer_state; /* peers.h */

struct tb_live;

/* Load the first configuration from plugin.config's arguments (argv[0] is the
 * first argument after the plugin path; they are copied for reloads).
 * Returns 0, or -1 with the reason in err. */
int tb_live_init(int argc, const char *argv[], char *err, size_t errlen);

/* The configuration in force, with a reference the caller must release;
 * NULL before tb_live_init succeeded.  Thread-safe, never blocks for long. */
struct tb_live *tb_live_acquire(void);

/* Drop a reference (NULL is a no-op).  Thread-safe. */
void tb_live_release(struct tb_live *l);

const struct tb_config *tb_live_config(const struct tb_live *l);

/* Which load this is: 1 for the first, +1 per successful reload. */
uint64_t tb_live_generation(const struct tb_live *l);

/* The warm-link pool of peer i of l's configuration (cfg->peers) reached
 * through transport (cfg->transports); NULL when pools are off or out of
 * memory. */
struct tb_pool *tb_live_peer_pool(struct tb_live *l, size_t i, size_t transport);

/* The direct engine's settings for transport of l's configuration; NULL
 * for the ats engine.  Valid while the caller holds l. */
struct tb_direct *tb_live_direct(const struct tb_live *l, size_t transport);

/* The health record of peer i of l's configuration; NULL when there was no
 * room for one. */
struct tb_peer_state *tb_live_peer_state(const struct tb_live *l, size_t i);

/* What the bridge's internal transactions need of Traffic Server's
 * transaction timeouts under l: the no-activity (*idle_s) and active
 * (*active_s) timeouts in seconds, 0 when no rule sets the limit (they are
 * left as they are), TB_ATS_NEVER_S for a rule's 0 ("never"). */
void tb_live_internal_timeouts(const struct tb_live *l, int64_t *idle_s, int64_t *active_s);

/* rule's round-robin turn: 0, 1, 2, ... one per call (rule: one of l's). */
uint64_t tb_live_turn(struct tb_live *l, const struct tb_rule *rule);

/* Ask for a reload; it runs soon on a task thread (why: for the log). */
void tb_live_reload_soon(const char *why);

/* Reload now, in the calling thread (a task thread).  Returns 0 when the new
 * configuration is in force. */
int tb_live_reload(const char *why);

/* Describe, in diags.log (TSNote), what a CONNECT to host:port would do;
 * on a peer-role instance the message is "NAME HOST:PORT": what the policy
 * decides for a client certificate with that name. */
void tb_live_explain(const char *hostport, size_t len);

#endif
