/*
 * link_base: what the two engines' links share (link.h is their interface,
 * link.c the code below).  Each engine's link struct starts with a struct
 * tb_link: the owner and its callback, the peer and the texts messages
 * name, the one timer, the open deadline, the watch of an open unused link
 * (STEADY once, EXPIRED at its age), and the failure told.  The engine
 * fills in a struct tb_link_ops; link.c's public functions call through
 * it.
 *
 * Everything here runs under the link's mutex.  Anything that tells the
 * owner may free the link: its caller touches nothing of it afterwards.
 */
#ifndef TB_LINK_BASE_H
#define TB_LINK_BASE_H

#include <netinet/in.h>

#include "link.h"

#define TB_LINK_MAGIC 0x544c4e4bu /* "TLNK" */
#define TB_LINK_DEAD_MAGIC 0xdeadc0deu
#define TB_LINK_WATCH_MS 250 /* how often an open unused link is looked at */

struct tb_link_ops {
  const char *engine; /* "ats", "direct": for debug lines */
  bool clean_close;   /* tb_link_clean_close */
  bool open_proves;   /* tb_link_open_proves_peer */
  /* Open and unused (adopt may hand it on)? */
  bool (*is_open)(const struct tb_link *l);
  TSVConn (*use)(struct tb_link *l, TSCont cont, TSIOBuffer in, TSIOBufferReader in_reader,
                 TSIOBufferReader out, TSVIO *read_vio, TSVIO *write_vio);
  void (*reenable)(struct tb_link *l, TSVIO vio);
  void (*shutdown_write)(struct tb_link *l);
  /* The connection is over: close it (the object stays for the owner). */
  void (*die)(struct tb_link *l);
  /* tb_link_close: close the connection and free the object. */
  void (*close)(struct tb_link *l);
};

struct tb_link {
  uint32_t magic;
  const struct tb_link_ops *ops;
  uint64_t id;
  TSMutex mutex;         /* the owner's (not owned) */
  struct tb_timer timer; /* owned; what it means is the engine's (by its state) */
  unsigned open_timeout_ms;
  int64_t expire_at; /* open and unused: EXPIRED at this time (ms); 0: never */
  bool steady;       /* open and unused: STEADY was told */
  tb_link_fn fn;
  void *owner;
  struct tb_peer peer;
  struct sockaddr_storage client;
  struct tb_link_failure failure; /* what the link told, or learnt after use (tb_link_failure) */
  bool failed;                    /* failure is set */
  char peer_text[TB_PEER_TEXT_MAX];
  char target[TB_PEER_TEXT_MAX];
};

/* Fill the shared part from spec (the timer calls on_timer with the link as
 * its data; news goes to fn with owner). */
void tb_link_base_init(struct tb_link *l, const struct tb_link_ops *ops, const struct tb_link_spec *spec,
                       TSMutex mutex, TSEventFunc on_timer, tb_link_fn fn, void *owner);

/* Stop the timer and mark the object dead (before the engine frees it). */
void tb_link_base_fini(struct tb_link *l);

/* The link a timer event is for, or NULL (logged) when it is gone. */
struct tb_link *tb_link_of(TSCont cont);

/* Tell the owner; l may be gone when this returns. */
void tb_link_tell(struct tb_link *l, enum tb_link_news news, const struct tb_link_failure *why);

/* Record a failure (cause, the status a client gets, the text). */
void tb_link_note(struct tb_link *l, enum tb_link_cause cause, unsigned status, const char *fmt, ...)
    TS_PRINTFLIKE(4, 5);

/* Opening failed: record it, close the connection, tell FAILED.  May free l. */
void tb_link_fail(struct tb_link *l, enum tb_link_cause cause, unsigned status, const char *fmt, ...)
    TS_PRINTFLIKE(4, 5);

/* Open and unused, it broke: close the connection, tell LOST.  May free l. */
void tb_link_lose(struct tb_link *l, const char *what);

/* Open and unused, its watch tick (re-armed here): STEADY the first time,
 * EXPIRED when its age is up.  May free l. */
void tb_link_watch(struct tb_link *l);

/* The engines. */
struct tb_link *tb_link_ats_open(const struct tb_link_spec *spec, TSMutex mutex, TSEventThread thread,
                                 tb_link_fn fn, void *owner);
struct tb_link *tb_link_direct_open(const struct tb_link_spec *spec, TSMutex mutex, TSEventThread thread,
                                    tb_link_fn fn, void *owner);

#endif
