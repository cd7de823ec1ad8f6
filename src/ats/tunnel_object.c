/* tunnel_object: see tunnel_object.h. */
#include "tunnel_object.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"
#include "peers.h"
#include "tunnel_log.h"

#define TUNNEL_DEAD 0xdeadbeefu
#define MSG_MAX 512

const char *const tb_phase_names[TB_PH_COUNT] = {"accept",   "peer-open", "peer-answer",
                                                 "handover", "tunnel",    "refuse"};

struct tb_tunnel *tb_tunnel_create(TSMutex mutex, TSEventFunc on_event, TSEventFunc on_setup,
                                   TSEventFunc on_nudge, TSHttpTxn txn, struct tb_live *live,
                                   const struct tb_rule *rule, const struct tb_settings *s, const char *host,
                                   int host_len, int port, const struct tb_plan *plan) {
  struct tb_tunnel *t = calloc(1, sizeof *t);
  if (t == NULL) {
    return NULL;
  }
  t->plan = *plan;
  struct tb_try *first = tb_plan_current(&t->plan);
  t->peer_text = first != NULL ? first->name : "-";
  t->magic = TB_TUNNEL_MAGIC;
  t->id = tb_next_id();
  t->cont = TSContCreate(on_event, mutex);
  TSContDataSet(t->cont, t);
  tb_timer_init(&t->setup, on_setup, mutex, t);
  tb_timer_init(&t->nudge, on_nudge, mutex, t);
  tb_pump_init(&t->pump, t->id);
  t->phase = TB_PH_ACCEPT;
  t->connect_timeout_ms = s->connect_timeout_ms;
  t->idle_timeout_ms = s->idle_timeout_ms != TB_UNSET ? s->idle_timeout_ms : 0;
  t->max_lifetime_ms = s->max_lifetime_ms;
  if (s->max_lifetime_ms == TB_UNSET) {
    /* Left to Traffic Server: its active timeout for this transaction
     * (overridable per transaction, so read it from txn) ends the tunnel.
     * Its own timers do not reliably end a blind tunnel once the bridge
     * governs the internal transaction (request.c), so the tunnel applies
     * the value itself. */
    TSMgmtInt secs = 0;
    t->max_lifetime_ms = 0;
    if (TSHttpTxnConfigIntGet(txn, TS_CONFIG_HTTP_TRANSACTION_ACTIVE_TIMEOUT_IN, &secs) == TS_SUCCESS &&
        secs > 0) {
      t->max_lifetime_ms = secs >= (TSMgmtInt)(UINT32_MAX / 1000) ? UINT32_MAX - 1 : (unsigned)secs * 1000u;
      t->lifetime_is_ats = true;
    }
  }
  t->started_ms = tb_now_ms();
  t->live = live;
  /* Traffic Server hands an IPv6 literal over in its brackets; add them only if missing. */
  bool v6 = memchr(host, ':', (size_t)host_len) != NULL && host[0] != '[';
  snprintf(t->target, sizeof t->target, "%s%.*s%s:%d", v6 ? "[" : "",
           host_len > TB_HOST_MAX ? TB_HOST_MAX : host_len, host, v6 ? "]" : "", port);
  struct sockaddr const *ca = TSHttpTxnClientAddrGet(txn);
  if (ca != NULL) {
    size_t n = ca->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    memcpy(&t->client_addr, ca, n);
  }
  t->reg.id = t->id;
  t->reg.generation = tb_live_generation(live);
  t->reg.started_ms = t->started_ms;
  t->reg.target = t->target;
  atomic_init(&t->reg.peer, t->peer_text);
  t->reg.rule = rule->origin;
  atomic_init(&t->reg.state, tb_phase_names[TB_PH_ACCEPT]);
  atomic_init(&t->reg.up, 0);
  atomic_init(&t->reg.down, 0);
  tb_registry_add(&t->reg);
  tb_stat_add(TB_STAT_TUNNELS_STARTED, 1);
  tb_stat_add(TB_STAT_TUNNELS_ACTIVE, 1);
  return t;
}

void tb_tunnel_set_phase(struct tb_tunnel *t, enum tb_phase next) {
  TB_TDEBUG(t, "%s -> %s", tb_phase_names[t->phase], tb_phase_names[next]);
  t->phase = next;
  atomic_store(&t->reg.state, tb_phase_names[next]);
}

void tb_tunnel_nudge_arm(struct tb_tunnel *t) {
  tb_timer_arm(&t->nudge, t->nudge_ms, NULL);
}

void tb_tunnel_close_link(struct tb_tunnel *t) {
  tb_link_close(t->link);
  t->link = NULL;
  t->pump.peer = NULL;
  t->pump.up.write_vio = NULL;
  t->pump.down.read_vio = NULL;
}

/* Free everything.  The caller returns at once: t is gone. */
static void destroy(struct tb_tunnel *t) {
  tb_timer_fini(&t->setup);
  tb_timer_fini(&t->nudge);
  /* Close before freeing the buffers the VIOs point into. */
  if (t->pump.ua != NULL) {
    TSVConnClose(t->pump.ua);
    t->pump.ua = NULL;
  }
  tb_tunnel_close_link(t);
  tb_pump_fini(&t->pump);
  tb_reply_free(&t->reply);
  tb_peers_tunnels(t->open_peer, -1);
  tb_plan_free(&t->plan);
  tb_stat_add(TB_STAT_TUNNELS_ACTIVE, -1);
  tb_registry_remove(&t->reg);
  tb_live_release(t->live);
  TSContDataSet(t->cont, NULL);
  TSContDestroy(t->cont);
  t->magic = TUNNEL_DEAD;
  free(t);
}

static int64_t bytes_done(const struct tb_tunnel *t, const struct tb_dir *d) {
  return t->phase == TB_PH_TUNNEL ? tb_pump_written(d) : 0;
}

/* Log, count and free.  The caller returns at once: t is gone. */
void tb_tunnel_end(struct tb_tunnel *t, const char *why) {
  int64_t now = tb_now_ms();
  char tried[512];
  tb_plan_tried(&t->plan, tried, sizeof tried);
  struct tb_tunnel_record r = {t->id,
                               &t->client_addr,
                               t->target,
                               t->reg.rule,
                               t->peer_text,
                               t->client_status,
                               bytes_done(t, &t->pump.up),
                               bytes_done(t, &t->pump.down),
                               (t->open_ms != 0 ? t->open_ms : now) - t->started_ms,
                               now - t->started_ms,
                               why,
                               tried};
  tb_tunnel_log_write(&r);
  tb_stat_add(TB_STAT_BYTES_CLIENT_TO_PEER, r.up);
  tb_stat_add(TB_STAT_BYTES_PEER_TO_CLIENT, r.down);
  TB_TDEBUG(t, "close (%s) in %s: target %s via %s, %" PRId64 " bytes up, %" PRId64 " bytes down", why,
            tb_phase_names[t->phase], t->target, t->peer_text, r.up, r.down);
  destroy(t);
}

/* An event this phase has no business receiving: said loudly, and the
 * tunnel ends rather than leak. */
void tb_tunnel_unexpected(struct tb_tunnel *t, TSEvent event, const char *where) {
  char name[32];
  TSError("[%s] [%" PRIu64 "] unexpected %s on %s in phase %s: ending the tunnel", TB_TAG, t->id,
          tb_event_name(event, name, sizeof name), where, tb_phase_names[t->phase]);
  tb_stat_add(TB_STAT_FAIL_ERROR, 1);
  tb_tunnel_end(t, "unexpected event");
}

/* Answer the client ourselves and close: REFUSE.  Only before any peer byte
 * went to the client (set-up phases). */
void tb_tunnel_refuse(struct tb_tunnel *t, enum tb_stat cause, unsigned status, const char *reason,
                      const char *fmt, ...) {
  char body[MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(body, sizeof body, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): started above */
  va_end(ap);

  TB_TDEBUG(t, "refuse %u: %s", status, body);
  tb_stat_add(cause, 1);
  t->client_status = status;
  t->refused_why = tb_tunnel_log_refusal(cause);
  tb_timer_stop(&t->setup);
  tb_timer_stop(&t->nudge);
  tb_tunnel_close_link(t);
  t->pump.down.write_vio = tb_reply_refusal(&t->reply, t->pump.ua, t->cont, status, reason, body);
  if (t->pump.down.write_vio == NULL) {
    tb_tunnel_end(t, "our response could not be written"); /* close rather than send half */
    return;
  }
  tb_tunnel_set_phase(t, TB_PH_REFUSE);
}

void tb_tunnel_refuse_link(struct tb_tunnel *t, const struct tb_link_failure *why) {
  static const enum tb_stat stat[] = {
      [TB_LINK_UNREACHABLE] = TB_STAT_FAIL_PEER_UNREACHABLE,
      [TB_LINK_TIMEOUT] = TB_STAT_FAIL_PEER_TIMEOUT,
      [TB_LINK_BROKEN] = TB_STAT_FAIL_PEER_CLOSED,
      [TB_LINK_INTERNAL] = TB_STAT_FAIL_ERROR,
  };
  tb_tunnel_refuse(t, stat[why->cause], why->status, NULL, "%s", why->text);
}
