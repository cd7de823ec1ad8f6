/*
 * peers: the peers this ingress bridges to and their health (tb_select.h):
 * one record per distinct peer (host and port, as tb_peer_same compares
 * them), kept across reloads, so that a peer marked down stays down when the
 * configuration is reloaded and the listing keeps its history.
 *
 * Configured peers (c->peers of a loaded configuration) get metrics of
 * their own, plugin.tls_bridge.peer.<host>_<port>.*; peers that only a
 * template makes get a record too (up to PEERS_MAX in all, see peers.c),
 * without metrics.  Records are never freed: their number is bounded.
 *
 * Thread-safe: every record is under one lock, held for microseconds and
 * never while calling into ATS (state changes are logged after it is
 * released).
 */
#ifndef TB_PEERS_H
#define TB_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "glue.h"
#include "tb_config.h"
#include "tb_select.h"

struct tb_peer_state;

/* Records (and metrics) for every peer of c.  At load and reload. */
void tb_peers_register(const struct tb_config *c);

/* The record of p, made if new and create is set and there is room; NULL
 * otherwise (the peer then has no health: always tried). */
struct tb_peer_state *tb_peers_find(const struct tb_peer *p, bool create);

/* "host:port" of st. */
const char *tb_peers_name(const struct tb_peer_state *st);

/* The order in which to try peers cand[0..n) (cand[i].health is
 * tb_peers_health of its record, or NULL): tb_select_order under the lock,
 * at the current time. */
void tb_peers_order(enum tb_balance balance, const struct tb_candidate *cand, size_t n, const char *host,
                    size_t len, unsigned port, uint64_t turn, struct tb_selection *out);

/* The health record inside st, for a tb_candidate (read only under the
 * lock, by tb_peers_order). */
struct tb_health *tb_peers_health(struct tb_peer_state *st);

/* Before an attempt at st's peer: tb_health_begin under the lock (st NULL:
 * TB_ATTEMPT_GO), and the attempt counted. */
enum tb_attempt tb_peers_begin(struct tb_peer_state *st, unsigned lease_ms, int all_down);

/* What an attempt (or a warm-up, from_pool) at st's peer came to: an
 * answer (ok), or a failure of this cause, judged by hs.  Marks the peer
 * down or up as tb_health_* says, and logs the change (TSNote). */
void tb_peers_report(struct tb_peer_state *st, const struct tb_health_settings *hs, bool ok,
                     enum tb_cause cause, bool from_pool);

/* A warm link that stayed open on the ats engine (TCP is up; whether TLS is
 * up ATS does not say): a success, unless the peer's current failures are
 * timeouts, which a peer that accepts TCP and never answers TLS also gives,
 * so its open links say nothing.  A peer killed (refused, closed) that comes
 * back is found this way; a stalling one is not taken for alive. */
void tb_peers_report_steady(struct tb_peer_state *st, const struct tb_health_settings *hs);

/* A trial this tunnel held ended without a verdict. */
void tb_peers_abandon(struct tb_peer_state *st);

/* One more (delta 1) or one less (-1) open tunnel to st's peer. */
void tb_peers_tunnels(struct tb_peer_state *st, int delta);

/* `plugin msg tls_bridge drain|undrain PEER`: on 1 start draining the peer
 * named host:port (as configured), on 0 stop.  Writes what happened (or why
 * not) to diags.log. */
void tb_peers_drain(const char *name, size_t len, int on);

/* `plugin msg tls_bridge peers`: one line per peer (TSNote). */
void tb_peers_dump(void);

#endif
