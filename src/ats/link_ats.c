/*
 * link_ats: the ats engine's links, made by Traffic Server itself (see
 * link.h, link_base.h).
 *
 * The link opens an internal transaction into this same ATS
 * (TSHttpConnectPlugin) and writes "CONNECT https://peer:port" to it; ATS
 * core then opens TLS to the peer under proxy.config.ssl.client.* (SNI = the
 * peer name, the client certificate, verification) and answers 200 as soon
 * as TCP is up, before TLS is known to work: a TLS failure shows up later,
 * as a close before the peer answers the client's CONNECT (the tunnel's
 * PEER_ANSWER).  The link consumes ATS's own answer; what follows belongs to
 * the peer.
 *
 * States: STARTING (scheduled onto another thread) -> OPENING (internal
 * CONNECT written, waiting for ATS's answer) -> OPEN (unused; watched) ->
 * USED (the owner reads and writes it), or DEAD (failed or lost).  One
 * continuation takes the internal transaction's events; the link's one
 * timer has its own, and its meaning is the state's: the start (STARTING),
 * the open deadline (OPENING), the watch tick (OPEN).
 */
#include "link_base.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_http.h"

enum link_state { L_STARTING, L_OPENING, L_OPEN, L_USED, L_DEAD };

static const char *const state_names[] = {"starting", "opening", "open", "used", "dead"};

struct link_ats {
  struct tb_link base;
  enum link_state state;
  TSCont cont;   /* owned: the VConn's events */
  TSVConn vc;    /* owned: the internal transaction; NULL when dead */
  TSIOBuffer in; /* owned until used: ATS's answer (and anything after it) */
  TSIOBufferReader in_reader;
  TSIOBuffer msg; /* owned until used: the internal CONNECT */
  TSIOBufferReader msg_reader;
  TSVIO read_vio;
  struct tb_resp resp; /* ATS's answer */
  int64_t parsed;      /* bytes of in_reader already fed to resp */
};

static struct link_ats *ats_of(struct tb_link *b) {
  return (struct link_ats *)b;
}

static void set_state(struct link_ats *l, enum link_state s) {
  TB_DEBUG("[%" PRIu64 "] link to %s: %s -> %s", l->base.id, l->base.peer_text, state_names[l->state],
           state_names[s]);
  l->state = s;
}

static void buffers_free(struct link_ats *l) {
  if (l->in != NULL) {
    TSIOBufferDestroy(l->in); /* frees its reader too */
    l->in = NULL;
    l->in_reader = NULL;
  }
  if (l->msg != NULL) {
    TSIOBufferDestroy(l->msg);
    l->msg = NULL;
    l->msg_reader = NULL;
  }
}

/* The connection is over: close it, keep the object for the owner to close. */
static void die(struct tb_link *b) {
  struct link_ats *l = ats_of(b);
  tb_timer_stop(&b->timer);
  if (l->vc != NULL) {
    TSVConnClose(l->vc);
    l->vc = NULL;
  }
  l->read_vio = NULL;
  set_state(l, L_DEAD);
}

/* Open the internal transaction and write the internal CONNECT.  Returns
 * false (nothing open) on failure. */
static bool start(struct link_ats *l) {
  char connect[TB_PEER_TEXT_MAX + 64];
  int len = tb_http_format_connect(connect, sizeof connect, &l->base.peer);
  if (len < 0) {
    return false;
  }
  l->msg = TSIOBufferSizedCreate(TS_IOBUFFER_SIZE_INDEX_1K);
  l->msg_reader = TSIOBufferReaderAlloc(l->msg);
  l->in = TSIOBufferSizedCreate(TS_IOBUFFER_SIZE_INDEX_1K);
  l->in_reader = TSIOBufferReaderAlloc(l->in);
  if (TSIOBufferWrite(l->msg, connect, len) != len) {
    return false;
  }
  TSHttpConnectOptions opts = TSHttpConnectOptionsGet(TS_CONNECT_PLUGIN);
  opts.addr = (struct sockaddr const *)&l->base.client;
  opts.tag = TB_TAG;
  opts.id = (int64_t)l->base.id;
  l->vc = TSHttpConnectPlugin(&opts);
  if (l->vc == NULL) {
    return false;
  }
  set_state(l, L_OPENING);
  l->read_vio = TSVConnRead(l->vc, l->cont, l->in, INT64_MAX);
  /* Bounded to the internal CONNECT: the owner's own write replaces it. */
  TSVConnWrite(l->vc, l->cont, l->msg_reader, len);
  if (l->base.open_timeout_ms != 0) {
    tb_timer_arm(&l->base.timer, l->base.open_timeout_ms, NULL);
  }
  return true;
}

/* OPENING, bytes from ATS: its answer to the internal CONNECT. */
static void on_answer(struct link_ats *l) {
  struct tb_link *b = &l->base;
  enum tb_resp_result r = tb_resp_feed(&l->resp, l->in_reader, &l->parsed);
  if (r == TB_RESP_MORE) {
    TSVIOReenable(l->read_vio);
    return;
  }
  if (r == TB_RESP_ERROR) {
    tb_link_fail(b, TB_LINK_INTERNAL, 502,
                 "tls_bridge: bad answer from Traffic Server while connecting to peer %s: %s", b->peer_text,
                 l->resp.error);
    return;
  }
  if (l->resp.status != 200) {
    /* ATS could not reach the peer (refused, unresolvable, timed out). */
    bool timeout = l->resp.status == 504;
    tb_link_fail(b, timeout ? TB_LINK_TIMEOUT : TB_LINK_UNREACHABLE, timeout ? 504 : 502,
                 "tls_bridge: cannot reach peer %s for %s: %u %s", b->peer_text, b->target, l->resp.status,
                 l->resp.reason);
    return;
  }
  TSIOBufferReaderConsume(l->in_reader, l->parsed);
  l->parsed = 0;
  tb_timer_stop(&b->timer);
  set_state(l, L_OPEN);
  tb_timer_arm(&b->timer, TB_LINK_WATCH_MS, NULL);
  tb_link_tell(b, TB_LINK_OPENED, NULL); /* may free l */
}

/* The timer: what it means depends on the state. */
static int on_timer(TSCont cont, TSEvent event, void *edata) {
  (void)event;
  (void)edata;
  struct tb_link *b = tb_link_of(cont);
  if (b == NULL) {
    return 0;
  }
  struct link_ats *l = ats_of(b);
  b->timer.action = NULL;
  switch (l->state) {
  case L_STARTING:
    if (!start(l)) {
      tb_link_fail(b, TB_LINK_INTERNAL, 502, "tls_bridge: could not open a transaction towards peer %s",
                   b->peer_text);
    }
    return 0;
  case L_OPENING:
    tb_link_fail(b, TB_LINK_TIMEOUT, 504, "tls_bridge: peer %s did not answer in time", b->peer_text);
    return 0;
  case L_OPEN:
    /* ATS may not report a close of an idle connection (see the nudge in
     * tunnel.c): a read pass with nothing new is what reports it.  ATS
     * answers the internal CONNECT on TCP alone, so STEADY, not OPENED,
     * says the peer took the link. */
    TSVIOReenable(l->read_vio);
    tb_link_watch(b); /* may free l */
    return 0;
  case L_USED:
  case L_DEAD:
  default:
    return 0; /* cancelled when the state changed; nothing to do */
  }
}

/* An event of the internal transaction, before the owner took it over. */
static void on_vio(struct link_ats *l, TSEvent event) {
  struct tb_link *b = &l->base;
  char name[32];
  switch (event) {
  case TS_EVENT_VCONN_WRITE_READY:
  case TS_EVENT_VCONN_WRITE_COMPLETE:
    return; /* the internal CONNECT going out */
  case TS_EVENT_VCONN_READ_READY:
    if (l->state == L_OPENING) {
      on_answer(l); /* may free l */
    } else if (TSIOBufferReaderAvail(l->in_reader) > 0) {
      tb_link_lose(b, "unexpected bytes from the peer"); /* may free l */
    }
    return;
  case TS_EVENT_VCONN_READ_COMPLETE:
  case TS_EVENT_VCONN_EOS:
    if (l->state == L_OPENING) {
      tb_link_fail(b, TB_LINK_UNREACHABLE, 502,
                   "tls_bridge: connection towards peer %s closed before it was established", b->peer_text);
    } else {
      tb_link_lose(b, "peer side closed");
    }
    return;
  case TS_EVENT_ERROR:
  case TS_EVENT_VCONN_INACTIVITY_TIMEOUT:
  case TS_EVENT_VCONN_ACTIVE_TIMEOUT:
  default:
    if (l->state == L_OPENING) {
      tb_link_fail(b, TB_LINK_BROKEN, 502, "tls_bridge: connection to peer %s failed (%s)", b->peer_text,
                   tb_event_name(event, name, sizeof name));
    } else {
      tb_link_lose(b, tb_event_name(event, name, sizeof name));
    }
    return;
  }
}

static int on_event(TSCont cont, TSEvent event, void *edata) {
  (void)edata; /* the VIO: a link has one of each, so the event says which */
  struct tb_link *b = tb_link_of(cont);
  char name[32];
  if (b == NULL) {
    return 0;
  }
  struct link_ats *l = ats_of(b);
  switch (event) {
  case TS_EVENT_VCONN_READ_READY:
  case TS_EVENT_VCONN_READ_COMPLETE:
  case TS_EVENT_VCONN_EOS:
  case TS_EVENT_VCONN_WRITE_READY:
  case TS_EVENT_VCONN_WRITE_COMPLETE:
  case TS_EVENT_VCONN_INACTIVITY_TIMEOUT:
  case TS_EVENT_VCONN_ACTIVE_TIMEOUT:
  case TS_EVENT_ERROR:
    if (l->state != L_OPENING && l->state != L_OPEN) {
      TB_DEBUG("[%" PRIu64 "] link to %s: %s while %s: ignored", b->id, b->peer_text,
               tb_event_name(event, name, sizeof name), state_names[l->state]);
      return 0;
    }
    on_vio(l, event); /* may free l */
    return 0;
  default:
    TSError("[%s] [%" PRIu64 "] link to %s: unexpected %s while %s: closing it", TB_TAG, b->id, b->peer_text,
            tb_event_name(event, name, sizeof name), state_names[l->state]);
    if (l->state == L_OPEN) {
      tb_link_lose(b, "unexpected event");
    } else if (l->state == L_OPENING || l->state == L_STARTING) {
      tb_link_fail(b, TB_LINK_INTERNAL, 502, "tls_bridge: connection to peer %s: unexpected event",
                   b->peer_text);
    }
    return 0;
  }
}

static bool is_open(const struct tb_link *b) {
  return ((const struct link_ats *)b)->state == L_OPEN;
}

static TSVConn use(struct tb_link *b, TSCont cont, TSIOBuffer in, TSIOBufferReader in_reader,
                   TSIOBufferReader out, TSVIO *read_vio, TSVIO *write_vio) {
  (void)in_reader; /* the PluginVC bounds what it writes into `in` itself */
  struct link_ats *l = ats_of(b);
  if (l->state != L_OPEN) {
    return NULL;
  }
  int64_t rest = TSIOBufferReaderAvail(l->in_reader);
  if (rest > 0 && TSIOBufferCopy(in, l->in_reader, rest, 0) != rest) {
    die(b);
    return NULL;
  }
  tb_timer_stop(&b->timer);
  set_state(l, L_USED);
  /* New VIOs replace the link's: from here on cont gets the events. */
  *read_vio = TSVConnRead(l->vc, cont, in, INT64_MAX);
  *write_vio = TSVConnWrite(l->vc, cont, out, INT64_MAX);
  l->read_vio = NULL;
  buffers_free(l);
  return l->vc;
}

static void reenable(struct tb_link *b, TSVIO vio) {
  (void)b;
  TSVIOReenable(vio);
}

static void shutdown_write(struct tb_link *b) {
  struct link_ats *l = ats_of(b);
  if (l->vc != NULL) {
    TSVConnShutdown(l->vc, 0, 1);
  }
}

static void close_link(struct tb_link *b) {
  struct link_ats *l = ats_of(b);
  tb_link_base_fini(b);
  if (l->vc != NULL) {
    TSVConnClose(l->vc); /* before freeing the buffers its VIOs point into */
    l->vc = NULL;
  }
  buffers_free(l);
  TSContDataSet(l->cont, NULL);
  TSContDestroy(l->cont);
  free(l);
}

static const struct tb_link_ops ats_ops = {
    .engine = "ats",
    .clean_close = false,
    .open_proves = false,
    .is_open = is_open,
    .use = use,
    .reenable = reenable,
    .shutdown_write = shutdown_write,
    .die = die,
    .close = close_link,
};

struct tb_link *tb_link_ats_open(const struct tb_link_spec *spec, TSMutex mutex, TSEventThread thread,
                                 tb_link_fn fn, void *owner) {
  struct link_ats *l = calloc(1, sizeof *l);
  if (l == NULL) {
    return NULL;
  }
  tb_link_base_init(&l->base, &ats_ops, spec, mutex, on_timer, fn, owner);
  l->state = L_STARTING;
  l->cont = TSContCreate(on_event, mutex);
  TSContDataSet(l->cont, &l->base);
  if (thread != NULL) {
    /* The first step runs on thread, under mutex (STARTING's timer). */
    TSMutexLock(mutex);
    tb_timer_arm(&l->base.timer, 0, thread);
    TSMutexUnlock(mutex);
    return &l->base;
  }
  if (!start(l)) {
    tb_link_close(&l->base);
    return NULL;
  }
  return &l->base;
}
