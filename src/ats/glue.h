/*
 * glue: what every file of the ATS glue shares: the Traffic Server API (as
 * ts_api.h gives it, for ATS 9.2 or 10), the plugin's tag, ids, a monotonic clock in milliseconds, event
 * names for messages, and debug output that costs a format only when the tag is on.
 *
 * No state but an id counter; everything here is thread-safe.
 */
#ifndef TB_GLUE_H
#define TB_GLUE_H

#include <stdint.h>

#include "tb_peer.h"
#include "tb_resp.h"
#include "ts_api.h"

/* Traffic Server's per-transaction timeouts set to "never" in its own
 * terms: ten years, in seconds.  (0 would not do: a connection without an
 * inactivity timeout gets proxy.config.net.default_inactivity_timeout.) */
#define TB_ATS_NEVER_S (10LL * 365 * 24 * 3600)

/* Milliseconds on a monotonic clock. */
int64_t tb_now_ms(void);

/* A new id for a tunnel or a connection (1, 2, ...), for logs and debug
 * lines; also the plugin id of the internal transaction. */
uint64_t tb_next_id(void);

/* "VCONN_READ_READY" and the like; "event <n>" (in buf) for others. */
const char *tb_event_name(TSEvent event, char *buf, size_t len);

/* Feed r the bytes of rd after the first *parsed (those it has seen),
 * adding what it took to *parsed: for a header that arrives in pieces. */
enum tb_resp_result tb_resp_feed(struct tb_resp *r, TSIOBufferReader rd, int64_t *parsed);

/* A timer of one's own: a continuation (under a given mutex) and its one
 * pending action.  Arm and stop it under that mutex; free it with
 * tb_timer_fini. */
struct tb_timer {
  TSCont cont;     /* owned */
  TSAction action; /* pending, or NULL */
};

/* fn gets TS_EVENT_TIMEOUT (or IMMEDIATE) with TSContDataGet(cont) == data. */
void tb_timer_init(struct tb_timer *tm, TSEventFunc fn, TSMutex mutex, void *data);
/* (Re)arm: fire in ms from now on a net thread, or on thread th when set. */
void tb_timer_arm(struct tb_timer *tm, int64_t ms, TSEventThread th);
void tb_timer_stop(struct tb_timer *tm);
/* Stop and destroy; the handler may be the caller. */
void tb_timer_fini(struct tb_timer *tm);

/* Debug lines: formatted only when `proxy.config.diags.debug.tags` has the
 * plugin's tag. */
#define TB_DEBUG_ON() TB_DEBUG_ENABLED()
#define TB_DEBUG(...)                                                                                        \
  do {                                                                                                       \
    if (TB_DEBUG_ENABLED()) {                                                                                \
      tb_debug(__VA_ARGS__);                                                                                 \
    }                                                                                                        \
  } while (0)

#endif
