/*
 * link_direct: the direct engine's links (see link.h, link_base.h).  The
 * link resolves the peer with Traffic Server's resolver (TSHostLookup),
 * opens TCP with TSNetConnect and runs the TLS client itself (tb_tls.h:
 * OpenSSL over memory BIOs, under direct.h's settings), so a tunnel's bytes
 * cross no internal transaction and no second PluginVC pair.
 *
 * To its owner the link is a VConn like any other: a plugin VConn
 * (TSVConnCreate) whose two VIOs the owner sets up in tb_link_use.  The
 * link moves their bytes through the TLS pump to and from the network
 * connection, and sends the owner's continuation what a VConn would
 * (READ_READY, EOS, ERROR; WRITE_READY, WRITE_COMPLETE), always from its
 * own handler, never from inside a call the owner made.  The owner's
 * re-enables and its write shutdown come through link.h and schedule the
 * link on its home thread, where its network connection lives (ATS would
 * send a plugin VConn's re-enable to any net thread, and the lock missed
 * there costs a retry of some milliseconds).
 *
 * States: STARTING (the first step, scheduled) -> RESOLVING -> CONNECTING
 * -> HANDSHAKE -> OPEN (unused; watched) -> USED, or DEAD.  The timer is
 * the first step (STARTING), the open deadline (RESOLVING to HANDSHAKE) and
 * the watch (OPEN).
 *
 * Half-close both ways: the owner's write shutdown becomes close_notify
 * after its last byte, and the peer's close_notify an EOS after the peer's
 * last byte.  A network close without close_notify once the handshake is
 * done is an EOS too (as ATS's own TLS reads it), with a debug line.
 *
 * Reentrancy: telling the owner may close the link.  Every handler counts
 * itself in `depth`; tb_link_close inside one only closes the connection
 * and marks the link `closing`, and the outermost handler frees it on its
 * way out.  Code after a call that may tell the owner checks `closing`.
 */
#include "link_base.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "direct.h"

#define DOWN_MAX (64 * 1024) /* the owner's unread plaintext the link tops up to */
#define OUT_MAX (64 * 1024)  /* ciphertext waiting for the network the link tops up to */
#define CHUNK (16 * 1024)    /* one copy through the stack */
#define SERVICE_ROUNDS 64    /* passes of one service before it yields (a kick follows) */

enum dstate { D_STARTING, D_RESOLVING, D_CONNECTING, D_HANDSHAKE, D_OPEN, D_USED, D_DEAD };

static const char *const state_names[] = {"starting", "resolving", "connecting", "handshake",
                                          "open",     "used",      "dead"};

struct link_direct {
  struct tb_link base;
  enum dstate state;
  struct tb_direct *direct; /* a reference */
  TSCont cont;              /* owned: lookup, connect and network events, and kicks */
  TSEventThread home;       /* where the network connection lives: kicks run there */
  TSAction pending;         /* a lookup or connect in flight */
  TSAction kick;            /* a scheduled service */
  struct sockaddr_storage addr;
  TSVConn net; /* owned: the TCP connection */
  TSVIO net_read, net_write;
  TSIOBuffer cin; /* owned: ciphertext from the network */
  TSIOBufferReader cin_r;
  TSIOBuffer cout; /* owned: ciphertext to the network */
  TSIOBufferReader cout_r;
  int64_t received;   /* ciphertext bytes from the network so far */
  bool net_eos;       /* the network's read side ended */
  bool net_error;     /* the network connection failed (after use: told as ERROR) */
  struct tb_tls *tls; /* owned */
  /* After tb_link_use: */
  TSVConn vc; /* owned: what the owner reads and writes */
  TSCont owner_cont;
  TSVIO read_vio, write_vio;  /* the owner's, on vc */
  TSIOBufferReader in_reader; /* the owner's reader of read_vio's buffer */
  bool tell_read, tell_write; /* events due to the owner */
  bool shut;                  /* the owner shut its writing: close_notify queued */
  bool ended;                 /* EOS or ERROR told: nothing more goes to the owner */
  int depth;                  /* handlers of this link on the stack */
  bool closing;               /* closed inside a handler: freed when the last one returns */
};

static struct link_direct *direct_of(struct tb_link *b) {
  return (struct link_direct *)b;
}

static void set_state(struct link_direct *l, enum dstate s) {
  TB_DEBUG("[%" PRIu64 "] direct link to %s: %s -> %s", l->base.id, l->base.peer_text, state_names[l->state],
           state_names[s]);
  l->state = s;
}

static void kick(struct link_direct *l) {
  if (l->kick == NULL && l->state != D_DEAD && !l->closing) {
    l->kick = TSContScheduleOnThread(l->cont, 0, l->home);
  }
}

/* ---- the network side -------------------------------------------------- */

/* Ciphertext from the network into the pump.  Returns whether any moved. */
static bool net_in(struct link_direct *l) {
  bool moved = false;
  while (tb_tls_next(l->tls) & TB_TLS_RECV) {
    int64_t n = 0;
    TSIOBufferBlock blk = TSIOBufferReaderStart(l->cin_r);
    const char *p = blk != NULL ? TSIOBufferBlockReadStart(blk, l->cin_r, &n) : NULL;
    size_t taken = 0;
    if (p == NULL || n <= 0) {
      break;
    }
    tb_tls_feed(l->tls, p, (size_t)n, &taken);
    if (taken == 0) {
      break;
    }
    TSIOBufferReaderConsume(l->cin_r, (int64_t)taken);
    moved = true;
  }
  if (moved && l->net_read != NULL && !l->net_eos) {
    TSVIOReenable(l->net_read); /* room again */
  }
  if (l->net_eos && TSIOBufferReaderAvail(l->cin_r) == 0 && (tb_tls_next(l->tls) & TB_TLS_RECV)) {
    tb_tls_feed_eof(l->tls);
    moved = true;
  }
  return moved;
}

/* Ciphertext from the pump to the network.  Returns whether any moved. */
static bool net_out(struct link_direct *l) {
  char buf[CHUNK];
  bool moved = false;
  while (tb_tls_pending_out(l->tls) > 0 && TSIOBufferReaderAvail(l->cout_r) < OUT_MAX) {
    size_t got = 0;
    tb_tls_take_out(l->tls, buf, sizeof buf, &got);
    if (got == 0) {
      break;
    }
    TSIOBufferWrite(l->cout, buf, (int64_t)got);
    moved = true;
  }
  if (moved && l->net_write != NULL && !l->net_error) {
    TSVIOReenable(l->net_write);
  }
  return moved;
}

/* ---- the owner's side -------------------------------------------------- */

/* The owner's bytes into the pump.  Returns whether any moved. */
static bool plain_up(struct link_direct *l) {
  TSIOBufferReader r = TSVIOReaderGet(l->write_vio);
  int64_t todo = TSVIONTodoGet(l->write_vio), done = 0;
  while (r != NULL && done < todo && (tb_tls_next(l->tls) & TB_TLS_WRITE)) {
    int64_t n = 0;
    TSIOBufferBlock blk = TSIOBufferReaderStart(r);
    const char *p = blk != NULL ? TSIOBufferBlockReadStart(blk, r, &n) : NULL;
    size_t taken = 0;
    if (p == NULL || n <= 0) {
      break;
    }
    if (n > todo - done) {
      n = todo - done;
    }
    tb_tls_write(l->tls, p, (size_t)n, &taken);
    if (taken == 0) {
      break;
    }
    TSIOBufferReaderConsume(r, (int64_t)taken);
    done += (int64_t)taken;
  }
  if (done == 0) {
    return false;
  }
  TSVIONDoneSet(l->write_vio, TSVIONDoneGet(l->write_vio) + done);
  l->tell_write = true;
  return true;
}

/* The peer's bytes to the owner, while its unread bytes are under
 * DOWN_MAX.  Returns whether any moved. */
static bool plain_down(struct link_direct *l) {
  char buf[CHUNK];
  TSIOBuffer b = TSVIOBufferGet(l->read_vio);
  int64_t done = 0;
  while (b != NULL && TSIOBufferReaderAvail(l->in_reader) < DOWN_MAX && TSVIONTodoGet(l->read_vio) > done &&
         (tb_tls_next(l->tls) & TB_TLS_READ)) {
    size_t got = 0;
    tb_tls_read(l->tls, buf, sizeof buf, &got);
    if (got == 0) {
      break;
    }
    TSIOBufferWrite(b, buf, (int64_t)got);
    done += (int64_t)got;
  }
  if (done == 0) {
    return false;
  }
  TSVIONDoneSet(l->read_vio, TSVIONDoneGet(l->read_vio) + done);
  l->tell_read = true;
  return true;
}

static void call_owner(struct link_direct *l, TSEvent event, TSVIO vio) {
  TSContCall(l->owner_cont, event, vio); /* may close l */
}

/* What the owner is owed, in order: bytes, then the end; room to write. */
static void tell_owner(struct link_direct *l) {
  if (l->tell_read && !l->ended) {
    l->tell_read = false;
    call_owner(l, TS_EVENT_VCONN_READ_READY, l->read_vio);
    if (l->closing) {
      return;
    }
  }
  enum tb_tls_state s = tb_tls_state(l->tls);
  const struct tb_tls_failure *f = tb_tls_failure(l->tls);
  bool truncated = s == TB_TLS_FAILED && f->cause == TB_TLS_TRUNCATED;
  if (!l->ended && ((tb_tls_next(l->tls) & TB_TLS_EOF) || truncated)) {
    if (truncated) {
      TB_DEBUG("[%" PRIu64 "] direct link to %s: the peer closed without close_notify: taken as its end",
               l->base.id, l->base.peer_text);
    }
    l->ended = true;
    call_owner(l, TS_EVENT_VCONN_EOS, l->read_vio);
    if (l->closing) {
      return;
    }
  } else if (!l->ended && (s == TB_TLS_FAILED || l->net_error)) {
    if (s == TB_TLS_FAILED) {
      bool verify = f->cause == TB_TLS_VERIFY;
      tb_link_note(&l->base, verify ? TB_LINK_VERIFY : TB_LINK_TLS, 502,
                   "tls_bridge: TLS with peer %s failed: %s", l->base.peer_text, f->text);
    } else if (!l->base.failed) {
      tb_link_note(&l->base, TB_LINK_BROKEN, 502, "tls_bridge: connection to peer %s broke",
                   l->base.peer_text);
    }
    l->ended = true;
    call_owner(l, TS_EVENT_ERROR, l->read_vio);
    if (l->closing) {
      return;
    }
  }
  if (l->tell_write) {
    l->tell_write = false;
    bool complete = TSVIONTodoGet(l->write_vio) == 0;
    call_owner(l, complete ? TS_EVENT_VCONN_WRITE_COMPLETE : TS_EVENT_VCONN_WRITE_READY, l->write_vio);
  }
}

/* ---- the states -------------------------------------------------------- */

/* HANDSHAKE done: OPEN, watched, and the owner told. */
static void opened(struct link_direct *l) {
  tb_timer_stop(&l->base.timer);
  TB_DEBUG("[%" PRIu64 "] direct link to %s: %s%s", l->base.id, l->base.peer_text, tb_tls_version(l->tls),
           tb_tls_resumed(l->tls) ? ", session resumed" : "");
  set_state(l, D_OPEN);
  tb_timer_arm(&l->base.timer, TB_LINK_WATCH_MS, NULL);
  tb_link_tell(&l->base, TB_LINK_OPENED, NULL); /* may close l */
}

/* HANDSHAKE failed. */
static void handshake_failed(struct link_direct *l) {
  const struct tb_tls_failure *f = tb_tls_failure(l->tls);
  if (f->cause == TB_TLS_VERIFY) {
    tb_link_fail(&l->base, TB_LINK_VERIFY, 502, "tls_bridge: peer %s: certificate not accepted: %s",
                 l->base.peer_text, f->text);
  } else {
    tb_link_fail(&l->base, TB_LINK_TLS, 502, "tls_bridge: TLS handshake with peer %s failed: %s",
                 l->base.peer_text, f->text);
  }
}

/* OPEN and unused: anything from the peer but TLS's own records ends it. */
static void watch_unused(struct link_direct *l) {
  char one[256];
  size_t got = 0;
  if (tb_tls_next(l->tls) & TB_TLS_READ) {
    tb_tls_read(l->tls, one, sizeof one, &got); /* session tickets are taken here */
  }
  if (got > 0) {
    tb_link_lose(&l->base, "unexpected bytes from the peer");
  } else if (tb_tls_state(l->tls) == TB_TLS_FAILED) {
    tb_link_note(&l->base, TB_LINK_TLS, 502, "tls_bridge: TLS with peer %s failed: %s", l->base.peer_text,
                 tb_tls_failure(l->tls)->text);
    tb_link_lose(&l->base, tb_tls_failure(l->tls)->text);
  } else if ((tb_tls_next(l->tls) & TB_TLS_EOF) || l->net_eos || l->net_error) {
    tb_link_lose(&l->base, "peer side closed");
  }
}

/* Move what can move, then act on where that leaves the link. */
static void service(struct link_direct *l) {
  if (l->tls == NULL || l->state == D_DEAD) {
    return;
  }
  bool again = true;
  for (int i = 0; again && i < SERVICE_ROUNDS; i++) {
    again = net_in(l);
    if (l->state == D_USED) {
      again = plain_up(l) || again;
      again = plain_down(l) || again;
    }
    again = net_out(l) || again;
    if (i == SERVICE_ROUNDS - 1 && again) {
      kick(l); /* yield: a busy link must not hold its thread */
    }
  }
  switch (l->state) {
  case D_HANDSHAKE:
    if (tb_tls_state(l->tls) == TB_TLS_FAILED) {
      handshake_failed(l);
    } else if (tb_tls_state(l->tls) != TB_TLS_HANDSHAKING) {
      opened(l);
    } else if (l->net_error || (l->net_eos && TSIOBufferReaderAvail(l->cin_r) == 0)) {
      tb_link_fail(&l->base, TB_LINK_TLS, 502,
                   "tls_bridge: peer %s closed the connection during the TLS handshake", l->base.peer_text);
    }
    return;
  case D_OPEN:
    watch_unused(l);
    return;
  case D_USED:
    tell_owner(l);
    return;
  case D_STARTING:
  case D_RESOLVING:
  case D_CONNECTING:
  case D_DEAD:
  default:
    return;
  }
}

/* TCP is up (or being set up: a refusal shows as an error on it). */
static void on_connected(struct link_direct *l, TSVConn net) {
  char err[TB_TLS_TEXT_MAX + 64];
  struct tb_peer who = l->base.peer;
  const char *sni = tb_direct_sni(l->direct);
  l->net = net;
  l->cin = TSIOBufferSizedCreate(TS_IOBUFFER_SIZE_INDEX_32K);
  l->cin_r = TSIOBufferReaderAlloc(l->cin);
  l->cout = TSIOBufferSizedCreate(TS_IOBUFFER_SIZE_INDEX_32K);
  l->cout_r = TSIOBufferReaderAlloc(l->cout);
  if (sni != NULL) {
    snprintf(who.host, sizeof who.host, "%s", sni);
  }
  l->tls = tb_tls_create(tb_direct_ctx(l->direct), tb_direct_cache(), &who, err, sizeof err);
  if (l->tls == NULL) {
    tb_link_fail(&l->base, TB_LINK_INTERNAL, 502, "tls_bridge: cannot start TLS to peer %s: %s",
                 l->base.peer_text, err);
    return;
  }
  set_state(l, D_HANDSHAKE);
  l->net_read = TSVConnRead(l->net, l->cont, l->cin, INT64_MAX);
  l->net_write = TSVConnWrite(l->net, l->cont, l->cout_r, INT64_MAX);
  service(l); /* the ClientHello */
}

static void connect_to(struct link_direct *l) {
  set_state(l, D_CONNECTING);
  TSAction a = TSNetConnect(l->cont, (const struct sockaddr *)&l->addr);
  if (l->state == D_CONNECTING && !l->closing) {
    l->pending = a; /* else it called back already */
  }
}

static void on_resolved(struct link_direct *l, TSHostLookupResult r) {
  const struct sockaddr *sa = r != NULL ? TSHostLookupResultAddrGet(r) : NULL;
  if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) {
    tb_link_fail(&l->base, TB_LINK_DNS, 502, "tls_bridge: cannot resolve peer %s", l->base.peer_text);
    return;
  }
  memcpy(&l->addr, sa, sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
  if (sa->sa_family == AF_INET) {
    ((struct sockaddr_in *)&l->addr)->sin_port = htons(l->base.peer.port);
  } else {
    ((struct sockaddr_in6 *)&l->addr)->sin6_port = htons(l->base.peer.port);
  }
  connect_to(l);
}

/* The first step: on the link's home thread from here on. */
static void start(struct link_direct *l) {
  const char *host = l->base.peer.host;
  struct sockaddr_in *a4 = (struct sockaddr_in *)&l->addr;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&l->addr;
  l->home = TSEventThreadSelf();
  if (l->base.open_timeout_ms != 0) {
    tb_timer_arm(&l->base.timer, l->base.open_timeout_ms, NULL);
  }
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(l->base.peer.port);
    connect_to(l);
    return;
  }
  if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(l->base.peer.port);
    connect_to(l);
    return;
  }
  set_state(l, D_RESOLVING);
  TSAction a = TSHostLookup(l->cont, host, strlen(host));
  if (l->state == D_RESOLVING && !l->closing) {
    l->pending = a; /* else it called back already */
  }
}

/* Whether the TCP handshake with the peer ever completed on fd: the options
 * a SYN-ACK negotiates, or an RTT sample, are only there if it did.  (The
 * socket's state cannot say: after a reset it is CLOSE either way, and
 * getpeername fails either way.) */
static bool tcp_established(int fd) {
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  memset(&ti, 0, sizeof ti);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) {
    return true; /* cannot tell: do not blame TCP */
  }
  return ti.tcpi_state == TCP_ESTABLISHED || ti.tcpi_state == TCP_CLOSE_WAIT || ti.tcpi_options != 0 ||
         ti.tcpi_rtt != 0;
}

/* Whether TCP itself failed (refused, unreachable, reset before it was
 * established): nothing came back and the socket has an error or never
 * completed the TCP handshake.  ATS reports a refused connect as EOS or
 * ERROR, and its read may have taken the socket's error already.  why:
 * the cause. */
static bool tcp_failed(struct link_direct *l, char *why, size_t n) {
  int fd = TSVConnFdGet(l->net);
  int soerr = 0;
  socklen_t len = sizeof soerr;

  if (l->state != D_HANDSHAKE || l->received != 0 || fd < 0) {
    return false;
  }
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr != 0) {
    snprintf(why, n, "%s", strerror(soerr));
    return true;
  }
  if (!tcp_established(fd)) {
    snprintf(why, n, "connection refused or reset before it was established");
    return true;
  }
  return false;
}

/* A network failure or EOS: what it means depends on how far the link got. */
static void on_net_end(struct link_direct *l, TSEvent event) {
  char why[128];
  bool failed = tcp_failed(l, why, sizeof why);
  if (!failed && event != TS_EVENT_VCONN_EOS && l->state == D_HANDSHAKE && l->received == 0) {
    tb_event_name(event, why, sizeof why); /* an error before any answer: still TCP's */
    failed = true;
  }
  if (failed) {
    l->net_error = true;
    tb_link_fail(&l->base, TB_LINK_CONNECT, 502, "tls_bridge: cannot connect to peer %s: %s",
                 l->base.peer_text, why);
    return;
  }
  if (event == TS_EVENT_VCONN_EOS) {
    l->net_eos = true;
  } else {
    l->net_error = true;
  }
  service(l); /* HANDSHAKE: failed; OPEN: lost; USED: bytes, then the end */
}

static void on_net(struct link_direct *l, TSEvent event, TSVIO vio) {
  char name[32];
  if (l->state != D_HANDSHAKE && l->state != D_OPEN && l->state != D_USED) {
    TB_DEBUG("[%" PRIu64 "] direct link to %s: %s while %s: ignored", l->base.id, l->base.peer_text,
             tb_event_name(event, name, sizeof name), state_names[l->state]);
    return;
  }
  if (vio != l->net_read && vio != l->net_write) {
    TSError("[%s] [%" PRIu64 "] direct link to %s: %s for an unknown VIO: ignored", TB_TAG, l->base.id,
            l->base.peer_text, tb_event_name(event, name, sizeof name));
    return;
  }
  switch (event) {
  case TS_EVENT_VCONN_READ_READY:
    l->received = TSVIONDoneGet(l->net_read);
    service(l);
    return;
  case TS_EVENT_VCONN_EOS:
  case TS_EVENT_VCONN_READ_COMPLETE:
    l->received = TSVIONDoneGet(l->net_read);
    on_net_end(l, TS_EVENT_VCONN_EOS);
    return;
  case TS_EVENT_VCONN_WRITE_READY:
  case TS_EVENT_VCONN_WRITE_COMPLETE:
    service(l);
    return;
  case TS_EVENT_ERROR:
  case TS_EVENT_VCONN_INACTIVITY_TIMEOUT:
  case TS_EVENT_VCONN_ACTIVE_TIMEOUT:
  default:
    on_net_end(l, event);
    return;
  }
}

/* ---- handlers ---------------------------------------------------------- */

static void destroy(struct link_direct *l);

static void enter(struct link_direct *l) {
  l->depth++;
}

static void leave(struct link_direct *l) {
  if (--l->depth == 0 && l->closing) {
    destroy(l);
  }
}

static int on_event(TSCont cont, TSEvent event, void *edata) {
  struct tb_link *b = tb_link_of(cont);
  if (b == NULL) {
    return 0;
  }
  struct link_direct *l = direct_of(b);
  enter(l);
  switch (event) {
  case TS_EVENT_IMMEDIATE:
  case TS_EVENT_TIMEOUT:
    l->kick = NULL;
    service(l);
    break;
  case TS_EVENT_HOST_LOOKUP:
    l->pending = NULL;
    if (l->state == D_RESOLVING) {
      on_resolved(l, (TSHostLookupResult)edata);
    }
    break;
  case TS_EVENT_NET_CONNECT:
    l->pending = NULL;
    if (l->state == D_CONNECTING) {
      on_connected(l, (TSVConn)edata);
    } else {
      TSVConnClose((TSVConn)edata);
    }
    break;
  case TS_EVENT_NET_CONNECT_FAILED: {
    int err = (int)(-(intptr_t)edata);
    l->pending = NULL;
    if (l->state == D_CONNECTING) {
      tb_link_fail(b, TB_LINK_CONNECT, 502, "tls_bridge: cannot connect to peer %s: %s", b->peer_text,
                   err > 0 && err < 4096 ? strerror(err) : "connection failed");
    }
    break;
  }
  default:
    on_net(l, event, (TSVIO)edata);
    break;
  }
  leave(l);
  return 0;
}

static int on_timer(TSCont cont, TSEvent event, void *edata) {
  (void)event;
  (void)edata;
  struct tb_link *b = tb_link_of(cont);
  if (b == NULL) {
    return 0;
  }
  struct link_direct *l = direct_of(b);
  b->timer.action = NULL;
  enter(l);
  switch (l->state) {
  case D_STARTING:
    start(l);
    break;
  case D_RESOLVING:
  case D_CONNECTING:
  case D_HANDSHAKE:
    tb_link_fail(b, TB_LINK_TIMEOUT, 504, "tls_bridge: peer %s: no TLS connection within %u ms (%s)",
                 b->peer_text, b->open_timeout_ms, state_names[l->state]);
    break;
  case D_OPEN:
    tb_link_watch(b); /* may close l */
    break;
  case D_USED:
  case D_DEAD:
  default:
    break;
  }
  leave(l);
  return 0;
}

/* The owner's VConn: ATS tells it of the owner's do_io calls, on any net
 * thread; the link learns of those through link.h instead. */
static int on_vc_event(TSCont cont, TSEvent event, void *edata) {
  (void)cont;
  (void)event;
  (void)edata;
  return 0;
}

/* ---- the engine's operations ------------------------------------------- */

static bool is_open(const struct tb_link *b) {
  return ((const struct link_direct *)b)->state == D_OPEN;
}

static TSVConn use(struct tb_link *b, TSCont cont, TSIOBuffer in, TSIOBufferReader in_reader,
                   TSIOBufferReader out, TSVIO *read_vio, TSVIO *write_vio) {
  struct link_direct *l = direct_of(b);
  if (l->state != D_OPEN) {
    return NULL;
  }
  l->vc = TSVConnCreate(on_vc_event, b->mutex);
  if (l->vc == NULL) {
    return NULL;
  }
  tb_timer_stop(&b->timer);
  set_state(l, D_USED);
  l->owner_cont = cont;
  l->in_reader = in_reader;
  l->read_vio = *read_vio = TSVConnRead(l->vc, cont, in, INT64_MAX);
  l->write_vio = *write_vio = TSVConnWrite(l->vc, cont, out, INT64_MAX);
  kick(l);
  return l->vc;
}

static void reenable(struct tb_link *b, TSVIO vio) {
  (void)vio;
  kick(direct_of(b));
}

static void shutdown_write(struct tb_link *b) {
  struct link_direct *l = direct_of(b);
  if (!l->shut && l->tls != NULL) {
    l->shut = true;
    tb_tls_shutdown(l->tls); /* close_notify, after what is already written */
    kick(l);
  }
}

/* Close the network side; the object stays. */
static void die(struct tb_link *b) {
  struct link_direct *l = direct_of(b);
  tb_timer_stop(&b->timer);
  if (l->pending != NULL) {
    TSActionCancel(l->pending);
    l->pending = NULL;
  }
  if (l->kick != NULL) {
    TSActionCancel(l->kick);
    l->kick = NULL;
  }
  if (l->net != NULL) {
    TSVConnClose(l->net); /* before the buffers its VIOs point into */
    l->net = NULL;
    l->net_read = l->net_write = NULL;
  }
  if (l->state != D_DEAD) {
    set_state(l, D_DEAD);
  }
}

static void destroy(struct link_direct *l) {
  die(&l->base);
  tb_link_base_fini(&l->base);
  if (l->vc != NULL) {
    TSContDataSet(l->vc, NULL);
    TSVConnClose(l->vc); /* its close event frees it */
    TSContDestroy(l->vc);
  }
  if (l->cin != NULL) {
    TSIOBufferDestroy(l->cin);
  }
  if (l->cout != NULL) {
    TSIOBufferDestroy(l->cout);
  }
  tb_tls_destroy(l->tls);
  tb_direct_unref(l->direct);
  TSContDataSet(l->cont, NULL);
  TSContDestroy(l->cont);
  free(l);
}

static void close_link(struct tb_link *b) {
  struct link_direct *l = direct_of(b);
  if (l->depth > 0) {
    die(b);
    l->closing = true; /* freed when the handler on the stack returns */
    return;
  }
  destroy(l);
}

static const struct tb_link_ops direct_ops = {
    .engine = "direct",
    .clean_close = true,
    .open_proves = true,
    .is_open = is_open,
    .use = use,
    .reenable = reenable,
    .shutdown_write = shutdown_write,
    .die = die,
    .close = close_link,
};

struct tb_link *tb_link_direct_open(const struct tb_link_spec *spec, TSMutex mutex, TSEventThread thread,
                                    tb_link_fn fn, void *owner) {
  struct link_direct *l = calloc(1, sizeof *l);
  if (l == NULL) {
    return NULL;
  }
  tb_link_base_init(&l->base, &direct_ops, spec, mutex, on_timer, fn, owner);
  l->state = D_STARTING;
  l->direct = tb_direct_ref(spec->direct);
  l->cont = TSContCreate(on_event, mutex);
  TSContDataSet(l->cont, &l->base);
  /* Always a step of its own, even on this thread: news must not reach
   * the owner before tb_link_open has returned the link to it. */
  TSMutexLock(mutex);
  tb_timer_arm(&l->base.timer, 0, thread != NULL ? thread : TSEventThreadSelf());
  TSMutexUnlock(mutex);
  return &l->base;
}
