/* link: see link.h (the interface) and link_base.h (what the engines share). */
#include "link_base.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void tb_link_base_init(struct tb_link *l, const struct tb_link_ops *ops, const struct tb_link_spec *spec,
                       TSMutex mutex, TSEventFunc on_timer, tb_link_fn fn, void *owner) {
  l->magic = TB_LINK_MAGIC;
  l->ops = ops;
  l->fn = fn;
  l->owner = owner;
  l->id = spec->id;
  l->mutex = mutex;
  l->open_timeout_ms = spec->open_timeout_ms;
  l->peer = *spec->peer;
  if (spec->client != NULL) {
    size_t n = spec->client->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    memcpy(&l->client, spec->client, n);
  }
  if (tb_peer_format(&l->peer, l->peer_text, sizeof l->peer_text) < 0) {
    snprintf(l->peer_text, sizeof l->peer_text, "%s", l->peer.host);
  }
  snprintf(l->target, sizeof l->target, "%s", spec->target != NULL ? spec->target : "-");
  tb_timer_init(&l->timer, on_timer, mutex, l);
}

void tb_link_base_fini(struct tb_link *l) {
  tb_timer_fini(&l->timer);
  l->magic = TB_LINK_DEAD_MAGIC;
}

struct tb_link *tb_link_of(TSCont cont) {
  struct tb_link *l = TSContDataGet(cont);
  if (l == NULL || l->magic != TB_LINK_MAGIC) {
    TSError("[%s] event for a link that is gone (%p): ignored", TB_TAG, (void *)l);
    return NULL;
  }
  return l;
}

void tb_link_tell(struct tb_link *l, enum tb_link_news news, const struct tb_link_failure *why) {
  l->fn(l->owner, l, news, why);
}

static void note_v(struct tb_link *l, enum tb_link_cause cause, unsigned status, const char *fmt,
                   va_list ap) {
  l->failure.cause = cause;
  l->failure.status = status;
  /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): the callers start ap */
  vsnprintf(l->failure.text, sizeof l->failure.text, fmt, ap);
  l->failed = true;
}

void tb_link_note(struct tb_link *l, enum tb_link_cause cause, unsigned status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  note_v(l, cause, status, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): started above */
  va_end(ap);
  TB_DEBUG("[%" PRIu64 "] link to %s: %s", l->id, l->peer_text, l->failure.text);
}

void tb_link_fail(struct tb_link *l, enum tb_link_cause cause, unsigned status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  note_v(l, cause, status, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): started above */
  va_end(ap);
  TB_DEBUG("[%" PRIu64 "] link to %s failed: %s", l->id, l->peer_text, l->failure.text);
  l->ops->die(l);
  tb_link_tell(l, TB_LINK_FAILED, &l->failure); /* may free l */
}

void tb_link_lose(struct tb_link *l, const char *what) {
  struct tb_link_failure why = {TB_LINK_BROKEN, 502, ""};
  snprintf(why.text, sizeof why.text, "connection to peer %s lost while unused: %s", l->peer_text, what);
  TB_DEBUG("[%" PRIu64 "] %s", l->id, why.text);
  l->ops->die(l);
  tb_link_tell(l, TB_LINK_LOST, &why); /* may free l */
}

void tb_link_watch(struct tb_link *l) {
  tb_timer_arm(&l->timer, TB_LINK_WATCH_MS, NULL);
  if (!l->steady) {
    /* Open for a whole watch and not lost: the peer took it. */
    l->steady = true;
    tb_link_tell(l, TB_LINK_STEADY, NULL); /* may free l */
    return;
  }
  if (l->expire_at != 0 && tb_now_ms() >= l->expire_at) {
    l->expire_at = 0;
    tb_link_tell(l, TB_LINK_EXPIRED, NULL); /* may free l */
  }
}

/* ---- link.h ------------------------------------------------------------ */

TSMutex tb_link_mutex(const struct tb_link *l) {
  return l->mutex;
}

bool tb_link_adopt(struct tb_link *l, tb_link_fn fn, void *owner) {
  l->fn = fn;
  l->owner = owner;
  l->expire_at = 0;
  return l->ops->is_open(l);
}

void tb_link_expire_in(struct tb_link *l, unsigned ms) {
  l->expire_at = ms == 0 ? 0 : tb_now_ms() + ms;
}

TSVConn tb_link_use(struct tb_link *l, TSCont cont, TSIOBuffer in, TSIOBufferReader in_reader,
                    TSIOBufferReader out, TSVIO *read_vio, TSVIO *write_vio) {
  return l->ops->use(l, cont, in, in_reader, out, read_vio, write_vio);
}

void tb_link_reenable(struct tb_link *l, TSVIO vio) {
  l->ops->reenable(l, vio);
}

void tb_link_shutdown_write(struct tb_link *l) {
  l->ops->shutdown_write(l);
}

bool tb_link_clean_close(const struct tb_link *l) {
  return l->ops->clean_close;
}

bool tb_link_open_proves_peer(const struct tb_link *l) {
  return l->ops->open_proves;
}

const struct tb_link_failure *tb_link_failure(const struct tb_link *l) {
  return l->failed ? &l->failure : NULL;
}

void tb_link_close(struct tb_link *l) {
  if (l != NULL) {
    l->ops->close(l);
  }
}
