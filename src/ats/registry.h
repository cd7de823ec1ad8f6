/*
 * registry: the open client tunnels, for `traffic_ctl plugin msg tls_bridge
 * tunnels`.
 *
 * Each tunnel embeds one tb_reg_entry, adds it when it starts and removes it
 * before it is freed.  The fixed fields are written before tb_registry_add;
 * the changing ones (state, byte counts) are atomics the tunnel updates as it
 * goes (the counts at each nudge, so they may be up to about 2 s old).  The
 * listing copies every entry under the registry's lock and writes the lines
 * after releasing it: it never waits for a tunnel, and a tunnel starting or
 * ending waits at most for that copy.  Thread-safe.
 */
#ifndef TB_REGISTRY_H
#define TB_REGISTRY_H

#include <stdatomic.h>
#include <stdint.h>

struct tb_reg_entry {
  struct tb_reg_entry *prev, *next; /* under the registry's lock */
  uint64_t id;
  uint64_t generation;          /* of the configuration the tunnel started with */
  int64_t started_ms;           /* tb_now_ms() at the intercept */
  const char *target;           /* not owned: the tunnel's text, stable while registered */
  _Atomic(const char *) peer;   /* not owned: the peer being tried, changed as set-up moves on */
  const char *rule;             /* not owned: likewise (the rule's origin or name) */
  _Atomic(const char *) state;  /* a static phase name */
  atomic_int_fast64_t up, down; /* bytes delivered each way, as of the last update */
};

void tb_registry_add(struct tb_reg_entry *e);
void tb_registry_remove(struct tb_reg_entry *e);

/* Write one line per open tunnel, then a count, to diags.log (TSNote). */
void tb_registry_dump(void);

#endif
