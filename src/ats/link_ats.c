/*
 * link_ats: links made by Traffic Server itself (see link.h).
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
#include "link.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_http.h"

#define LINK_MAGIC 0x544c4e4bu /* "TLNK" */
#define LINK_DEAD_MAGIC 0xdeadc0deu
#define WATCH_MS 250 /* how often an unused open link looks for a close ATS did not report */

enum link_state { L_STARTING, L_OPENING, L_OPEN, L_USED, L_DEAD };

static const char *const state_names[] = {"starting", "opening", "open", "used", "dead"};

struct tb_link {
  uint32_t magic;
  enum link_state state;
  uint64_t id;
  TSCont cont;           /* owned: the VConn's events */
  struct tb_timer timer; /* owned: what it means depends on the state (see the top) */
  TSVConn vc;            /* owned: the internal transaction; NULL when dead */
  TSIOBuffer in;         /* owned until used: ATS's answer (and anything after it) */
  TSIOBufferReader in_reader;
  TSIOBuffer msg; /* owned until used: the internal CONNECT */
  TSIOBufferReader msg_reader;
  TSVIO read_vio;
  struct tb_resp resp; /* ATS's answer */
  int64_t parsed;      /* bytes of in_reader already fed to resp */
  int64_t expire_at;   /* OPEN: EXPIRED at this time (ms); 0: never */
  bool steady;         /* OPEN: STEADY was told */
  unsigned open_timeout_ms;
  tb_link_fn fn;
  void *owner;
  struct tb_peer peer;
  struct sockaddr_storage client;
  char peer_text[TB_PEER_TEXT_MAX];
  char target[TB_PEER_TEXT_MAX];
};

static void set_state(struct tb_link *l, enum link_state s) {
  TB_DEBUG("[%" PRIu64 "] link to %s: %s -> %s", l->id, l->peer_text, state_names[l->state], state_names[s]);
  l->state = s;
}

static void buffers_free(struct tb_link *l) {
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
static void die(struct tb_link *l) {
  tb_timer_stop(&l->timer);
  if (l->vc != NULL) {
    TSVConnClose(l->vc);
    l->vc = NULL;
  }
  l->read_vio = NULL;
  set_state(l, L_DEAD);
}

/* Tell the owner; l may be gone when this returns. */
static void tell(struct tb_link *l, enum tb_link_news news, const struct tb_link_failure *why) {
  l->fn(l->owner, l, news, why);
}

static void fail(struct tb_link *l, enum tb_link_cause cause, unsigned status, const char *fmt, ...)
    TS_PRINTFLIKE(4, 5);
static void fail(struct tb_link *l, enum tb_link_cause cause, unsigned status, const char *fmt, ...) {
  struct tb_link_failure why = {cause, status, ""};
  va_list ap;
  va_start(ap, fmt);
  /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): started above */
  vsnprintf(why.text, sizeof why.text, fmt, ap);
  va_end(ap);
  TB_DEBUG("[%" PRIu64 "] link to %s failed: %s", l->id, l->peer_text, why.text);
  die(l);
  tell(l, TB_LINK_FAILED, &why); /* may free l */
}

static void lose(struct tb_link *l, const char *what) {
  struct tb_link_failure why = {TB_LINK_BROKEN, 502, ""};
  snprintf(why.text, sizeof why.text, "connection to peer %s lost while unused: %s", l->peer_text, what);
  TB_DEBUG("[%" PRIu64 "] %s", l->id, why.text);
  die(l);
  tell(l, TB_LINK_LOST, &why); /* may free l */
}

/* Open the internal transaction and write the internal CONNECT.  Returns
 * false (nothing open) on failure. */
static bool start(struct tb_link *l) {
  char connect[TB_PEER_TEXT_MAX + 64];
  int len = tb_http_format_connect(connect, sizeof connect, &l->peer);
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
  opts.addr = (struct sockaddr const *)&l->client;
  opts.tag = TB_TAG;
  opts.id = (int64_t)l->id;
  l->vc = TSHttpConnectPlugin(&opts);
  if (l->vc == NULL) {
    return false;
  }
  set_state(l, L_OPENING);
  l->read_vio = TSVConnRead(l->vc, l->cont, l->in, INT64_MAX);
  /* Bounded to the internal CONNECT: the owner's own write replaces it. */
  TSVConnWrite(l->vc, l->cont, l->msg_reader, len);
  if (l->open_timeout_ms != 0) {
    tb_timer_arm(&l->timer, l->open_timeout_ms, NULL);
  }
  return true;
}

/* OPENING, bytes from ATS: its answer to the internal CONNECT. */
static void on_answer(struct tb_link *l) {
  enum tb_resp_result r = tb_resp_feed(&l->resp, l->in_reader, &l->parsed);
  if (r == TB_RESP_MORE) {
    TSVIOReenable(l->read_vio);
    return;
  }
  if (r == TB_RESP_ERROR) {
    fail(l, TB_LINK_INTERNAL, 502,
         "tls_bridge: bad answer from Traffic Server while connecting to peer %s: %s", l->peer_text,
         l->resp.error);
    return;
  }
  if (l->resp.status != 200) {
    /* ATS could not reach the peer (refused, unresolvable, timed out). */
    bool timeout = l->resp.status == 504;
    fail(l, timeout ? TB_LINK_TIMEOUT : TB_LINK_UNREACHABLE, timeout ? 504 : 502,
         "tls_bridge: cannot reach peer %s for %s: %u %s", l->peer_text, l->target, l->resp.status,
         l->resp.reason);
    return;
  }
  TSIOBufferReaderConsume(l->in_reader, l->parsed);
  l->parsed = 0;
  tb_timer_stop(&l->timer);
  set_state(l, L_OPEN);
  tb_timer_arm(&l->timer, WATCH_MS, NULL);
  tell(l, TB_LINK_OPENED, NULL); /* may free l */
}

/* The timer: what it means depends on the state. */
static int on_timer(TSCont cont, TSEvent event, void *edata) {
  (void)event;
  (void)edata;
  struct tb_link *l = TSContDataGet(cont);
  if (l == NULL || l->magic != LINK_MAGIC) {
    TSError("[%s] timer of a link that is gone (%p): ignored", TB_TAG, (void *)l);
    return 0;
  }
  l->timer.action = NULL;
  switch (l->state) {
  case L_STARTING:
    if (!start(l)) {
      fail(l, TB_LINK_INTERNAL, 502, "tls_bridge: could not open a transaction towards peer %s",
           l->peer_text);
    }
    return 0;
  case L_OPENING:
    fail(l, TB_LINK_TIMEOUT, 504, "tls_bridge: peer %s did not answer in time", l->peer_text);
    return 0;
  case L_OPEN:
    /* ATS may not report a close of an idle connection (see the nudge in
     * tunnel.c): a read pass with nothing new is what reports it. */
    TSVIOReenable(l->read_vio);
    tb_timer_arm(&l->timer, WATCH_MS, NULL);
    if (!l->steady) {
      /* Open for a whole watch and not lost: ATS answers the internal
       * CONNECT on TCP alone, so this, not OPENED, says the peer took it. */
      l->steady = true;
      tell(l, TB_LINK_STEADY, NULL); /* may free l */
      return 0;
    }
    if (l->expire_at != 0 && tb_now_ms() >= l->expire_at) {
      l->expire_at = 0;
      tell(l, TB_LINK_EXPIRED, NULL); /* may free l */
    }
    return 0;
  case L_USED:
  case L_DEAD:
  default:
    return 0; /* cancelled when the state changed; nothing to do */
  }
}

/* An event of the internal transaction, before the owner took it over. */
static void on_vio(struct tb_link *l, TSEvent event) {
  char name[32];
  switch (event) {
  case TS_EVENT_VCONN_WRITE_READY:
  case TS_EVENT_VCONN_WRITE_COMPLETE:
    return; /* the internal CONNECT going out */
  case TS_EVENT_VCONN_READ_READY:
    if (l->state == L_OPENING) {
      on_answer(l); /* may free l */
    } else if (TSIOBufferReaderAvail(l->in_reader) > 0) {
      lose(l, "unexpected bytes from the peer"); /* may free l */
    }
    return;
  case TS_EVENT_VCONN_READ_COMPLETE:
  case TS_EVENT_VCONN_EOS:
    if (l->state == L_OPENING) {
      fail(l, TB_LINK_UNREACHABLE, 502,
           "tls_bridge: connection towards peer %s closed before it was established", l->peer_text);
    } else {
      lose(l, "peer side closed");
    }
    return;
  case TS_EVENT_ERROR:
  case TS_EVENT_VCONN_INACTIVITY_TIMEOUT:
  case TS_EVENT_VCONN_ACTIVE_TIMEOUT:
  default:
    if (l->state == L_OPENING) {
      fail(l, TB_LINK_BROKEN, 502, "tls_bridge: connection to peer %s failed (%s)", l->peer_text,
           tb_event_name(event, name, sizeof name));
    } else {
      lose(l, tb_event_name(event, name, sizeof name));
    }
    return;
  }
}

static int on_event(TSCont cont, TSEvent event, void *edata) {
  (void)edata; /* the VIO: a link has one of each, so the event says which */
  struct tb_link *l = TSContDataGet(cont);
  char name[32];
  if (l == NULL || l->magic != LINK_MAGIC) {
    TSError("[%s] %s for a link that is gone (%p): ignored", TB_TAG, tb_event_name(event, name, sizeof name),
            (void *)l);
    return 0;
  }
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
      TB_DEBUG("[%" PRIu64 "] link to %s: %s while %s: ignored", l->id, l->peer_text,
               tb_event_name(event, name, sizeof name), state_names[l->state]);
      return 0;
    }
    on_vio(l, event); /* may free l */
    return 0;
  default:
    TSError("[%s] [%" PRIu64 "] link to %s: unexpected %s while %s: closing it", TB_TAG, l->id, l->peer_text,
            tb_event_name(event, name, sizeof name), state_names[l->state]);
    if (l->state == L_OPEN) {
      lose(l, "unexpected event");
    } else if (l->state == L_OPENING || l->state == L_STARTING) {
      fail(l, TB_LINK_INTERNAL, 502, "tls_bridge: connection to peer %s: unexpected event", l->peer_text);
    }
    return 0;
  }
}

struct tb_link *tb_link_open(const struct tb_link_spec *spec, TSMutex mutex, TSEventThread thread,
                             tb_link_fn fn, void *owner) {
  struct tb_link *l = calloc(1, sizeof *l);
  if (l == NULL) {
    return NULL;
  }
  l->magic = LINK_MAGIC;
  l->state = L_STARTING;
  l->id = spec->id;
  l->fn = fn;
  l->owner = owner;
  l->peer = *spec->peer;
  l->open_timeout_ms = spec->open_timeout_ms;
  if (spec->client != NULL) {
    size_t n = spec->client->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    memcpy(&l->client, spec->client, n);
  }
  if (tb_peer_format(&l->peer, l->peer_text, sizeof l->peer_text) < 0) {
    snprintf(l->peer_text, sizeof l->peer_text, "%s", l->peer.host);
  }
  snprintf(l->target, sizeof l->target, "%s", spec->target != NULL ? spec->target : "-");
  l->cont = TSContCreate(on_event, mutex);
  TSContDataSet(l->cont, l);
  tb_timer_init(&l->timer, on_timer, mutex, l);
  if (thread != NULL) {
    /* The first step runs on thread, under mutex (STARTING's timer). */
    TSMutexLock(mutex);
    tb_timer_arm(&l->timer, 0, thread);
    TSMutexUnlock(mutex);
    return l;
  }
  if (!start(l)) {
    tb_link_close(l);
    return NULL;
  }
  return l;
}

TSMutex tb_link_mutex(const struct tb_link *l) {
  return TSContMutexGet(l->cont);
}

bool tb_link_adopt(struct tb_link *l, tb_link_fn fn, void *owner) {
  l->fn = fn;
  l->owner = owner;
  l->expire_at = 0;
  return l->state == L_OPEN;
}

void tb_link_expire_in(struct tb_link *l, unsigned ms) {
  l->expire_at = ms == 0 ? 0 : tb_now_ms() + ms;
}

TSVConn tb_link_use(struct tb_link *l, TSCont cont, TSIOBuffer in, TSIOBufferReader out, TSVIO *read_vio,
                    TSVIO *write_vio) {
  if (l->state != L_OPEN) {
    return NULL;
  }
  int64_t rest = TSIOBufferReaderAvail(l->in_reader);
  if (rest > 0 && TSIOBufferCopy(in, l->in_reader, rest, 0) != rest) {
    die(l);
    return NULL;
  }
  tb_timer_stop(&l->timer);
  set_state(l, L_USED);
  /* New VIOs replace the link's: from here on cont gets the events. */
  *read_vio = TSVConnRead(l->vc, cont, in, INT64_MAX);
  *write_vio = TSVConnWrite(l->vc, cont, out, INT64_MAX);
  l->read_vio = NULL;
  buffers_free(l);
  return l->vc;
}

void tb_link_close(struct tb_link *l) {
  if (l == NULL) {
    return;
  }
  tb_timer_fini(&l->timer);
  if (l->vc != NULL) {
    TSVConnClose(l->vc); /* before freeing the buffers its VIOs point into */
    l->vc = NULL;
  }
  buffers_free(l);
  TSContDataSet(l->cont, NULL);
  TSContDestroy(l->cont);
  l->magic = LINK_DEAD_MAGIC;
  free(l);
}
