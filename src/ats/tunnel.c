/*
 * tunnel: the per-CONNECT state machine and byte shuttle.  See tunnel.h for
 * ownership and docs/architecture.md for the state x event table.
 *
 * Set-up runs in two steps over one internal transaction (`peer`):
 *   PEER_OPEN    we wrote "CONNECT https://peer:port" to ATS itself; ATS core
 *                opens TLS to the peer (proxy.config.ssl.client.*) and answers
 *                200 as soon as TCP is up.  Its answer is consumed here.
 *   PEER_ANSWER  the client's CONNECT (as ATS rebuilt it and wrote it into
 *                `ua`) flows to the peer; we parse the peer's answer in place.
 * A 2xx answer is passed to `ua` unchanged, together with any tunnel bytes
 * that came in the same read, and both directions become plain shuttles.
 * Anything else ends in a response of our own (REFUSE) naming the peer and
 * the cause, then the tunnel closes.
 *
 * Each direction reads into one IOBuffer and writes out of the same buffer:
 * no copies, and the bytes held per direction are bounded by the PluginVC
 * transfer limit (max(water mark, 32 KiB)) because a source is re-enabled only
 * when its destination asks for more (WRITE_READY).
 */
#include "tunnel.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <string.h>
#include <time.h>

#include "tb_http.h"
#include "tb_resp.h"
#include "live.h"
#include "stats.h"

#define TUNNEL_MAGIC 0x54424e4cu /* "TBNL": checked on every event */
#define TUNNEL_DEAD 0xdeadbeefu
#define TARGET_MAX (TB_HOST_MAX + 16)
#define MSG_MAX 512
#define NUDGE_MIN_MS 20           /* EOS nudge right after bytes moved (see nudge()) */
#define NUDGE_MAX_MS 2000         /* EOS nudge on an idle tunnel */
#define NUDGE_WARM_MS 250         /* EOS nudge on a pooled connection */
#define POOL_BACKOFF_MIN_MS 100   /* first wait after a failed warm-up */
#define POOL_BACKOFF_MAX_MS 10000 /* longest wait between warm-ups to a failing peer */
#define LINGER_MS 1000            /* how long one direction may stay open after the other closed */

enum phase {
  PH_WARMING,     /* pool: opening a connection to the peer ahead of any client */
  PH_WARM,        /* pool: open and idle, waiting to be claimed */
  PH_ACCEPT,      /* intercepted, waiting for NET_ACCEPT */
  PH_PEER_OPEN,   /* waiting for ATS's own answer to the internal CONNECT */
  PH_PEER_ANSWER, /* waiting for the peer's answer to the client's CONNECT */
  PH_HANDOVER,    /* the peer's 2xx header is with ATS; tunnel bytes wait */
  PH_TUNNEL,      /* moving bytes both ways */
  PH_REFUSE,      /* writing our error response to the client, then close */
};

static const char *const phase_names[] = {"warming",     "warm",     "accept", "peer-open",
                                          "peer-answer", "handover", "tunnel", "refuse"};

/* One direction: bytes read from `read_vio`'s VConn into `buf`, written out
 * of `reader` by `write_vio`.  The tunnel owns buf (and so reader). */
struct dir {
  TSIOBuffer buf;
  TSIOBufferReader reader;
  TSVIO read_vio;  /* source side; NULL until reading starts */
  TSVIO write_vio; /* destination side; NULL until writing starts */
  bool eos;        /* the source said EOS: no more bytes will come */
  bool done;       /* all bytes delivered and the destination shut for write */
};

struct tunnel {
  uint32_t magic;
  enum phase phase;
  uint64_t id;
  TSCont cont;            /* owned; its mutex serialises everything below */
  TSVConn ua;             /* owned: client side from the intercept */
  TSVConn peer;           /* owned: internal transaction towards the peer */
  struct dir ua_to_peer;  /* client bytes: ua -> peer */
  struct dir peer_to_ua;  /* peer bytes: peer -> ua */
  TSAction timer;         /* set-up deadline, a warm connection's retirement, or the pool's kick */
  TSAction nudge_timer;   /* the EOS nudge (see nudge()); NULL when not pending */
  int64_t nudge_ms;       /* current nudge interval */
  int64_t nudge_seen;     /* bytes read both ways at the last nudge */
  int64_t half_closed_ms; /* monotonic ms when the first direction finished; 0 before */
  struct tb_resp resp;    /* parser for the answer being awaited */
  int64_t parsed;         /* bytes of peer_to_ua.reader already fed to resp */
  TSIOBuffer msg_buf;     /* owned: the header we write to ua (ours in REFUSE, the peer's in HANDOVER) */
  TSIOBufferReader msg_reader;
  TSIOBufferReader replay; /* owned (a reader of ua_to_peer.buf): the client's CONNECT, kept until
                              the peer answers, to resend it if a pooled connection was stale */
  struct tb_pool *pool;    /* not owned: the pool a warming/warm tunnel belongs to */
  struct tb_pool *home;    /* not owned: a client tunnel's pool for its peer, or NULL */
  struct tb_live *live;    /* owned reference (client tunnels): the configuration the tunnel started with */
  const char *rule_origin; /* not owned: in live's configuration */
  struct tunnel *reg_prev; /* the registry of open client tunnels (tb_tunnel_dump) */
  struct tunnel *reg_next;
  int64_t started_ms;     /* monotonic ms at the intercept */
  int64_t open_ms;        /* when the tunnel opened (2xx handed over); 0 before */
  int64_t last_active_ms; /* when bytes last moved (checked by the nudge) */
  int handover_ready;     /* WRITE_READYs seen in HANDOVER (see start_handover) */
  int slot;               /* the pool slot (event thread) a warming/warm tunnel belongs to */
  unsigned connect_timeout_ms;
  unsigned idle_timeout_ms; /* 0: none */
  unsigned max_lifetime_ms; /* 0: none */
  unsigned client_status;   /* the status the client was given; 0: none yet */
  const char *refused_why;  /* static text: why the client got our own answer (the log's close reason) */
  bool client;              /* a client's tunnel (counted in tunnels.active), not a pool connection */
  bool reused;              /* claimed from the pool: the peer connection was opened earlier */
  bool retried;             /* a stale pooled connection was replaced once already */
  struct sockaddr_storage client_addr;
  struct tb_peer peer_addr;
  char peer_text[TARGET_MAX]; /* "host:port" of the peer, for messages */
  char target[TARGET_MAX];    /* "host:port" the client asked for, for messages */
};

static atomic_uint_fast64_t next_id = 1;
static TSTextLogObject g_log; /* not owned; set once at init */

void tb_tunnel_set_log(TSTextLogObject log) {
  g_log = log;
}
static atomic_int_fast64_t live_tunnels = 0;

/* Open client tunnels, for `traffic_ctl plugin msg tls_bridge tunnels`.
 * Lock order: a tunnel's mutex, then g_reg_lock (tb_tunnel_dump only tries
 * tunnel mutexes, never waits for one while holding g_reg_lock). */
static pthread_mutex_t g_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tunnel *g_reg_head;

static void reg_add(struct tunnel *t) {
  pthread_mutex_lock(&g_reg_lock);
  t->reg_prev = NULL;
  t->reg_next = g_reg_head;
  if (g_reg_head != NULL) {
    g_reg_head->reg_prev = t;
  }
  g_reg_head = t;
  pthread_mutex_unlock(&g_reg_lock);
}

static void reg_remove(struct tunnel *t) {
  pthread_mutex_lock(&g_reg_lock);
  if (t->reg_prev != NULL) {
    t->reg_prev->reg_next = t->reg_next;
  } else if (g_reg_head == t) {
    g_reg_head = t->reg_next;
  }
  if (t->reg_next != NULL) {
    t->reg_next->reg_prev = t->reg_prev;
  }
  t->reg_prev = t->reg_next = NULL;
  pthread_mutex_unlock(&g_reg_lock);
}

/* Warm connections to one peer: tunnels that have done their set-up step 1
 * (internal transaction, TCP and TLS to the peer) before any client asked,
 * so that a new tunnel only has to send the client's CONNECT.  The lock is a
 * leaf: it is held only to push or pop a pointer and adjust counters, never
 * while calling into ATS. */
#define POOL_THREADS_MAX 64

/* The warm connections made on one event thread.  A tunnel only takes one
 * made on its own thread: both PluginVCs of a tunnel then live on one
 * thread, where their hand-offs never miss a lock (a lock miss costs a
 * 10 ms retry in PluginVC, which measured here cut a cross-thread tunnel's
 * throughput from 170 to 13 MiB/s). */
struct pool_slot {
  TSEventThread thread;
  struct tunnel *idle[TB_POOL_MAX]; /* not owned: each warm tunnel owns itself */
  int nidle;
  int warming; /* tunnels in PH_WARMING for this slot */
};

struct tb_pool {
  pthread_mutex_t lock;
  struct pool_slot slots[POOL_THREADS_MAX];
  int nslots;
  int size; /* how many to keep ready per event thread */
  unsigned max_age_ms;
  unsigned connect_timeout_ms;
  int64_t last_claim_ms; /* the pool refills only while its peer is in use */
  int64_t backoff_ms;    /* after a failed warm-up: wait before the next one */
  int64_t next_try_ms;
  struct tb_peer peer;
};

int64_t tb_tunnel_count(void) {
  return (int64_t)atomic_load(&live_tunnels);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void dbg(const struct tunnel *t, const char *fmt, ...) TS_PRINTFLIKE(2, 3);
static void dbg(const struct tunnel *t, const char *fmt, ...) {
  char line[MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): started above */
  va_end(ap);
  TSDebug(TB_TAG, "[%" PRIu64 "] %s", t->id, line);
}

/* Debug lines cost a format only when the tag is on. */
#define DBG(t, ...)                                                                                          \
  do {                                                                                                       \
    if (TSIsDebugTagSet(TB_TAG)) {                                                                           \
      dbg((t), __VA_ARGS__);                                                                                 \
    }                                                                                                        \
  } while (0)

static int tunnel_handler(TSCont cont, TSEvent event, void *edata);
static void nudge_schedule(struct tunnel *t);
static void nudge_stop(struct tunnel *t);
static void cancel_timer(struct tunnel *t);

static void dir_init(struct dir *d) {
  /* Small blocks: the PluginVC moves every chunk of 128 bytes or more by
   * sharing ATS's own blocks (no copy, no block of ours), and copies only
   * smaller chunks into our blocks.  So our block size costs bulk transfers
   * nothing, while an idle or chatty tunnel keeps 4 KiB per direction
   * rather than 32 KiB. */
  d->buf = TSIOBufferSizedCreate(TS_IOBUFFER_SIZE_INDEX_4K);
  d->reader = TSIOBufferReaderAlloc(d->buf);
}

static void dir_fini(struct dir *d) {
  if (d->buf != NULL) {
    TSIOBufferDestroy(d->buf); /* frees its readers too */
  }
  memset(d, 0, sizeof *d);
}

/* Free everything.  The caller returns at once: t is gone. */
static void tunnel_destroy(struct tunnel *t) {
  cancel_timer(t);
  nudge_stop(t);
  /* Close before freeing the buffers the VIOs point into. */
  if (t->ua != NULL) {
    TSVConnClose(t->ua);
    t->ua = NULL;
  }
  if (t->peer != NULL) {
    TSVConnClose(t->peer);
    t->peer = NULL;
  }
  dir_fini(&t->ua_to_peer);
  dir_fini(&t->peer_to_ua);
  if (t->msg_buf != NULL) {
    TSIOBufferDestroy(t->msg_buf);
  }
  if (t->client) {
    tb_stat_add(TB_STAT_TUNNELS_ACTIVE, -1);
    reg_remove(t);
  }
  tb_live_release(t->live);
  TSContDataSet(t->cont, NULL);
  TSContDestroy(t->cont);
  t->magic = TUNNEL_DEAD;
  free(t);
  atomic_fetch_sub(&live_tunnels, 1);
}

/* One line per client tunnel in tls_bridge.log (see README, "Tunnel log"). */
static void log_tunnel(const struct tunnel *t, const char *why, int64_t up, int64_t down) {
  char addr[INET6_ADDRSTRLEN] = "-";
  int port = 0;
  if (g_log == NULL) {
    return;
  }
  if (t->client_addr.ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)&t->client_addr;
    inet_ntop(AF_INET, &a->sin_addr, addr, sizeof addr);
    port = ntohs(a->sin_port);
  } else if (t->client_addr.ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&t->client_addr;
    inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof addr);
    port = ntohs(a->sin6_port);
  }
  int64_t now = now_ms();
  int64_t setup = (t->open_ms != 0 ? t->open_ms : now) - t->started_ms;
  TSTextLogObjectWrite(g_log,
                       "id=%" PRIu64 " client=%s:%d target=%s rule=\"%s\" peer=%s status=%u up=%" PRId64
                       " down=%" PRId64 " setup_ms=%" PRId64 " duration_ms=%" PRId64 " close=\"%s\"",
                       t->id, addr, port, t->target, t->rule_origin != NULL ? t->rule_origin : "-",
                       t->peer_text, t->client_status, up, down, setup, now - t->started_ms, why);
}

static void tunnel_end(struct tunnel *t, const char *why) {
  int64_t up =
      t->ua_to_peer.write_vio != NULL && t->phase == PH_TUNNEL ? TSVIONDoneGet(t->ua_to_peer.write_vio) : 0;
  int64_t down =
      t->peer_to_ua.write_vio != NULL && t->phase == PH_TUNNEL ? TSVIONDoneGet(t->peer_to_ua.write_vio) : 0;
  if (t->client) {
    log_tunnel(t, why, up, down);
  }
  tb_stat_add(TB_STAT_BYTES_CLIENT_TO_PEER, up);
  tb_stat_add(TB_STAT_BYTES_PEER_TO_CLIENT, down);
  DBG(t, "close (%s) in %s: target %s via %s, %" PRId64 " bytes up, %" PRId64 " bytes down", why,
      phase_names[t->phase], t->target, t->peer_text, up, down);
  tunnel_destroy(t);
}

static void cancel_timer(struct tunnel *t) {
  if (t->timer != NULL) {
    TSActionCancel(t->timer);
    t->timer = NULL;
  }
}

static void warm_fail(struct tunnel *t, const char *why);
static bool retry_fresh(struct tunnel *t);

/* The log's close reason for a refusal of this cause. */
static const char *cause_text(enum tb_stat cause) {
  switch (cause) {
  case TB_STAT_FAIL_PEER_UNREACHABLE:
    return "refused: peer unreachable";
  case TB_STAT_FAIL_PEER_CLOSED:
    return "refused: peer closed before answering";
  case TB_STAT_FAIL_PEER_REFUSED:
    return "refused: peer answered non-2xx";
  case TB_STAT_FAIL_PEER_TIMEOUT:
    return "refused: peer timeout";
  case TB_STAT_FAIL_PEER_BAD_RESPONSE:
    return "refused: bad peer response";
  default:
    return "refused: internal error";
  }
}

/* Answer the client ourselves and close.  Only before any peer byte went to
 * the client (set-up phases). */
static void refuse(struct tunnel *t, enum tb_stat cause, unsigned status, const char *reason, const char *fmt,
                   ...) TS_PRINTFLIKE(5, 6);
static void refuse(struct tunnel *t, enum tb_stat cause, unsigned status, const char *reason, const char *fmt,
                   ...) {
  char body[MSG_MAX];
  char msg[MSG_MAX + 256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(body, sizeof body, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): started above */
  va_end(ap);

  DBG(t, "refuse %u: %s", status, body);
  nudge_stop(t);
  if (t->ua == NULL) {
    warm_fail(t, body); /* a pool connection: nobody to answer */
    return;
  }
  tb_stat_add(cause, 1);
  t->client_status = status;
  t->refused_why = cause_text(cause);
  cancel_timer(t);
  if (t->peer != NULL) {
    TSVConnClose(t->peer);
    t->peer = NULL;
    t->ua_to_peer.write_vio = NULL;
    t->peer_to_ua.read_vio = NULL;
  }
  int len = tb_http_format_response(msg, sizeof msg, status, reason, body);
  if (len < 0) {
    /* Cannot happen with the sizes above; close rather than send half. */
    tunnel_end(t, "response did not fit");
    return;
  }
  /* Header only (see tb_http.h): written whole, then the tunnel closes. */
  t->phase = PH_REFUSE;
  if (t->msg_buf != NULL) {
    TSIOBufferDestroy(t->msg_buf); /* the internal CONNECT's; its VConn is closed */
  }
  t->msg_buf = TSIOBufferSizedCreate(TS_IOBUFFER_SIZE_INDEX_1K);
  t->msg_reader = TSIOBufferReaderAlloc(t->msg_buf);
  TSIOBufferWrite(t->msg_buf, msg, len);
  t->peer_to_ua.write_vio = TSVConnWrite(t->ua, t->cont, t->msg_reader, len);
}

/* Feed the parser the bytes of the peer's reader it has not seen yet. */
static enum tb_resp_result parse_answer(struct tunnel *t) {
  TSIOBufferReader rd = t->peer_to_ua.reader;
  int64_t skip = t->parsed;
  for (TSIOBufferBlock b = TSIOBufferReaderStart(rd); b != NULL; b = TSIOBufferBlockNext(b)) {
    int64_t avail = 0;
    const char *p = TSIOBufferBlockReadStart(b, rd, &avail);
    if (skip >= avail) {
      skip -= avail;
      continue;
    }
    size_t used = 0;
    enum tb_resp_result r = tb_resp_parse(&t->resp, p + skip, (size_t)(avail - skip), &used);
    t->parsed += (int64_t)used;
    skip = 0;
    if (r != TB_RESP_MORE) {
      return r;
    }
  }
  return TB_RESP_MORE;
}

/* PEER_OPEN: ATS's own answer to "CONNECT https://peer".  It comes when TCP
 * is up, before TLS is known to work; TLS failures show up in PEER_ANSWER. */
static void on_peer_answer(struct tunnel *t, bool eos);
static void start_handover(struct tunnel *t, bool eos);
static void become_warm(struct tunnel *t);
static void pool_peer_ok(struct tb_pool *p);

static void on_peer_open_answer(struct tunnel *t) {
  enum tb_resp_result r = parse_answer(t);
  if (r == TB_RESP_MORE) {
    TSVIOReenable(t->peer_to_ua.read_vio);
    return;
  }
  if (r == TB_RESP_ERROR) {
    refuse(t, TB_STAT_FAIL_ERROR, 502, NULL,
           "tls_bridge: bad answer from Traffic Server while connecting to peer %s: %s", t->peer_text,
           t->resp.error);
    return;
  }
  if (t->resp.status != 200) {
    /* ATS could not reach the peer (refused, unresolvable, timed out). */
    unsigned status = t->resp.status == 504 ? 504 : 502;
    refuse(t, status == 504 ? TB_STAT_FAIL_PEER_TIMEOUT : TB_STAT_FAIL_PEER_UNREACHABLE, status, NULL,
           "tls_bridge: cannot reach peer %s for %s: %u %s", t->peer_text, t->target, t->resp.status,
           t->resp.reason);
    return;
  }
  TSIOBufferReaderConsume(t->peer_to_ua.reader, t->parsed);
  t->parsed = 0;
  tb_resp_init(&t->resp);
  if (t->ua == NULL) {
    become_warm(t);
    return;
  }
  DBG(t, "peer %s: connection open, sending the client's CONNECT", t->peer_text);
  t->phase = PH_PEER_ANSWER;
  /* ATS may not report a peer that closes before answering (see nudge()):
   * without the nudge such a CONNECT waited for the connect timeout. */
  t->nudge_ms = NUDGE_MIN_MS;
  nudge_schedule(t);
  /* From here on ua_to_peer is a plain shuttle: the client's CONNECT, then
   * its tunnel bytes.  (The internal CONNECT was consumed by the first,
   * bounded write; a second TSVConnWrite replaces it.) */
  t->ua_to_peer.write_vio = TSVConnWrite(t->peer, t->cont, t->ua_to_peer.reader, INT64_MAX);
  /* Bytes after ATS's answer, if any, are the peer's: parse them now, as no
   * further READ_READY may come for bytes already buffered. */
  if (TSIOBufferReaderAvail(t->peer_to_ua.reader) > 0) {
    on_peer_answer(t, false);
  }
}

/* PEER_ANSWER: the peer's answer to the client's CONNECT. */
static void on_peer_answer(struct tunnel *t, bool eos) {
  enum tb_resp_result r = parse_answer(t);
  if (r == TB_RESP_MORE) {
    if (eos && retry_fresh(t)) {
      return;
    }
    if (eos) {
      refuse(t, TB_STAT_FAIL_PEER_CLOSED, 502, NULL,
             "tls_bridge: peer %s closed the connection before answering the CONNECT for %s "
             "(connection refused, TLS handshake failed, or the peer dropped the connection)",
             t->peer_text, t->target);
    } else {
      TSVIOReenable(t->peer_to_ua.read_vio);
    }
    return;
  }
  if (t->replay != NULL) {
    TSIOBufferReaderFree(t->replay); /* the peer answered: no resend */
    t->replay = NULL;
  }
  if (r == TB_RESP_DONE && t->home != NULL) {
    pool_peer_ok(t->home); /* the peer works: no need to wait before warming */
  }
  if (r == TB_RESP_ERROR) {
    refuse(t, TB_STAT_FAIL_PEER_BAD_RESPONSE, 502, NULL,
           "tls_bridge: peer %s sent an answer that is not HTTP: %s", t->peer_text, t->resp.error);
    return;
  }
  unsigned status = t->resp.status;
  if (status < 200) {
    refuse(t, TB_STAT_FAIL_PEER_BAD_RESPONSE, 502, NULL,
           "tls_bridge: peer %s sent an interim %u answer to CONNECT", t->peer_text, status);
    return;
  }
  if (status >= 300) {
    refuse(t, TB_STAT_FAIL_PEER_REFUSED, status, t->resp.reason,
           "tls_bridge: peer %s refused CONNECT %s: %u %s", t->peer_text, t->target, status, t->resp.reason);
    return;
  }
  DBG(t, "peer %s answered %u for %s: tunnel open", t->peer_text, status, t->target);
  cancel_timer(t);
  start_handover(t, eos);
}

/* The peer said 2xx.  Its header goes to ua unchanged (the client-side ATS
 * parses it as the origin's answer and sends the client its own 200).
 *
 * ATS 9.2 drops whatever sits in its server buffer after that header when it
 * switches the transaction to a blind tunnel (HttpSM::setup_blind_tunnel is
 * called without the initial data for CONNECT), so tunnel bytes that came in
 * the same read as the 2xx must not reach ATS together with the header.  The
 * header is therefore written alone, by a VIO asking for one byte more than
 * the header: the PluginVC answers WRITE_READY once when it moves the header
 * across, and again only after ATS's side has read it (process_read_side
 * wakes the writer after the reader's READ_READY returned, and ATS stops
 * reading at the end of the header in that READ_READY).  On that second
 * WRITE_READY the tunnel bytes may follow. */
static void start_handover(struct tunnel *t, bool eos) {
  int64_t hdr_len = t->parsed;
  t->client_status = t->resp.status;
  nudge_stop(t);
  if (t->msg_buf != NULL) {
    TSIOBufferDestroy(t->msg_buf); /* the internal CONNECT's, long written */
  }
  t->msg_buf = TSIOBufferSizedCreate(TS_IOBUFFER_SIZE_INDEX_1K);
  t->msg_reader = TSIOBufferReaderAlloc(t->msg_buf);
  TSIOBufferCopy(t->msg_buf, t->peer_to_ua.reader, hdr_len, 0); /* shares blocks, no byte copy */
  TSIOBufferReaderConsume(t->peer_to_ua.reader, hdr_len);
  t->parsed = 0;
  t->peer_to_ua.eos = eos;
  t->handover_ready = 0;
  t->phase = PH_HANDOVER;
  t->peer_to_ua.write_vio = TSVConnWrite(t->ua, t->cont, t->msg_reader, hdr_len + 1);
}

static bool dir_source_eos(struct tunnel *t, struct dir *d, TSVConn dst);
static void nudge_schedule(struct tunnel *t);

/* ATS has read the header: the peer's bytes may flow.  Returns true when t
 * is gone. */
static bool finish_handover(struct tunnel *t) {
  struct dir *d = &t->peer_to_ua;
  t->phase = PH_TUNNEL;
  t->open_ms = now_ms();
  t->last_active_ms = t->open_ms;
  d->write_vio = TSVConnWrite(t->ua, t->cont, d->reader, INT64_MAX);
  /* The header's buffer is no longer any VIO's: free it for the tunnel's life. */
  TSIOBufferDestroy(t->msg_buf);
  t->msg_buf = NULL;
  t->msg_reader = NULL;
  t->nudge_ms = NUDGE_MIN_MS;
  nudge_schedule(t);
  if (d->eos) {
    return dir_source_eos(t, d, t->ua);
  }
  /* Reads paused during the handover; wake the source. */
  TSVIOReenable(d->read_vio);
  return false;
}

/* ATS 9.2's PluginVC::do_io_shutdown only sets a flag: it does not wake the
 * reader on the other side.  When ATS shuts the write side of one of our
 * VConns just after its last bytes were handed to us, our side may already
 * have made its last read pass and the EOS is never delivered, leaving the
 * tunnel open after a close (seen here on about 1 service close in 5).  So
 * while tunnelling we re-enable both source reads now and then: a read pass
 * with nothing new to move is what reports a pending EOS.  The interval is
 * short (NUDGE_MIN_MS) right after bytes moved, when a close is likely, and
 * backs off to NUDGE_MAX_MS while the tunnel is idle. */

static void nudge_schedule(struct tunnel *t) {
  if (t->nudge_timer != NULL) {
    TSActionCancel(t->nudge_timer);
  }
  t->nudge_timer = TSContScheduleOnPool(t->cont, (TSHRTime)t->nudge_ms, TS_THREAD_POOL_NET);
}

static void nudge_stop(struct tunnel *t) {
  if (t->nudge_timer != NULL) {
    TSActionCancel(t->nudge_timer);
    t->nudge_timer = NULL;
  }
}

/* The same ATS behaviour hides the close of a connection waiting in the
 * pool, or of a peer connection a client's CONNECT was just sent on: the
 * peer read is re-enabled in those phases too (WARM: every NUDGE_WARM_MS;
 * PEER_ANSWER, fresh or reused connection: from NUDGE_MIN_MS, backing off to
 * about NUDGE_WARM_MS), so that a dead connection is noticed, a CONNECT sent
 * on a stale pooled one resent, and a peer that closes before answering
 * answered with 502 at once rather than at the connect timeout. */
static void kick_writer(struct dir *d) {
  if (d->write_vio != NULL && !d->done && TSIOBufferReaderAvail(d->reader) > 0) {
    TSVIOReenable(d->write_vio);
  }
}

static void nudge(struct tunnel *t) {
  if (t->phase == PH_WARM || t->phase == PH_PEER_ANSWER) {
    TSVIOReenable(t->peer_to_ua.read_vio);
    if (t->phase == PH_PEER_ANSWER && t->nudge_ms < NUDGE_WARM_MS) {
      t->nudge_ms *= 2; /* 20 ms doubling to 320 ms: set-up is short */
    }
    nudge_schedule(t);
    return;
  }
  if (t->phase != PH_TUNNEL) {
    return;
  }
  if (t->half_closed_ms != 0 && now_ms() - t->half_closed_ms > LINGER_MS) {
    /* See LINGER in docs/architecture.md: ATS may never report the close
     * that should end the other direction; bound the wait. */
    tb_stat_add(TB_STAT_TUNNELS_COMPLETED, 1);
    tunnel_end(t, "other direction still open 1 s after one side closed");
    return;
  }
  int64_t now = now_ms();
  if (t->max_lifetime_ms != 0 && now - t->started_ms >= (int64_t)t->max_lifetime_ms) {
    tb_stat_add(TB_STAT_FAIL_LIFETIME, 1);
    tunnel_end(t, "maximum lifetime reached");
    return;
  }
  int64_t seen = TSVIONDoneGet(t->ua_to_peer.read_vio) + TSVIONDoneGet(t->peer_to_ua.read_vio);
  if (seen == t->nudge_seen && t->idle_timeout_ms != 0 &&
      now - t->last_active_ms >= (int64_t)t->idle_timeout_ms) {
    tb_stat_add(TB_STAT_FAIL_IDLE_TIMEOUT, 1);
    tunnel_end(t, "idle timeout");
    return;
  }
  if (seen != t->nudge_seen) {
    t->nudge_seen = seen;
    t->last_active_ms = now;
    t->nudge_ms = NUDGE_MIN_MS;
  } else if (t->nudge_ms < NUDGE_MAX_MS) {
    t->nudge_ms *= 2;
  }
  if (!t->ua_to_peer.eos) {
    TSVIOReenable(t->ua_to_peer.read_vio);
  }
  if (!t->peer_to_ua.eos) {
    TSVIOReenable(t->peer_to_ua.read_vio);
  }
  /* Bytes already in our buffer move only when their write VIO is
   * re-enabled; should a READ_READY ever go unanswered, the nudge is what
   * delivers them rather than the peer's inactivity timeout. */
  kick_writer(&t->ua_to_peer);
  kick_writer(&t->peer_to_ua);
  nudge_schedule(t);
}

/* Is the tunnel over?  Then end it.  Returns true when t is gone. */
static bool maybe_finish(struct tunnel *t) {
  if (t->ua_to_peer.done && t->peer_to_ua.done) {
    tb_stat_add(TB_STAT_TUNNELS_COMPLETED, 1);
    tunnel_end(t, "both directions done");
    return true;
  }
  if (t->half_closed_ms == 0) {
    /* Watch closely from now on: an idle tunnel's nudge may be 2 s away. */
    t->half_closed_ms = now_ms();
    t->nudge_ms = NUDGE_MIN_MS;
    nudge_schedule(t);
  }
  return false;
}

/* The source of d said EOS: let the destination drain, then shut its write
 * side, so a FIN travels after the bytes before it. */
static bool dir_source_eos(struct tunnel *t, struct dir *d, TSVConn dst) {
  d->eos = true;
  DBG(t, "EOS from the %s side; %" PRId64 " bytes still to deliver", d == &t->ua_to_peer ? "client" : "peer",
      TSIOBufferReaderAvail(d->reader));
  if (d->write_vio == NULL) {
    return false;
  }
  int64_t pending = TSIOBufferReaderAvail(d->reader);
  TSVIONBytesSet(d->write_vio, TSVIONDoneGet(d->write_vio) + pending);
  if (pending > 0) {
    TSVIOReenable(d->write_vio); /* WRITE_COMPLETE follows */
    return false;
  }
  TSVConnShutdown(dst, 0, 1);
  d->done = true;
  return maybe_finish(t);
}

/* WRITE_COMPLETE on d's destination: meaningful only after the source's EOS
 * fixed nbytes (set-up writes are bounded too, and complete early). */
static bool dir_dest_complete(struct tunnel *t, struct dir *d, TSVConn dst) {
  if (!d->eos || d->done) {
    return false;
  }
  DBG(t, "%s side shut for writing after all bytes", d == &t->ua_to_peer ? "peer" : "client");
  TSVConnShutdown(dst, 0, 1);
  d->done = true;
  return maybe_finish(t);
}

/* Open the internal transaction towards the peer: "CONNECT https://peer"
 * from the small message buffer, by a write bounded to its length, and the
 * peer side read into peer_to_ua.  Returns false (t->peer NULL) on failure. */
static bool open_peer(struct tunnel *t) {
  char connect[TARGET_MAX + 64];
  int len = tb_http_format_connect(connect, sizeof connect, &t->peer_addr);
  if (len < 0) {
    return false;
  }
  if (t->msg_buf != NULL) {
    TSIOBufferDestroy(t->msg_buf);
  }
  t->msg_buf = TSIOBufferSizedCreate(TS_IOBUFFER_SIZE_INDEX_1K);
  t->msg_reader = TSIOBufferReaderAlloc(t->msg_buf);
  TSIOBufferWrite(t->msg_buf, connect, len);

  TSHttpConnectOptions opts = TSHttpConnectOptionsGet(TS_CONNECT_PLUGIN);
  opts.addr = (struct sockaddr const *)&t->client_addr;
  opts.tag = TB_TAG;
  opts.id = (int64_t)t->id;
  t->peer = TSHttpConnectPlugin(&opts);
  if (t->peer == NULL) {
    return false;
  }
  t->phase = t->ua == NULL ? PH_WARMING : PH_PEER_OPEN;
  t->peer_to_ua.read_vio = TSVConnRead(t->peer, t->cont, t->peer_to_ua.buf, INT64_MAX);
  t->ua_to_peer.write_vio = TSVConnWrite(t->peer, t->cont, t->msg_reader, len);
  return true;
}

static void on_accept(struct tunnel *t, TSVConn ua) {
  t->ua = ua;
  cancel_timer(t);
  /* ATS writes its rebuilt copy of the client's CONNECT into ua now. */
  t->ua_to_peer.read_vio = TSVConnRead(ua, t->cont, t->ua_to_peer.buf, INT64_MAX);
  t->timer = TSContScheduleOnPool(t->cont, (TSHRTime)t->connect_timeout_ms, TS_THREAD_POOL_NET);
  if (t->peer != NULL) {
    /* A warm connection from the pool: TCP and TLS are up, send the
     * client's CONNECT at once.  Keep a reader on it in case the
     * connection turns out stale (see retry_fresh). */
    t->reused = true;
    t->replay = TSIOBufferReaderClone(t->ua_to_peer.reader);
    t->phase = PH_PEER_ANSWER;
    t->ua_to_peer.write_vio = TSVConnWrite(t->peer, t->cont, t->ua_to_peer.reader, INT64_MAX);
    t->nudge_ms = NUDGE_MIN_MS;
    nudge_schedule(t);
    DBG(t, "accepted; sending the CONNECT for %s over a warm connection to %s", t->target, t->peer_text);
    return;
  }
  if (!open_peer(t)) {
    refuse(t, TB_STAT_FAIL_ERROR, 502, NULL, "tls_bridge: could not open a transaction towards peer %s",
           t->peer_text);
    return;
  }
  DBG(t, "accepted; connecting to peer %s for %s", t->peer_text, t->target);
}

/* A pooled connection failed before the peer answered anything: it had
 * gone stale (the peer closed it while idle).  Resend the client's CONNECT
 * once, on a new connection, so that a stale pool entry never fails a
 * client.  Returns false when this does not apply. */
static bool retry_fresh(struct tunnel *t) {
  if (!t->reused || t->retried || t->replay == NULL || t->parsed != 0 ||
      TSIOBufferReaderAvail(t->peer_to_ua.reader) != 0) {
    return false;
  }
  DBG(t, "warm connection to %s was stale; resending the CONNECT on a new one", t->peer_text);
  t->retried = true;
  tb_stat_add(TB_STAT_POOL_STALE_RETRIED, 1);
  TSVConnClose(t->peer);
  t->peer = NULL;
  TSIOBufferReaderFree(t->ua_to_peer.reader);
  t->ua_to_peer.reader = t->replay; /* back to the start of the client's CONNECT */
  t->replay = NULL;
  t->ua_to_peer.write_vio = NULL;
  dir_fini(&t->peer_to_ua);
  dir_init(&t->peer_to_ua);
  tb_resp_init(&t->resp);
  t->parsed = 0;
  if (!open_peer(t)) {
    refuse(t, TB_STAT_FAIL_ERROR, 502, NULL, "tls_bridge: could not open a transaction towards peer %s",
           t->peer_text);
  }
  return true;
}

/* ---- the pool ---------------------------------------------------------- */

static struct tunnel *tunnel_alloc(void) {
  TSMutex mutex = TSMutexCreate();
  struct tunnel *t = calloc(1, sizeof *t);
  if (t == NULL || mutex == NULL) {
    free(t);
    return NULL;
  }
  t->magic = TUNNEL_MAGIC;
  t->id = atomic_fetch_add(&next_id, 1);
  t->cont = TSContCreate(tunnel_handler, mutex);
  TSContDataSet(t->cont, t);
  dir_init(&t->ua_to_peer);
  dir_init(&t->peer_to_ua);
  atomic_fetch_add(&live_tunnels, 1);
  return t;
}

/* The slot for event thread th, made if new (under p->lock); -1 if none. */
static int slot_index(struct tb_pool *p, TSEventThread th, bool make) {
  if (th == NULL) {
    return -1;
  }
  for (int i = 0; i < p->nslots; i++) {
    if (p->slots[i].thread == th) {
      return i;
    }
  }
  if (!make || p->nslots == POOL_THREADS_MAX) {
    return -1;
  }
  p->slots[p->nslots].thread = th;
  return p->nslots++;
}

/* Start warming connections on slot i's thread until it has the pool's
 * size (counting those warming), unless the peer is idle or a recent
 * warm-up failed. */
static void pool_refill(struct tb_pool *p, int i) {
  int64_t now = now_ms();
  int need;
  TSEventThread th;
  pthread_mutex_lock(&p->lock);
  struct pool_slot *sl = &p->slots[i];
  th = sl->thread;
  need = p->size - sl->nidle - sl->warming;
  if (now < p->next_try_ms || now - p->last_claim_ms > (int64_t)p->max_age_ms) {
    need = 0;
  }
  if (need > 0) {
    sl->warming += need;
  }
  pthread_mutex_unlock(&p->lock);
  for (int k = 0; k < need; k++) {
    struct tunnel *t = tunnel_alloc();
    if (t == NULL) {
      pthread_mutex_lock(&p->lock);
      p->slots[i].warming -= need - k;
      pthread_mutex_unlock(&p->lock);
      return;
    }
    t->pool = p;
    t->slot = i;
    t->phase = PH_WARMING;
    t->peer_addr = p->peer;
    t->connect_timeout_ms = p->connect_timeout_ms;
    if (tb_peer_format(&p->peer, t->peer_text, sizeof t->peer_text) < 0) {
      snprintf(t->peer_text, sizeof t->peer_text, "%s", p->peer.host);
    }
    snprintf(t->target, sizeof t->target, "(pool)");
    /* The internal transaction's client address: loopback, the ingress. */
    struct sockaddr_in *sin = (struct sockaddr_in *)&t->client_addr;
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin->sin_port = htons(1); /* TSHttpConnectPlugin asserts a non-zero port */
    /* Open it on the slot's thread, under the tunnel's own mutex (the
     * first IMMEDIATE in WARMING with no peer yet). */
    TSMutexLock(TSContMutexGet(t->cont));
    t->timer = TSContScheduleOnThread(t->cont, 0, th);
    TSMutexUnlock(TSContMutexGet(t->cont));
  }
}

/* Refill the slot of the calling event thread. */
static void pool_refill_here(struct tb_pool *p) {
  pthread_mutex_lock(&p->lock);
  int i = slot_index(p, TSEventThreadSelf(), true);
  pthread_mutex_unlock(&p->lock);
  if (i >= 0) {
    pool_refill(p, i);
  }
}

/* WARMING -> WARM: join the idle list (or go away if it is full). */
static void become_warm(struct tunnel *t) {
  struct tb_pool *p = t->pool;
  bool kept = false;
  cancel_timer(t);
  t->phase = PH_WARM;
  pthread_mutex_lock(&p->lock);
  struct pool_slot *sl = &p->slots[t->slot];
  sl->warming--;
  p->backoff_ms = 0;
  if (sl->nidle < p->size) {
    sl->idle[sl->nidle++] = t;
    kept = true;
  }
  pthread_mutex_unlock(&p->lock);
  if (!kept) {
    tunnel_end(t, "pool already full");
    return;
  }
  DBG(t, "warm connection to %s ready", t->peer_text);
  t->nudge_ms = NUDGE_WARM_MS;
  nudge_schedule(t);
  /* Retire it before the peer's idle timeout can close it under a client. */
  t->timer = TSContScheduleOnPool(t->cont, (TSHRTime)p->max_age_ms, TS_THREAD_POOL_NET);
}

/* Forget a claimed warm connection that died before the client's
 * NET_ACCEPT: on_accept then opens a new one. */
static void drop_peer(struct tunnel *t) {
  nudge_stop(t);
  if (t->peer != NULL) {
    TSVConnClose(t->peer);
    t->peer = NULL;
  }
  t->ua_to_peer.write_vio = NULL;
  dir_fini(&t->peer_to_ua);
  dir_init(&t->peer_to_ua);
}

/* Events on the peer side before any client: WARMING, WARM, and ACCEPT for
 * a claimed warm tunnel. */
static void on_warm_vio_event(struct tunnel *t, TSEvent event, TSVIO vio) {
  if (vio != t->peer_to_ua.read_vio && vio != t->ua_to_peer.write_vio) {
    DBG(t, "event %d for an unknown VIO in %s: ignored", (int)event, phase_names[t->phase]);
    return;
  }
  if (event == TS_EVENT_VCONN_WRITE_READY || event == TS_EVENT_VCONN_WRITE_COMPLETE) {
    return; /* the internal CONNECT going out */
  }
  if (event == TS_EVENT_VCONN_READ_READY && t->phase == PH_WARMING) {
    on_peer_open_answer(t); /* -> WARM, or warm_fail */
    return;
  }
  /* EOS, an error, or bytes nobody asked for: this connection is done. */
  if (t->phase == PH_ACCEPT) {
    DBG(t, "claimed warm connection lost (event %d): a new one will be opened", (int)event);
    drop_peer(t);
    return;
  }
  warm_fail(t, event == TS_EVENT_VCONN_READ_READY ? "unexpected bytes from the peer" : "peer side closed");
}

/* A warming or warm tunnel failed, expired or saw its peer close. */
static void warm_fail(struct tunnel *t, const char *why) {
  struct tb_pool *p = t->pool;
  bool mine = t->phase == PH_WARMING;
  bool failed = t->phase == PH_WARMING;
  int slot = t->slot;
  pthread_mutex_lock(&p->lock);
  struct pool_slot *sl = &p->slots[slot];
  if (t->phase == PH_WARMING) {
    sl->warming--;
  } else {
    for (int i = 0; i < sl->nidle; i++) {
      if (sl->idle[i] == t) {
        sl->idle[i] = sl->idle[--sl->nidle];
        mine = true;
        break;
      }
    }
  }
  if (failed) {
    p->backoff_ms = p->backoff_ms == 0
                        ? POOL_BACKOFF_MIN_MS
                        : (p->backoff_ms * 2 > POOL_BACKOFF_MAX_MS ? POOL_BACKOFF_MAX_MS : p->backoff_ms * 2);
    p->next_try_ms = now_ms() + p->backoff_ms;
  }
  pthread_mutex_unlock(&p->lock);
  if (!mine) {
    /* Claimed by a client at this very moment (popped, its mutex not yet
     * taken): drop the dead connection; the client's NET_ACCEPT will find no
     * peer and open a new one. */
    DBG(t, "claimed warm connection lost (%s): a new one will be opened", why);
    cancel_timer(t);
    drop_peer(t);
    return;
  }
  tunnel_end(t, why);
  pool_refill(p, slot);
}

/* A client's tunnel reached the peer: warm-ups may start again at once. */
static void pool_peer_ok(struct tb_pool *p) {
  pthread_mutex_lock(&p->lock);
  bool was_failing = p->backoff_ms != 0;
  p->backoff_ms = 0;
  p->next_try_ms = 0;
  pthread_mutex_unlock(&p->lock);
  if (was_failing) {
    pool_refill_here(p);
  }
}

/* Take a warm tunnel, or NULL. */
static struct tunnel *pool_claim(struct tb_pool *p) {
  struct tunnel *t = NULL;
  pthread_mutex_lock(&p->lock);
  p->last_claim_ms = now_ms();
  int i = slot_index(p, TSEventThreadSelf(), false);
  if (i >= 0 && p->slots[i].nidle > 0) {
    t = p->slots[i].idle[--p->slots[i].nidle];
  }
  pthread_mutex_unlock(&p->lock);
  return t;
}

struct tb_pool *tb_pool_create(const struct tb_peer *peer, int size, unsigned max_age_ms,
                               unsigned connect_timeout_ms) {
  struct tb_pool *p = calloc(1, sizeof *p);
  if (p == NULL) {
    return NULL;
  }
  if (pthread_mutex_init(&p->lock, NULL) != 0) {
    free(p);
    return NULL;
  }
  p->size = size < 0 ? 0 : (size > TB_POOL_MAX ? TB_POOL_MAX : size);
  p->max_age_ms = max_age_ms;
  p->connect_timeout_ms = connect_timeout_ms;
  p->peer = *peer;
  return p;
}

/* READ_READY / WRITE_READY while moving bytes: the classic pair of
 * re-enables, which is also the backpressure (see the top of this file). */
static void on_ready(struct dir *d, bool is_read) {
  if (is_read) {
    if (d->write_vio != NULL) {
      TSVIOReenable(d->write_vio);
    }
  } else if (!d->eos && d->read_vio != NULL) {
    TSVIOReenable(d->read_vio);
  }
}

static void on_vio_event(struct tunnel *t, TSEvent event, TSVIO vio) {
  if (t->phase == PH_WARMING || t->phase == PH_WARM || t->phase == PH_ACCEPT) {
    on_warm_vio_event(t, event, vio); /* may free t */
    return;
  }
  struct dir *d = NULL;
  bool is_read = false;
  TSVConn dst = NULL;
  if (vio == t->ua_to_peer.read_vio) {
    d = &t->ua_to_peer, is_read = true;
  } else if (vio == t->peer_to_ua.read_vio) {
    d = &t->peer_to_ua, is_read = true;
  } else if (vio == t->ua_to_peer.write_vio) {
    d = &t->ua_to_peer, dst = t->peer;
  } else if (vio == t->peer_to_ua.write_vio) {
    d = &t->peer_to_ua, dst = t->ua;
  } else {
    DBG(t, "event %d for an unknown VIO in %s: ignored", (int)event, phase_names[t->phase]);
    return;
  }
  bool from_ua = (d == &t->ua_to_peer) == is_read;

  switch (event) {
  case TS_EVENT_VCONN_READ_READY:
  case TS_EVENT_VCONN_READ_COMPLETE:
  case TS_EVENT_VCONN_EOS: {
    bool eos = event != TS_EVENT_VCONN_READ_READY;
    if (t->phase == PH_REFUSE) {
      if (eos && from_ua) {
        tunnel_end(t, "client gone while refused");
      }
      return;
    }
    if (from_ua && (t->phase == PH_PEER_OPEN || (t->phase == PH_PEER_ANSWER && eos))) {
      /* Before the peer is open the client's CONNECT waits in ua_to_peer;
       * a client that leaves before its answer ends the set-up. */
      if (eos) {
        tb_stat_add(TB_STAT_FAIL_CLIENT_GONE, 1);
        tunnel_end(t, "client gone during set-up");
      }
      return;
    }
    if (!from_ua && t->phase == PH_PEER_OPEN) {
      if (eos) {
        refuse(t, TB_STAT_FAIL_PEER_UNREACHABLE, 502, NULL,
               "tls_bridge: connection towards peer %s closed before it was established", t->peer_text);
      } else {
        on_peer_open_answer(t);
      }
      return;
    }
    if (!from_ua && t->phase == PH_PEER_ANSWER) {
      on_peer_answer(t, eos);
      return;
    }
    if (!from_ua && t->phase == PH_HANDOVER) {
      /* Peer bytes wait in peer_to_ua until ATS has taken the header. */
      d->eos = d->eos || eos;
      return;
    }
    if (eos) {
      (void)dir_source_eos(t, d, from_ua ? t->peer : t->ua); /* may free t */
      return;
    }
    on_ready(d, true);
    return;
  }
  case TS_EVENT_VCONN_WRITE_READY:
    if (t->phase == PH_HANDOVER && vio == t->peer_to_ua.write_vio) {
      if (++t->handover_ready >= 2) {
        (void)finish_handover(t); /* may free t */
      }
      return;
    }
    if (t->phase == PH_TUNNEL || t->phase == PH_PEER_ANSWER || t->phase == PH_HANDOVER) {
      on_ready(d, false);
    }
    return;
  case TS_EVENT_VCONN_WRITE_COMPLETE:
    if (t->phase == PH_REFUSE) {
      if (vio == t->peer_to_ua.write_vio) {
        tunnel_end(t, t->refused_why != NULL ? t->refused_why : "refused");
      }
      return;
    }
    (void)dir_dest_complete(t, d, dst); /* may free t */
    return;
  case TS_EVENT_ERROR:
  case TS_EVENT_VCONN_INACTIVITY_TIMEOUT:
  case TS_EVENT_VCONN_ACTIVE_TIMEOUT:
  default:
    if (!from_ua && t->phase == PH_PEER_ANSWER && retry_fresh(t)) {
      return;
    }
    if (!from_ua && (t->phase == PH_PEER_OPEN || t->phase == PH_PEER_ANSWER || t->phase == PH_HANDOVER)) {
      if (t->phase == PH_HANDOVER) {
        tb_stat_add(TB_STAT_FAIL_ERROR, 1);
        tunnel_end(t, "error while handing the peer's answer to the client");
        return;
      }
      refuse(t, TB_STAT_FAIL_PEER_CLOSED, 502, NULL, "tls_bridge: connection to peer %s failed (event %d)",
             t->peer_text, (int)event);
      return;
    }
    DBG(t, "event %d on the %s %s side", (int)event, from_ua ? "client" : "peer", is_read ? "read" : "write");
    tb_stat_add(TB_STAT_FAIL_ERROR, 1);
    tunnel_end(t, from_ua ? "client side error" : "peer side error");
    return;
  }
}

static int tunnel_handler(TSCont cont, TSEvent event, void *edata) {
  struct tunnel *t = TSContDataGet(cont);
  if (t == NULL || t->magic != TUNNEL_MAGIC) {
    TSError("[%s] event %d for a tunnel that is gone (%p): ignored", TB_TAG, (int)event, (void *)t);
    return 0;
  }
  switch (event) {
  case TS_EVENT_NET_ACCEPT:
    if (t->phase != PH_ACCEPT) {
      DBG(t, "second NET_ACCEPT in %s: closing it", phase_names[t->phase]);
      TSVConnClose((TSVConn)edata);
      return 0;
    }
    on_accept(t, (TSVConn)edata);
    return 0;
  case TS_EVENT_NET_ACCEPT_FAILED:
    /* The transaction died before the intercept was accepted (for example
     * the CONNECT port is not in proxy.config.http.connect_ports).  No
     * VConn was ever ours; the continuation is, and only we free it. */
    tb_stat_add(TB_STAT_FAIL_ERROR, 1);
    tunnel_end(t, "transaction ended before the intercept was accepted");
    return 0;
  case TS_EVENT_IMMEDIATE: /* a timer scheduled with no delay (the pool's kick) */
  case TS_EVENT_TIMEOUT:
    /* Two timers share this handler; TSActionCancel-able actions may carry
     * a tag in their low bit, so compare without it. */
    if (t->nudge_timer != NULL && ((uintptr_t)edata | 1u) == ((uintptr_t)t->nudge_timer | 1u)) {
      t->nudge_timer = NULL;
      nudge(t); /* may free t */
      return 0;
    }
    t->timer = NULL;
    if (t->phase == PH_WARMING && t->peer == NULL) {
      if (!open_peer(t)) {
        warm_fail(t, "could not open a transaction towards the peer");
        return 0;
      }
      t->timer = TSContScheduleOnPool(t->cont, (TSHRTime)t->connect_timeout_ms, TS_THREAD_POOL_NET);
      return 0;
    }
    if (t->phase == PH_WARMING || t->phase == PH_WARM) {
      warm_fail(t, t->phase == PH_WARM ? "retired at its maximum age" : "peer did not answer in time");
      return 0;
    }
    if (t->phase == PH_PEER_OPEN || t->phase == PH_PEER_ANSWER) {
      refuse(t, TB_STAT_FAIL_PEER_TIMEOUT, 504, NULL,
             "tls_bridge: peer %s did not answer the CONNECT for %s within %u ms", t->peer_text, t->target,
             t->connect_timeout_ms);
    }
    return 0;
  case TS_EVENT_VCONN_READ_READY:
  case TS_EVENT_VCONN_READ_COMPLETE:
  case TS_EVENT_VCONN_EOS:
  case TS_EVENT_VCONN_WRITE_READY:
  case TS_EVENT_VCONN_WRITE_COMPLETE:
  case TS_EVENT_VCONN_INACTIVITY_TIMEOUT:
  case TS_EVENT_VCONN_ACTIVE_TIMEOUT:
  case TS_EVENT_ERROR:
    on_vio_event(t, event, (TSVIO)edata); /* may free t */
    return 0;
  default:
    DBG(t, "unexpected event %d in %s: ending the tunnel", (int)event, phase_names[t->phase]);
    tb_stat_add(TB_STAT_FAIL_ERROR, 1);
    tunnel_end(t, "unexpected event");
    return 0;
  }
}

TSReturnCode tb_tunnel_start(TSHttpTxn txn, struct tb_live *live, const struct tb_rule *rule,
                             const struct tb_settings *s, const char *host, int host_len, int port,
                             struct tb_pool *pool) {
  struct tunnel *t = pool != NULL ? pool_claim(pool) : NULL;
  bool warm = t != NULL;
  if (t == NULL && (t = tunnel_alloc()) == NULL) {
    return TS_ERROR;
  }
  TSMutex mutex = TSContMutexGet(t->cont);
  TSMutexLock(mutex); /* a warm tunnel may be handling a peer event right now */
  cancel_timer(t);    /* a warm tunnel's retirement */
  nudge_stop(t);
  t->pool = NULL; /* the client's now */
  t->client = true;
  t->home = pool;
  t->phase = PH_ACCEPT;
  t->peer_addr = rule->peer;
  t->connect_timeout_ms = s->connect_timeout_ms;
  t->idle_timeout_ms = s->idle_timeout_ms;
  t->max_lifetime_ms = s->max_lifetime_ms;
  t->started_ms = now_ms();
  t->live = live;
  t->rule_origin = rule->origin;
  if (tb_peer_format(&rule->peer, t->peer_text, sizeof t->peer_text) < 0) {
    snprintf(t->peer_text, sizeof t->peer_text, "%s", rule->peer.host);
  }
  bool v6 = memchr(host, ':', (size_t)host_len) != NULL;
  snprintf(t->target, sizeof t->target, "%s%.*s%s:%d", v6 ? "[" : "",
           host_len > TB_HOST_MAX ? TB_HOST_MAX : host_len, host, v6 ? "]" : "", port);
  struct sockaddr const *ca = TSHttpTxnClientAddrGet(txn);
  if (ca != NULL) {
    size_t n = ca->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    memcpy(&t->client_addr, ca, n);
  }
  tb_stat_add(TB_STAT_TUNNELS_STARTED, 1);
  tb_stat_add(TB_STAT_TUNNELS_ACTIVE, 1);
  if (warm) {
    tb_stat_add(TB_STAT_POOL_WARM_USED, 1);
  }
  reg_add(t);
  DBG(t, "CONNECT %s matches rule '%s' (%s): bridging to %s%s", t->target, rule->pattern, rule->origin,
      t->peer_text, warm ? " (warm connection)" : "");
  TSMutexUnlock(mutex);
  /* Remap rules are for what ATS forwards itself; this transaction is ours. */
  TSHttpTxnCntlSet(txn, TS_HTTP_CNTL_SKIP_REMAPPING, true);
  TSHttpTxnIntercept(t->cont, txn);
  if (pool != NULL) {
    pool_refill_here(pool);
  }
  return TS_SUCCESS;
}

/* Like log_tunnel's fields, for a tunnel still open.  Runs on a task thread:
 * a tunnel busy on its own thread right now is listed without its details
 * rather than waited for. */
void tb_tunnel_dump(void) {
  int64_t now = now_ms();
  size_t n = 0;
  int64_t budget_us = 50 * 1000;
  pthread_mutex_lock(&g_reg_lock);
  for (struct tunnel *t = g_reg_head; t != NULL; t = t->reg_next, n++) {
    TSMutex m = TSContMutexGet(t->cont);
    /* A tunnel's own thread holds its mutex only for the few microseconds
     * of an event; wait that out a little, within a budget for the whole
     * listing, since tunnel starts and ends wait for g_reg_lock meanwhile. */
    TSReturnCode locked;
    while ((locked = TSMutexLockTry(m)) != TS_SUCCESS && budget_us > 0) {
      struct timespec pause = {0, 100 * 1000};
      nanosleep(&pause, NULL);
      budget_us -= 100;
    }
    if (locked != TS_SUCCESS) {
      TSNote("[%s] tunnel id=%" PRIu64 " target=%s peer=%s rule=\"%s\" (busy: details skipped)", TB_TAG,
             t->id, t->target, t->peer_text, t->rule_origin != NULL ? t->rule_origin : "-");
      continue;
    }
    int64_t up =
        t->ua_to_peer.write_vio != NULL && t->phase == PH_TUNNEL ? TSVIONDoneGet(t->ua_to_peer.write_vio) : 0;
    int64_t down =
        t->peer_to_ua.write_vio != NULL && t->phase == PH_TUNNEL ? TSVIONDoneGet(t->peer_to_ua.write_vio) : 0;
    TSNote("[%s] tunnel id=%" PRIu64 " target=%s peer=%s rule=\"%s\" configuration=%" PRIu64
           " state=%s age_ms=%" PRId64 " up=%" PRId64 " down=%" PRId64,
           TB_TAG, t->id, t->target, t->peer_text, t->rule_origin != NULL ? t->rule_origin : "-",
           t->live != NULL ? tb_live_generation(t->live) : 0, phase_names[t->phase], now - t->started_ms, up,
           down);
    TSMutexUnlock(m);
  }
  pthread_mutex_unlock(&g_reg_lock);
  TSNote("[%s] %zu open tunnel%s", TB_TAG, n, n == 1 ? "" : "s");
}
