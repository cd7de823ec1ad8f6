/*
 * link_open: tb_link_open (link.h), the one place that knows both engines:
 * a link of the engine the spec's transport names.  Apart from link.c so
 * that the shared base calls no engine and the engines call only the base.
 */
#include "link_base.h"

struct tb_link *tb_link_open(const struct tb_link_spec *spec, TSMutex mutex, TSEventThread thread,
                             tb_link_fn fn, void *owner) {
  return spec->direct != NULL ? tb_link_direct_open(spec, mutex, thread, fn, owner)
                              : tb_link_ats_open(spec, mutex, thread, fn, owner);
}
