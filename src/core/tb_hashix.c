/* tb_hashix: see tb_hashix.h.  Linear probing: the slots after a hash's
 * home slot, in turn, up to the first empty one. */
#include "tb_hashix.h"

#include <stdlib.h>

int tb_hashix_reset(struct tb_hashix *ix, size_t cap) {
  size_t *slots = cap > 0 ? calloc(cap, sizeof *slots) : NULL;

  free(ix->slots);
  ix->slots = slots;
  ix->cap = slots != NULL ? cap : 0;
  return cap > 0 && slots == NULL ? -1 : 0;
}

int tb_hashix_has_room(const struct tb_hashix *ix, size_t n) {
  return ix->slots != NULL && n <= ix->cap / 4 * 3;
}

void tb_hashix_put(struct tb_hashix *ix, uint64_t hash, size_t index) {
  size_t i;

  if (ix->slots == NULL) {
    return;
  }
  i = (size_t)hash & (ix->cap - 1);
  while (ix->slots[i] != 0) {
    i = (i + 1) & (ix->cap - 1);
  }
  ix->slots[i] = index + 1;
}

size_t tb_hashix_next(const struct tb_hashix *ix, uint64_t hash, size_t n, size_t *pos) {
  size_t v;

  if (ix->slots == NULL) {
    return *pos < n ? (*pos)++ : SIZE_MAX;
  }
  if (*pos >= ix->cap) {
    return SIZE_MAX; /* cannot happen below 3/4 load: some slot is empty */
  }
  v = ix->slots[((size_t)hash + *pos) & (ix->cap - 1)];
  if (v == 0) {
    return SIZE_MAX;
  }
  (*pos)++;
  return v - 1;
}

void tb_hashix_free(struct tb_hashix *ix) {
  free(ix->slots);
  ix->slots = NULL;
  ix->cap = 0;
}
