/*
 * tb_hashix: an open-addressing hash index over the items of an array that
 * its user owns.  A slot holds an item's index + 1 (0: empty); the user
 * hashes and compares (the index knows neither the items nor their type)
 * and keeps the load at or below 3/4, so that every probe ends.  tb_config
 * finds its distinct peers and transports through one each, so that 100,000
 * rules with as many of them load in O(n).
 *
 * Owns its slots.  Changing it is not thread-safe; probing an index nobody
 * changes is.
 */
#ifndef TB_HASHIX_H
#define TB_HASHIX_H

#include <stddef.h>
#include <stdint.h>

struct tb_hashix {
  size_t *slots; /* owned: cap slots; NULL (lost to out of memory, or never built): probes scan */
  size_t cap;    /* a power of two, or 0 */
};

/* Empty ix and give it cap slots (a power of two; 0: none).  Returns 0, or
 * -1 when out of memory: ix then has no slots, and tb_hashix_next scans. */
int tb_hashix_reset(struct tb_hashix *ix, size_t cap);

/* Would n entries keep ix at or below 3/4 full?  (Never with no slots.) */
int tb_hashix_has_room(const struct tb_hashix *ix, size_t n);

/* Enter item index under hash.  The caller made room (tb_hashix_has_room);
 * with no slots this does nothing. */
void tb_hashix_put(struct tb_hashix *ix, uint64_t hash, size_t index);

/* The next item that may equal a key of this hash, or SIZE_MAX when there
 * is none left; *pos starts at 0 and is the caller's cursor.  Without slots
 * every index below n comes in turn, so a caller that compares each
 * candidate gets the same answer either way. */
size_t tb_hashix_next(const struct tb_hashix *ix, uint64_t hash, size_t n, size_t *pos);

/* Free the slots; ix is then empty.  Idempotent. */
void tb_hashix_free(struct tb_hashix *ix);

#endif
