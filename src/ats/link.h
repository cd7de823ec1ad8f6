/*
 * link: one connection from this ingress to a peer ATS, through which a
 * tunnel sends the client's CONNECT and then its bytes.
 *
 * This is the seam between a tunnel and the way the connection is made.  The
 * tunnel asks for a link, is told (by a callback) when it is open or why it
 * failed, then takes its VConn over with tb_link_use and reads and writes it
 * like any other.  Two engines make links (link_base.h is what they share):
 * link_ats.c with Traffic Server's own machinery (an internal transaction
 * that says "CONNECT https://peer"), link_direct.c by itself (TSHostLookup,
 * TSNetConnect and its own TLS client, tb_tls.h).  pool.c keeps links open
 * ahead of need.
 *
 * The owner moves the link's bytes with its VIOs, as with any VConn, except
 * that it re-enables them and shuts the link's write side through
 * tb_link_reenable and tb_link_shutdown_write: a direct link then carries
 * on at once on the owner's thread, rather than on whichever thread ATS
 * would schedule a plugin VConn's event to.
 *
 * Ownership: whoever opened a link owns it (a tunnel, or a pool while the
 * link is warm) and ends it with tb_link_close; tb_link_adopt hands it to a
 * new owner.  A link runs under the mutex it was opened with, which is its
 * owner's too: every callback comes under that mutex, and every call below
 * must be made under it.  A callback may close the link (the link touches
 * nothing after calling back).
 */
#ifndef TB_LINK_H
#define TB_LINK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "glue.h"
#include "tb_select.h"

struct tb_link;

enum tb_link_news {
  TB_LINK_OPENED,  /* open: the owner may tb_link_use it */
  TB_LINK_FAILED,  /* could not be opened (why says how): dead, the owner closes it */
  TB_LINK_LOST,    /* open and unused, it was closed by the far end or broke: dead */
  TB_LINK_EXPIRED, /* open and unused, its deadline passed: still open */
  TB_LINK_STEADY,  /* open and unused, it has stayed open for a while (one watch): the peer took it */
};

/* Why an open failed, in the terms of what the client is told.  The last
 * four come from the direct engine only (the ats engine cannot tell them
 * apart: ATS answers its internal CONNECT on TCP alone). */
enum tb_link_cause {
  TB_LINK_UNREACHABLE, /* refused, unresolvable, closed before it was established (502) */
  TB_LINK_TIMEOUT,     /* the connection attempt timed out (504) */
  TB_LINK_BROKEN,      /* the connection failed with an error (502) */
  TB_LINK_INTERNAL,    /* this side could not do it: out of memory, a bad answer from ATS (502) */
  TB_LINK_DNS,         /* the peer's name did not resolve (502) */
  TB_LINK_CONNECT,     /* TCP to the peer failed: refused, unreachable (502) */
  TB_LINK_TLS,         /* the TLS handshake failed, or the peer rejected us with an alert (502) */
  TB_LINK_VERIFY,      /* the peer's certificate failed verification (502) */
};

/* What a failure says about the peer's health (tb_select.h). */
static inline enum tb_cause tb_link_health_cause(enum tb_link_cause c) {
  switch (c) {
  case TB_LINK_UNREACHABLE:
    return TB_CAUSE_UNREACHABLE;
  case TB_LINK_TIMEOUT:
    return TB_CAUSE_TIMEOUT;
  case TB_LINK_DNS:
  case TB_LINK_CONNECT:
    return TB_CAUSE_UNREACHABLE;
  case TB_LINK_BROKEN:
  case TB_LINK_TLS:
  case TB_LINK_VERIFY:
    return TB_CAUSE_CLOSED;
  case TB_LINK_INTERNAL:
  default:
    return TB_CAUSE_OTHER;
  }
}

struct tb_link_failure {
  enum tb_link_cause cause;
  unsigned status; /* what a client should get: 502 or 504 */
  char text[320];  /* "tls_bridge: cannot reach peer ...": for X-TLS-Bridge-Error and logs */
};

/* Called with news about link l for owner (under the link's mutex); why is
 * set for FAILED and LOST, NULL otherwise. */
typedef void (*tb_link_fn)(void *owner, struct tb_link *l, enum tb_link_news news,
                           const struct tb_link_failure *why);

struct tb_link_spec {
  const struct tb_peer *peer;
  const struct sockaddr *client; /* on whose behalf (ATS logs it as the internal transaction's client) */
  const char *target;            /* what it is for, in messages: the client's "host:port", or "(pool)" */
  uint64_t id;                   /* the owner's id, for debug lines */
  unsigned open_timeout_ms;      /* FAILED (TIMEOUT) when not open by then; 0: no deadline of its own */
  struct tb_direct *direct;      /* the direct engine's TLS settings (direct.h; the link takes a
                                    reference); NULL: the ats engine */
};

/* Start opening a link to spec->peer, owned by owner (news to fn).  mutex is
 * the owner's.  thread: open on that event thread, soon (the first event
 * comes from there); NULL: open now, on the calling thread, which must hold
 * mutex.  Returns NULL (nothing started, nothing to close) when the link
 * could not be made. */
struct tb_link *tb_link_open(const struct tb_link_spec *spec, TSMutex mutex, TSEventThread thread,
                             tb_link_fn fn, void *owner);

/* The mutex the link runs under (a new owner must share it). */
TSMutex tb_link_mutex(const struct tb_link *l);

/* Hand l to a new owner (under its mutex); cancels its deadline.  Returns
 * false when l is dead (lost meanwhile): the new owner then just closes it. */
bool tb_link_adopt(struct tb_link *l, tb_link_fn fn, void *owner);

/* Open and unused: EXPIRED after ms from now (0: never). */
void tb_link_expire_in(struct tb_link *l, unsigned ms);

/* Take an open link's connection over: from now on cont gets its events.
 * Bytes the peer sent already go into `in`, and reading continues into it;
 * in_reader is the owner's reader of `in`, whose unread bytes a direct
 * link keeps bounded (backpressure).  Writing starts from `out`.  The VIOs
 * are returned in *read_vio and *write_vio.  Returns the VConn (owned by
 * the link: never close it), or NULL when that failed (the link is then
 * dead). */
TSVConn tb_link_use(struct tb_link *l, TSCont cont, TSIOBuffer in, TSIOBufferReader in_reader,
                    TSIOBufferReader out, TSVIO *read_vio, TSVIO *write_vio);

/* After tb_link_use: the owner wants vio (one of the two) to go on. */
void tb_link_reenable(struct tb_link *l, TSVIO vio);

/* After tb_link_use: nothing more will be written; the peer learns it
 * after the bytes already written (a FIN, or TLS close_notify). */
void tb_link_shutdown_write(struct tb_link *l);

/* Does the link carry a half-close both ways and report every close (the
 * direct engine)?  Then a tunnel need not bound how long one direction
 * stays open after the other closed. */
bool tb_link_clean_close(const struct tb_link *l);

/* Whether OPENED means the peer completed TLS with us (the direct engine:
 * evidence of its health) rather than only that TCP is up (ats). */
bool tb_link_open_proves_peer(const struct tb_link *l);

/* After tb_link_use: why the connection failed, when the link knows more
 * than the event the owner got (a TLS alert, a certificate the peer
 * refused); NULL otherwise. */
const struct tb_link_failure *tb_link_failure(const struct tb_link *l);

/* Close the connection (if any) and free l.  NULL is a no-op. */
void tb_link_close(struct tb_link *l);

#endif
