/*
 * Unit tests for tb_hashix: items found under their hash (colliding hashes
 * and wrap-around at the end of the slots included), a probe that ends at
 * an empty slot, the 3/4 load bound, and the scan without slots.
 */
#include "tb_test.h"

#include "tb_hashix.h"

/* The items a probe for hash yields, in order, into out (at most max). */
static size_t probe(const struct tb_hashix *ix, uint64_t hash, size_t n, size_t *out, size_t max) {
  size_t pos = 0;
  size_t k = 0;
  size_t i;

  while ((i = tb_hashix_next(ix, hash, n, &pos)) != SIZE_MAX && k < max) {
    out[k++] = i;
  }
  return k;
}

static void test_put_and_probe(void **state) {
  struct tb_hashix ix = {NULL, 0};
  size_t got[16];

  (void)state;
  assert_int_equal(tb_hashix_reset(&ix, 8), 0);
  assert_int_equal(ix.cap, 8);
  tb_hashix_put(&ix, 3, 0);
  tb_hashix_put(&ix, 3, 1);  /* collides: the next slot */
  tb_hashix_put(&ix, 11, 2); /* 11 & 7 == 3: after both */
  tb_hashix_put(&ix, 7, 3);  /* the last slot */
  tb_hashix_put(&ix, 15, 4); /* 15 & 7 == 7: wraps to slot 0 */
  assert_int_equal(probe(&ix, 3, 5, got, 16), 3);
  assert_int_equal(got[0], 0);
  assert_int_equal(got[1], 1);
  assert_int_equal(got[2], 2);
  assert_int_equal(probe(&ix, 7, 5, got, 16), 2); /* slot 7, then slot 0; slot 1 is empty */
  assert_int_equal(got[0], 3);
  assert_int_equal(got[1], 4);
  assert_int_equal(probe(&ix, 6, 5, got, 16), 0); /* an empty home slot ends the probe at once */
  tb_hashix_free(&ix);
  tb_hashix_free(&ix); /* idempotent */
  assert_null(ix.slots);
  assert_int_equal(ix.cap, 0);
}

static void test_room(void **state) {
  struct tb_hashix ix = {NULL, 0};

  (void)state;
  assert_false(tb_hashix_has_room(&ix, 0)); /* no slots: never */
  assert_int_equal(tb_hashix_reset(&ix, 16), 0);
  assert_true(tb_hashix_has_room(&ix, 12));
  assert_false(tb_hashix_has_room(&ix, 13));
  assert_int_equal(tb_hashix_reset(&ix, 0), 0); /* none asked for: none */
  assert_null(ix.slots);
  tb_hashix_free(&ix);
}

/* Without slots every index below n comes in turn. */
static void test_scan(void **state) {
  struct tb_hashix ix = {NULL, 0};
  size_t got[8];

  (void)state;
  assert_int_equal(probe(&ix, 42, 4, got, 8), 4);
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(got[i], i);
  }
  assert_int_equal(probe(&ix, 42, 0, got, 8), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_put_and_probe),
      cmocka_unit_test(test_room),
      cmocka_unit_test(test_scan),
  };
  return cmocka_run_group_tests_name("tb_hashix", tests, NULL, NULL);
}
