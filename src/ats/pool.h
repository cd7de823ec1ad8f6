/*
 * pool: warm links to one peer, opened before any client asks, so that a
 * new tunnel only has to send the client's CONNECT (see link.h).
 *
 * A pool keeps up to `size` open links per event thread that has served a
 * tunnel to its peer, while that peer is in use (a tunnel to it within the
 * last max_age), each replaced after max_age.  A tunnel only takes a link
 * made on its own thread: both PluginVC pairs of a tunnel then live on one
 * thread, where their hand-offs never miss a lock (a miss costs PluginVC a
 * 10 ms retry; a cross-thread tunnel measured 13 MiB/s against 170).
 *
 * Pools are found by peer and settings (tb_pool_get), made on first use and
 * never freed: their number is bounded by the distinct peers and settings
 * ever configured, and an unused pool holds no link after its max age.  The
 * pool owns its warm links; each runs under a mutex of its own.  All
 * functions are thread-safe.
 */
#ifndef TB_POOL_H
#define TB_POOL_H

#include "link.h"
#include "tb_config.h"

struct tb_pool;

struct tb_peer_state;
struct tb_direct;

/* The pool for peer with these settings, made if new; NULL when out of
 * memory.  size is capped at TB_POOL_SIZE_MAX.  state: the peer's health
 * record (peers.h), which its warm-ups report to; may be NULL.  direct:
 * the direct engine's TLS settings (direct.h), NULL for the ats engine;
 * pools are kept per peer and settings, and a pool found again with newer
 * settings of the same key (a reload) warms up with those from then on. */
struct tb_pool *tb_pool_get(const struct tb_peer *peer, struct tb_peer_state *state, unsigned size,
                            unsigned max_age_ms, unsigned connect_timeout_ms, struct tb_direct *direct);

/* The settings warm-ups are judged by (the configuration's health
 * defaults; set at load and reload). */
void tb_pool_health(const struct tb_health_settings *hs);

/* The peer is in use (a CONNECT of one of its rules): keep warming it on
 * the calling thread, even if this CONNECT goes to another of the rule's
 * peers, so that a peer that is down is found when it comes back. */
void tb_pool_touch(struct tb_pool *p);

/* A warm link made on the calling event thread, taken out of the pool, or
 * NULL.  The caller owns it: it must share its mutex (tb_link_mutex) and
 * tb_link_adopt it under that mutex (it may have died meanwhile). */
struct tb_link *tb_pool_take(struct tb_pool *p);

/* Start warming links on the calling thread up to the pool's size (unless
 * the peer is idle or warm-ups are backing off). */
void tb_pool_refill_here(struct tb_pool *p);

/* A client's tunnel got an answer from the peer: warm-ups may start again
 * at once after failures. */
void tb_pool_peer_ok(struct tb_pool *p);

#endif
