/*
 * tunnel: the per-CONNECT state machine and byte shuttle.  See tunnel.h for
 * ownership, tunnel_object.h for the tunnel's fields and resources, and
 * docs/architecture.md for the state x event table, whose rows are the phase
 * handlers below (one per phase, called from one switch in on_event) and
 * whose transitions all pass through tb_tunnel_set_phase.
 *
 *   ACCEPT       intercepted, waiting for NET_ACCEPT (a warm link may be held)
 *   PEER_OPEN    the link to the peer is being opened (link.h)
 *   PEER_ANSWER  the client's CONNECT (as ATS rebuilt it and wrote it into
 *                `ua`) flows to the peer; its answer is parsed in place
 *   HANDOVER     the peer's 2xx header is with ATS; tunnel bytes wait
 *   TUNNEL       bytes both ways
 *   REFUSE       our own answer is being written to the client, then close
 *
 * The bytes themselves move through a pump (pump.h): one IOBuffer per
 * direction, backpressure, FINs in order.
 */
#include "tunnel.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "live.h"
#include "peers.h"
#include "pool.h"
#include "tunnel_object.h"

#define NUDGE_MIN_MS 20    /* EOS nudge right after bytes moved (see nudge()) */
#define NUDGE_MAX_MS 2000  /* EOS nudge on an idle tunnel */
#define NUDGE_SETUP_MS 320 /* the set-up nudge backs off to this */
#define LINGER_MS 1000     /* how long one direction may stay open after the other closed */

static void on_peer_answer(struct tb_tunnel *t, bool eos);

/* ---- set-up ------------------------------------------------------------ */

static void on_link_news(void *owner, struct tb_link *l, enum tb_link_news news,
                         const struct tb_link_failure *why);
static void start_attempt(struct tb_tunnel *t);

/* Back to the start of the client's CONNECT (and any bytes after it), to
 * send it again on another connection; a new replay reader keeps it for a
 * later attempt still. */
static void rewind_connect(struct tb_tunnel *t) {
  TSIOBufferReaderFree(t->pump.up.reader);
  t->pump.up.reader = t->replay;
  t->replay = TSIOBufferReaderClone(t->pump.up.reader);
  tb_resp_init(&t->resp);
  t->parsed = 0;
}

/* The current attempt failed before the peer answered (cause; stat, status
 * and the text are what its client gets if no other peer is left).  The
 * next peer of the plan is tried within what is left of the set-up time;
 * when none is, the client gets one answer: the old, single message when
 * one peer was tried, else one naming every peer tried and why each
 * failed (504 when all of them timed out, else 502). */
static void attempt_failed(struct tb_tunnel *t, enum tb_stat stat, enum tb_cause cause, unsigned status,
                           const char *fmt, ...) TS_PRINTFLIKE(5, 6);
static void attempt_failed(struct tb_tunnel *t, enum tb_stat stat, enum tb_cause cause, unsigned status,
                           const char *fmt, ...) {
  char why[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): started above */
  va_end(ap);
  tb_plan_failed(&t->plan, cause, why);
  tb_timer_stop(&t->setup);
  tb_timer_stop(&t->nudge);
  tb_tunnel_close_link(t);
  if (tb_plan_next(&t->plan) != NULL && tb_plan_budget(&t->plan) > 0) {
    TB_TDEBUG(t, "%s: trying peer %s next", why, tb_plan_current(&t->plan)->name);
    t->reused = false;
    t->retried = false;
    rewind_connect(t);
    start_attempt(t); /* may free t */
    return;
  }
  if (t->plan.failures <= 1) {
    tb_tunnel_refuse(t, stat, status, NULL, "%s", why);
    return;
  }
  bool timeouts = t->plan.timeouts == t->plan.failures;
  tb_tunnel_refuse(t, timeouts ? TB_STAT_FAIL_PEER_TIMEOUT : stat, timeouts ? 504 : 502, NULL,
                   "tls_bridge: no peer answered the CONNECT for %s: %s", t->target, t->plan.causes);
}

/* What a link's failure counts as. */
static enum tb_stat link_stat(enum tb_link_cause cause) {
  switch (cause) {
  case TB_LINK_UNREACHABLE:
    return TB_STAT_FAIL_PEER_UNREACHABLE;
  case TB_LINK_TIMEOUT:
    return TB_STAT_FAIL_PEER_TIMEOUT;
  case TB_LINK_BROKEN:
    return TB_STAT_FAIL_PEER_CLOSED;
  case TB_LINK_DNS:
    return TB_STAT_FAIL_PEER_DNS;
  case TB_LINK_CONNECT:
    return TB_STAT_FAIL_PEER_CONNECT;
  case TB_LINK_TLS:
    return TB_STAT_FAIL_PEER_TLS;
  case TB_LINK_VERIFY:
    return TB_STAT_FAIL_PEER_VERIFY;
  case TB_LINK_INTERNAL:
  default:
    return TB_STAT_FAIL_ERROR;
  }
}

static void attempt_failed_link(struct tb_tunnel *t, const struct tb_link_failure *why) {
  attempt_failed(t, link_stat(why->cause), tb_link_health_cause(why->cause), why->status, "%s", why->text);
}

/* Open a new link to the current peer: PEER_OPEN. */
static void open_link(struct tb_tunnel *t) {
  struct tb_try *c = tb_plan_current(&t->plan);
  struct tb_link_spec spec = {&c->peer,      (const struct sockaddr *)&t->client_addr, t->target, t->id, 0,
                              t->plan.direct};
  t->link = tb_link_open(&spec, TSContMutexGet(t->cont), NULL, on_link_news, t);
  if (t->link == NULL) {
    attempt_failed(t, TB_STAT_FAIL_ERROR, TB_CAUSE_OTHER, 502,
                   "tls_bridge: could not open a transaction towards peer %s", t->peer_text);
    return;
  }
  TB_TDEBUG(t, "connecting to peer %s for %s", t->peer_text, t->target);
  tb_tunnel_set_phase(t, TB_PH_PEER_OPEN);
}

/* The link is open: take it over and send the client's CONNECT. */
static void start_peer_answer(struct tb_tunnel *t) {
  struct tb_pump *p = &t->pump;
  p->peer = tb_link_use(t->link, t->cont, p->down.buf, p->down.reader, p->up.reader, &p->down.read_vio,
                        &p->up.write_vio);
  p->link = p->peer != NULL ? t->link : NULL;
  if (p->peer == NULL) {
    attempt_failed(t, TB_STAT_FAIL_ERROR, TB_CAUSE_OTHER, 502,
                   "tls_bridge: could not take over the connection to peer %s", t->peer_text);
    return;
  }
  TB_TDEBUG(t, "peer %s: connection open, sending the CONNECT for %s", t->peer_text, t->target);
  tb_tunnel_set_phase(t, TB_PH_PEER_ANSWER);
  /* ATS may not report a peer that closes before answering (see nudge()):
   * without the nudge such a CONNECT would wait for the connect timeout. */
  t->nudge_ms = NUDGE_MIN_MS;
  tb_tunnel_nudge_arm(t);
  /* Bytes the link had already read are the peer's: parse them now, as no
   * READ_READY may come for bytes already buffered. */
  if (TSIOBufferReaderAvail(p->down.reader) > 0) {
    on_peer_answer(t, false);
  }
}

/* An attempt at the plan's current peer, with its share of the set-up time:
 * over the warm link the tunnel holds, or a new one. */
static void start_attempt(struct tb_tunnel *t) {
  struct tb_try *c = tb_plan_current(&t->plan);
  t->peer_text = c->name;
  atomic_store(&t->reg.peer, c->name);
  t->attempt_ms = tb_plan_budget(&t->plan);
  tb_timer_arm(&t->setup, t->attempt_ms, NULL);
  if (t->link == NULL) {
    open_link(t);
    return;
  }
  /* A warm link: TCP and TLS are up; if it turns out stale, the CONNECT is
   * sent again on a new one (retry_fresh). */
  t->reused = true;
  TB_TDEBUG(t, "accepted; sending the CONNECT for %s over a warm connection to %s", t->target, t->peer_text);
  start_peer_answer(t);
}

/* NET_ACCEPT: the client side is ours.  ATS writes its rebuilt copy of the
 * client's CONNECT into ua now; a reader clone keeps it until a peer
 * answers, to send it again should an attempt fail. */
static void on_accept(struct tb_tunnel *t, TSVConn ua) {
  t->pump.ua = ua;
  t->pump.up.read_vio = TSVConnRead(ua, t->cont, t->pump.up.buf, INT64_MAX);
  t->replay = TSIOBufferReaderClone(t->pump.up.reader);
  t->plan.started_ms = tb_now_ms();
  if (tb_plan_current(&t->plan) == NULL) {
    if (t->plan.n == 0) {
      tb_tunnel_refuse(t, TB_STAT_FAIL_NO_PEER, 502, NULL,
                       "tls_bridge: rule \"%s\" has no valid peer for %s: %s", t->reg.rule, t->target,
                       t->plan.no_peer);
    } else {
      tb_tunnel_refuse(t, TB_STAT_FAIL_PEER_UNREACHABLE, 502, NULL,
                       "tls_bridge: no peer of rule \"%s\" is available for %s", t->reg.rule, t->target);
    }
    return;
  }
  start_attempt(t);
}

/* A warm link failed before the peer answered anything: it had gone stale
 * (the peer closed it while idle).  Resend the client's CONNECT once, on a
 * new link to the same peer, so that a stale warm link never fails a
 * client (and is not held against the peer).  Returns false when this does
 * not apply. */
static bool retry_fresh(struct tb_tunnel *t) {
  if (!t->reused || t->retried || t->replay == NULL || t->parsed != 0 ||
      TSIOBufferReaderAvail(t->pump.down.reader) != 0) {
    return false;
  }
  TB_TDEBUG(t, "warm connection to %s was stale; resending the CONNECT on a new one", t->peer_text);
  t->retried = true;
  tb_stat_add(TB_STAT_POOL_STALE_RETRIED, 1);
  tb_timer_stop(&t->nudge);
  tb_tunnel_close_link(t);
  rewind_connect(t);
  open_link(t);
  return true;
}

static void start_handover(struct tb_tunnel *t, bool eos);

/* PEER_ANSWER: the peer's answer to the client's CONNECT, as it arrives. */
static void on_peer_answer(struct tb_tunnel *t, bool eos) {
  enum tb_resp_result r = tb_resp_feed(&t->resp, t->pump.down.reader, &t->parsed);
  if (r == TB_RESP_MORE) {
    if (eos && retry_fresh(t)) {
      return;
    }
    if (eos && t->link != NULL && tb_link_failure(t->link) != NULL) {
      attempt_failed_link(t, tb_link_failure(t->link));
    } else if (eos) {
      attempt_failed(t, TB_STAT_FAIL_PEER_CLOSED, TB_CAUSE_CLOSED, 502,
                     "tls_bridge: peer %s closed the connection before answering the CONNECT for %s "
                     "(connection refused, TLS handshake failed, or the peer dropped the connection)",
                     t->peer_text, t->target);
    } else {
      tb_pump_reenable_peer_read(&t->pump);
    }
    return;
  }
  if (t->replay != NULL) {
    TSIOBufferReaderFree(t->replay); /* the peer answered: no resend */
    t->replay = NULL;
  }
  struct tb_try *c = tb_plan_current(&t->plan);
  if (r == TB_RESP_DONE) {
    tb_plan_answered(&t->plan); /* whatever it said: the peer works */
    if (c != NULL && c->pool != NULL) {
      tb_pool_peer_ok(c->pool); /* no need to wait before warming */
    }
  } else {
    tb_plan_failed(&t->plan, TB_CAUSE_BAD_ANSWER, t->resp.error); /* relayed as 502, not retried */
  }
  if (r == TB_RESP_ERROR) {
    tb_tunnel_refuse(t, TB_STAT_FAIL_PEER_BAD_RESPONSE, 502, NULL,
                     "tls_bridge: peer %s sent an answer that is not HTTP: %s", t->peer_text, t->resp.error);
    return;
  }
  unsigned status = t->resp.status;
  if (status < 200) {
    tb_tunnel_refuse(t, TB_STAT_FAIL_PEER_BAD_RESPONSE, 502, NULL,
                     "tls_bridge: peer %s sent an interim %u answer to CONNECT", t->peer_text, status);
    return;
  }
  if (status >= 300) {
    tb_tunnel_refuse(t, TB_STAT_FAIL_PEER_REFUSED, status, t->resp.reason,
                     "tls_bridge: peer %s refused CONNECT %s: %u %s", t->peer_text, t->target, status,
                     t->resp.reason);
    return;
  }
  TB_TDEBUG(t, "peer %s answered %u for %s: tunnel open", t->peer_text, status, t->target);
  tb_timer_stop(&t->setup);
  start_handover(t, eos);
}

/* The peer said 2xx.  Its header goes to ua unchanged (the client-side ATS
 * parses it as the origin's answer and sends the client its own 200), but
 * alone: tunnel bytes follow once ATS has read it (reply.c says why). */
static void start_handover(struct tb_tunnel *t, bool eos) {
  t->client_status = t->resp.status;
  tb_timer_stop(&t->nudge);
  t->pump.down.write_vio = tb_reply_header(&t->reply, t->pump.ua, t->cont, t->pump.down.reader, t->parsed);
  if (t->pump.down.write_vio == NULL) {
    tb_stat_add(TB_STAT_FAIL_ERROR, 1);
    tb_tunnel_end(t, "error while handing the peer's answer to the client");
    return;
  }
  t->parsed = 0;
  t->pump.down.eos = eos;
  t->handover_ready = 0;
  tb_tunnel_set_phase(t, TB_PH_HANDOVER);
}

static void pump_verdict(struct tb_tunnel *t, enum tb_pump_verdict v);

/* ATS has read the header: the peer's bytes may flow. */
static void finish_handover(struct tb_tunnel *t) {
  struct tb_dir *d = &t->pump.down;
  tb_tunnel_set_phase(t, TB_PH_TUNNEL);
  t->open_ms = tb_now_ms();
  struct tb_try *c = tb_plan_current(&t->plan);
  if (c != NULL && c->state != NULL) {
    t->open_peer = c->state;
    tb_peers_tunnels(t->open_peer, 1);
  }
  t->last_active_ms = t->open_ms;
  d->write_vio = TSVConnWrite(t->pump.ua, t->cont, d->reader, INT64_MAX);
  tb_reply_free(&t->reply); /* no VIO's any more: not kept for the tunnel's life */
  t->nudge_ms = NUDGE_MIN_MS;
  tb_tunnel_nudge_arm(t);
  if (d->eos) {
    pump_verdict(t, tb_pump_source_eos(&t->pump, d)); /* may free t */
    return;
  }
  /* Reads paused during the handover; wake the source. */
  tb_pump_reenable_peer_read(&t->pump);
}

/* What the pump said, acted on.  May free t. */
static void pump_verdict(struct tb_tunnel *t, enum tb_pump_verdict v) {
  switch (v) {
  case TB_PUMP_GOING:
    return;
  case TB_PUMP_HALF:
    if (t->half_closed_ms == 0) {
      /* Watch closely from now on: an idle tunnel's nudge may be 2 s away. */
      t->half_closed_ms = tb_now_ms();
      t->nudge_ms = NUDGE_MIN_MS;
      tb_tunnel_nudge_arm(t);
    }
    return;
  case TB_PUMP_FINISHED:
    tb_stat_add(TB_STAT_TUNNELS_COMPLETED, 1);
    tb_tunnel_end(t, "both directions done");
    return;
  case TB_PUMP_UA_ERROR:
  case TB_PUMP_PEER_ERROR:
  default:
    tb_stat_add(TB_STAT_FAIL_ERROR, 1);
    tb_tunnel_end(t, v == TB_PUMP_UA_ERROR ? "client side error" : "peer side error");
    return;
  }
}

/* ---- the nudge --------------------------------------------------------- */

/* ATS 9.2's PluginVC::do_io_shutdown only sets a flag: it does not wake the
 * reader on the other side.  When ATS shuts the write side of one of our
 * VConns just after its last bytes were handed to us, our side may already
 * have made its last read pass and the EOS is never delivered, leaving the
 * tunnel open after a close (seen here on about 1 service close in 5).  So
 * while tunnelling we re-enable both source reads now and then: a read pass
 * with nothing new to move is what reports a pending EOS.  The interval is
 * short (NUDGE_MIN_MS) right after bytes moved, when a close is likely, and
 * backs off to NUDGE_MAX_MS while the tunnel is idle.  The same behaviour
 * hides the close of a peer connection a client's CONNECT was just sent on,
 * so the peer read is nudged in PEER_ANSWER too (from NUDGE_MIN_MS, backing
 * off to NUDGE_SETUP_MS): a peer that closes before answering gets a
 * 502 at once rather than at the connect timeout, and a CONNECT sent on a
 * stale warm link is resent.  The nudge also checks the idle and lifetime
 * limits and publishes the byte counts for the registry. */

/* The next interval: twice this one, at most max. */
static int64_t backed_off(int64_t ms, int64_t max) {
  return ms * 2 > max ? max : ms * 2;
}

/* Whether the tunnel, half closed, waits for the peer side's end where
 * nothing bounds the wait: the client's direction is done and a direct link
 * (which carried the client's FIN as close_notify and reports the peer's
 * end itself) is open.  When the peer's direction ended first, our write
 * shutdown towards the client may never reach it on any engine. */
static bool peer_end_awaited(const struct tb_tunnel *t) {
  return t->pump.up.done && !t->pump.down.done && t->link != NULL && tb_link_clean_close(t->link);
}

static void nudge(struct tb_tunnel *t) {
  if (t->phase == TB_PH_PEER_ANSWER) {
    tb_pump_reenable_peer_read(&t->pump);
    t->nudge_ms = backed_off(t->nudge_ms, NUDGE_SETUP_MS); /* set-up is short */
    tb_tunnel_nudge_arm(t);
    return;
  }
  if (t->phase != TB_PH_TUNNEL) {
    return;
  }
  int64_t now = tb_now_ms();
  if (t->half_closed_ms != 0 && now - t->half_closed_ms > LINGER_MS && !peer_end_awaited(t)) {
    /* See LINGER in docs/architecture.md: ATS may never report the close
     * that should end the other direction, nor pass our write shutdown on
     * to the client; bound the wait. */
    tb_stat_add(TB_STAT_TUNNELS_COMPLETED, 1);
    tb_tunnel_end(t, "other direction still open 1 s after one side closed");
    return;
  }
  if (t->max_lifetime_ms != 0 && now - t->started_ms >= (int64_t)t->max_lifetime_ms) {
    tb_stat_add(TB_STAT_FAIL_LIFETIME, 1);
    tb_tunnel_end(t, t->lifetime_is_ats ? "Traffic Server's transaction_active_timeout_in reached"
                                        : "maximum lifetime reached");
    return;
  }
  int64_t seen = tb_pump_read(&t->pump);
  if (seen == t->nudge_seen && t->idle_timeout_ms != 0 &&
      now - t->last_active_ms >= (int64_t)t->idle_timeout_ms) {
    tb_stat_add(TB_STAT_FAIL_IDLE_TIMEOUT, 1);
    tb_tunnel_end(t, "idle timeout");
    return;
  }
  if (seen != t->nudge_seen) {
    t->nudge_seen = seen;
    t->last_active_ms = now;
    t->nudge_ms = NUDGE_MIN_MS;
    atomic_store(&t->reg.up, tb_pump_written(&t->pump.up));
    atomic_store(&t->reg.down, tb_pump_written(&t->pump.down));
  } else {
    t->nudge_ms = backed_off(t->nudge_ms, NUDGE_MAX_MS);
  }
  tb_pump_nudge(&t->pump);
  tb_tunnel_nudge_arm(t);
}

/* ---- the phases: one handler each -------------------------------------- */

static bool is_eos(TSEvent event) {
  return event == TS_EVENT_VCONN_EOS || event == TS_EVENT_VCONN_READ_COMPLETE;
}

/* ACCEPT: waiting for the intercept to hand over the client side. */
static void in_accept(struct tb_tunnel *t, TSEvent event, void *edata) {
  switch (event) {
  case TS_EVENT_NET_ACCEPT:
    on_accept(t, (TSVConn)edata);
    return;
  case TS_EVENT_NET_ACCEPT_FAILED:
    /* The transaction died before the intercept was accepted (for example
     * the CONNECT port is not in proxy.config.http.connect_ports).  No
     * VConn was ever ours; the continuation is, and only we free it. */
    tb_stat_add(TB_STAT_FAIL_ERROR, 1);
    tb_tunnel_end(t, "transaction ended before the intercept was accepted");
    return;
  default:
    tb_tunnel_unexpected(t, event, "the intercept");
    return;
  }
}

/* Set-up phases: what the client side may do meanwhile (its CONNECT waits in
 * pump.up; in PEER_ANSWER it flows to the peer). */
static void setup_ua_read(struct tb_tunnel *t, TSEvent event) {
  if (event == TS_EVENT_VCONN_READ_READY) {
    if (t->phase == TB_PH_PEER_ANSWER) {
      (void)tb_pump_event(&t->pump, event, TB_END_UA_READ); /* the CONNECT flows on */
    }
    return;
  }
  if (is_eos(event)) {
    tb_stat_add(TB_STAT_FAIL_CLIENT_GONE, 1);
    tb_tunnel_end(t, "client gone during set-up");
    return;
  }
  tb_stat_add(TB_STAT_FAIL_ERROR, 1);
  tb_tunnel_end(t, "client side error");
}

/* PEER_OPEN: the link is being opened; only the client side reports here. */
static void in_peer_open(struct tb_tunnel *t, TSEvent event, enum tb_pump_end e) {
  if (e == TB_END_UA_READ) {
    setup_ua_read(t, event);
    return;
  }
  tb_tunnel_unexpected(t, event, "a connection not open yet");
}

/* PEER_ANSWER: the client's CONNECT went to the peer. */
static void in_peer_answer(struct tb_tunnel *t, TSEvent event, enum tb_pump_end e) {
  char name[32];
  switch (e) {
  case TB_END_UA_READ:
    setup_ua_read(t, event);
    return;
  case TB_END_PEER_READ:
  case TB_END_PEER_WRITE:
    if (event == TS_EVENT_VCONN_READ_READY || is_eos(event)) {
      on_peer_answer(t, is_eos(event));
      return;
    }
    if (event == TS_EVENT_VCONN_WRITE_READY) {
      (void)tb_pump_event(&t->pump, event, e); /* room for more of the client's bytes */
      return;
    }
    if (event == TS_EVENT_VCONN_WRITE_COMPLETE) {
      return; /* only after an EOS fixed nbytes, which ends the set-up */
    }
    if (retry_fresh(t)) {
      return;
    }
    if (t->link != NULL && tb_link_failure(t->link) != NULL) {
      attempt_failed_link(t, tb_link_failure(t->link)); /* a TLS alert, say: the link knows it */
      return;
    }
    attempt_failed(t, TB_STAT_FAIL_PEER_CLOSED, TB_CAUSE_CLOSED, 502,
                   "tls_bridge: connection to peer %s failed (%s)", t->peer_text,
                   tb_event_name(event, name, sizeof name));
    return;
  case TB_END_UA_WRITE:
  case TB_END_UNKNOWN:
  default:
    tb_tunnel_unexpected(t, event, "the client write side");
    return;
  }
}

/* HANDOVER: the peer's 2xx header is being read by ATS. */
static void in_handover(struct tb_tunnel *t, TSEvent event, enum tb_pump_end e) {
  switch (e) {
  case TB_END_UA_WRITE:
    if (event == TS_EVENT_VCONN_WRITE_READY) {
      if (++t->handover_ready >= 2) {
        finish_handover(t); /* may free t */
      }
      return;
    }
    if (event == TS_EVENT_VCONN_WRITE_COMPLETE) {
      return; /* the header VIO asks for one byte more than it has: cannot complete */
    }
    tb_stat_add(TB_STAT_FAIL_ERROR, 1);
    tb_tunnel_end(t, "client side error");
    return;
  case TB_END_PEER_READ:
    if (event == TS_EVENT_VCONN_READ_READY || is_eos(event)) {
      /* Peer bytes wait in pump.down until ATS has taken the header. */
      t->pump.down.eos = t->pump.down.eos || is_eos(event);
      return;
    }
    tb_stat_add(TB_STAT_FAIL_ERROR, 1);
    tb_tunnel_end(t, "error while handing the peer's answer to the client");
    return;
  case TB_END_PEER_WRITE:
    if (event == TS_EVENT_ERROR || event == TS_EVENT_VCONN_INACTIVITY_TIMEOUT ||
        event == TS_EVENT_VCONN_ACTIVE_TIMEOUT) {
      tb_stat_add(TB_STAT_FAIL_ERROR, 1);
      tb_tunnel_end(t, "error while handing the peer's answer to the client");
      return;
    }
    pump_verdict(t, tb_pump_event(&t->pump, event, e)); /* the client's bytes keep flowing; may free t */
    return;
  case TB_END_UA_READ:
    pump_verdict(t, tb_pump_event(&t->pump, event, e)); /* may free t */
    return;
  case TB_END_UNKNOWN:
  default:
    tb_tunnel_unexpected(t, event, "an unknown VIO");
    return;
  }
}

/* REFUSE: our answer is going out; then the tunnel closes. */
static void in_refuse(struct tb_tunnel *t, TSEvent event, enum tb_pump_end e) {
  if (e == TB_END_UA_WRITE && event == TS_EVENT_VCONN_WRITE_COMPLETE) {
    tb_tunnel_end(t, t->refused_why != NULL ? t->refused_why : "refused");
    return;
  }
  if ((e == TB_END_UA_WRITE && event == TS_EVENT_VCONN_WRITE_READY) ||
      (e == TB_END_UA_READ && event == TS_EVENT_VCONN_READ_READY)) {
    return;
  }
  if (e == TB_END_UA_READ && is_eos(event)) {
    tb_tunnel_end(t, "client gone while refused");
    return;
  }
  tb_stat_add(TB_STAT_FAIL_ERROR, 1);
  tb_tunnel_end(t, "client side error");
}

static struct tb_tunnel *tunnel_of(TSCont cont, TSEvent event) {
  struct tb_tunnel *t = TSContDataGet(cont);
  if (t == NULL || t->magic != TB_TUNNEL_MAGIC) {
    char name[32];
    TSError("[%s] %s for a tunnel that is gone (%p): ignored", TB_TAG,
            tb_event_name(event, name, sizeof name), (void *)t);
    return NULL;
  }
  return t;
}

/* NET_ACCEPT, NET_ACCEPT_FAILED and the VConns' events, to the phase's
 * handler. */
static int on_event(TSCont cont, TSEvent event, void *edata) {
  struct tb_tunnel *t = tunnel_of(cont, event);
  if (t == NULL) {
    return 0;
  }
  if (t->phase == TB_PH_ACCEPT) {
    in_accept(t, event, edata); /* may free t */
    return 0;
  }
  if (event == TS_EVENT_NET_ACCEPT) {
    TB_TDEBUG(t, "second NET_ACCEPT in %s: closing it", tb_phase_names[t->phase]);
    TSVConnClose((TSVConn)edata);
    return 0;
  }
  enum tb_pump_end e = tb_pump_which(&t->pump, (TSVIO)edata);
  if (e == TB_END_UNKNOWN && (event == TS_EVENT_ERROR || (event >= TS_EVENT_VCONN_READ_READY &&
                                                          event <= TS_EVENT_VCONN_ACTIVE_TIMEOUT))) {
    char name[32];
    TB_TDEBUG(t, "%s for an unknown VIO in %s: ignored", tb_event_name(event, name, sizeof name),
              tb_phase_names[t->phase]);
    return 0;
  }
  switch (t->phase) {
  case TB_PH_PEER_OPEN:
    in_peer_open(t, event, e);
    return 0;
  case TB_PH_PEER_ANSWER:
    in_peer_answer(t, event, e); /* may free t */
    return 0;
  case TB_PH_HANDOVER:
    in_handover(t, event, e); /* may free t */
    return 0;
  case TB_PH_TUNNEL:
    if (e == TB_END_UNKNOWN) {
      tb_tunnel_unexpected(t, event, "the tunnel");
      return 0;
    }
    pump_verdict(t, tb_pump_event(&t->pump, event, e)); /* may free t */
    return 0;
  case TB_PH_REFUSE:
    in_refuse(t, event, e); /* may free t */
    return 0;
  case TB_PH_ACCEPT:
  case TB_PH_COUNT:
  default:
    tb_tunnel_unexpected(t, event, "the tunnel");
    return 0;
  }
}

/* News of the link (under the tunnel's mutex, from the link's handler). */
static void on_link_news(void *owner, struct tb_link *l, enum tb_link_news news,
                         const struct tb_link_failure *why) {
  struct tb_tunnel *t = owner;
  if (t == NULL || t->magic != TB_TUNNEL_MAGIC || t->link != l) {
    TSError("[%s] news %d of a link whose tunnel is gone: ignored", TB_TAG, (int)news);
    return;
  }
  if (t->phase == TB_PH_ACCEPT && news == TB_LINK_LOST) {
    /* A warm link, claimed, died before the client's NET_ACCEPT: that
     * opens a new one. */
    TB_TDEBUG(t, "claimed warm connection lost (%s): a new one will be opened",
              why != NULL ? why->text : "?");
    tb_tunnel_close_link(t);
    return;
  }
  if (t->phase == TB_PH_PEER_OPEN && news == TB_LINK_OPENED) {
    start_peer_answer(t); /* may free t */
    return;
  }
  if (t->phase == TB_PH_PEER_OPEN && news == TB_LINK_FAILED && why != NULL) {
    attempt_failed_link(t, why);
    return;
  }
  if (t->phase == TB_PH_ACCEPT && (news == TB_LINK_STEADY || news == TB_LINK_EXPIRED)) {
    return; /* a warm link still waiting for NET_ACCEPT: nothing to do */
  }
  TSError("[%s] [%" PRIu64 "] unexpected news %d of the link in phase %s: ending the tunnel", TB_TAG, t->id,
          (int)news, tb_phase_names[t->phase]);
  tb_stat_add(TB_STAT_FAIL_ERROR, 1);
  tb_tunnel_end(t, "unexpected event");
}

/* The set-up deadline (armed at NET_ACCEPT, cancelled at the 2xx). */
static int on_setup_timer(TSCont cont, TSEvent event, void *edata) {
  (void)edata;
  struct tb_tunnel *t = tunnel_of(cont, event);
  if (t == NULL) {
    return 0;
  }
  t->setup.action = NULL;
  if (t->phase == TB_PH_PEER_OPEN || t->phase == TB_PH_PEER_ANSWER) {
    attempt_failed(t, TB_STAT_FAIL_PEER_TIMEOUT, TB_CAUSE_TIMEOUT, 504,
                   "tls_bridge: peer %s did not answer the CONNECT for %s within %u ms", t->peer_text,
                   t->target, t->attempt_ms);
  }
  return 0;
}

static int on_nudge_timer(TSCont cont, TSEvent event, void *edata) {
  (void)edata;
  struct tb_tunnel *t = tunnel_of(cont, event);
  if (t == NULL) {
    return 0;
  }
  t->nudge.action = NULL;
  nudge(t); /* may free t */
  return 0;
}

/* ---- start ------------------------------------------------------------- */

TSReturnCode tb_tunnel_start(TSHttpTxn txn, struct tb_live *live, const struct tb_rule *rule,
                             const struct tb_settings *s, const char *host, int host_len, int port,
                             const struct tb_captures *caps) {
  struct tb_plan plan;
  if (tb_plan_make(&plan, live, rule, host, (size_t)host_len, port > 0 ? (unsigned)port : 0, caps,
                   tb_live_turn(live, rule)) != 0) {
    return TS_ERROR;
  }
  plan.connect_timeout_ms = s->connect_timeout_ms;
  /* The first attempt begins now, so that its peer's warm link can be
   * taken: a warm link runs under a mutex of its own, which the tunnel then
   * shares. */
  struct tb_try *first = tb_plan_next(&plan);
  struct tb_link *warm = first != NULL && first->pool != NULL ? tb_pool_take(first->pool) : NULL;
  TSMutex mutex = warm != NULL ? tb_link_mutex(warm) : TSMutexCreate();
  struct tb_tunnel *t = tb_tunnel_create(mutex, on_event, on_setup_timer, on_nudge_timer, txn, live, rule, s,
                                         host, host_len, port, &plan);
  if (t == NULL) {
    tb_plan_free(&plan);
    if (warm != NULL) {
      /* Out of memory: close the link under its mutex, which a continuation
       * of ours keeps alive until it is unlocked. */
      TSCont keep = TSContCreate(on_event, mutex);
      TSMutexLock(mutex);
      tb_link_close(warm);
      TSMutexUnlock(mutex);
      TSContDestroy(keep);
    }
    return TS_ERROR;
  }
  TSMutexLock(mutex); /* a warm link may be handling an event right now */
  if (warm != NULL && tb_link_adopt(warm, on_link_news, t)) {
    t->link = warm;
    tb_stat_add(TB_STAT_POOL_WARM_USED, 1);
  } else if (warm != NULL) {
    tb_link_close(warm); /* it died meanwhile: NET_ACCEPT opens a new one */
  }
  TB_TDEBUG(t, "CONNECT %s matches rule '%s' (%s): bridging to %s%s", t->target, rule->pattern, rule->origin,
            first != NULL ? first->name : "no peer", t->link != NULL ? " (warm connection)" : "");
  /* Keep every peer of the rule warm on this thread, the ones this tunnel
   * does not use too: warm-ups tell a dead peer (or one that came back)
   * before a client needs it.  (Before the intercept: from then on the
   * tunnel, and its plan, may go at any time.) */
  for (size_t i = 0; i < t->plan.n; i++) {
    if (t->plan.tries[i].pool != NULL) {
      tb_pool_touch(t->plan.tries[i].pool);
    }
  }
  TSMutexUnlock(mutex);
  /* Remap rules are for what ATS forwards itself; this transaction is ours. */
  TSHttpTxnCntlSet(txn, TS_HTTP_CNTL_SKIP_REMAPPING, true);
  TSHttpTxnIntercept(t->cont, txn);
  return TS_SUCCESS;
}
