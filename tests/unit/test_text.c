/*
 * Unit tests for tb_text_quote: printable text passes, everything else is
 * escaped, long input is cut with "...", and the output never overflows.
 */
#include "tb_test.h"

#include "tb_text.h"

static const struct {
  const char *in;
  size_t len; /* 0: strlen(in) */
  size_t max;
  const char *want;
} cases[] = {
    {"plain.example:443", 0, 64, "plain.example:443"},
    {"a\\.b[.]c", 0, 64, "a\\.b[.]c"}, /* backslashes stay readable */
    {"it's", 0, 64, "it\\x27s"},
    {"cr\r\nlf", 0, 64, "cr\\x0d\\x0alf"},
    {"nul\0x", 5, 64, "nul\\x00x"},
    {"\xff\x80", 0, 64, "\\xff\\x80"},
    {"abcdefgh", 0, 4, "abcd..."},
    {"", 0, 64, ""},
};

static void test_quote(void **state) {
  (void)state;
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    char q[TB_QUOTE_SIZE(64)];
    size_t len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].in);
    tb_text_quote(q, sizeof q, cases[i].in, len, cases[i].max);
    assert_string_equal(q, cases[i].want);
  }
}

/* Every output buffer size from 1 up: always NUL-terminated, never past the end. */
static void test_quote_small_buffers(void **state) {
  static const char in[] = "x\x01y'z with a long tail";
  (void)state;
  for (size_t n = 1; n < 40; n++) {
    char q[48];
    memset(q, 'Z', sizeof q);
    tb_text_quote(q, n, in, sizeof in - 1, 64);
    assert_true(strlen(q) < n);
    assert_int_equal(q[n], 'Z');
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quote),
      cmocka_unit_test(test_quote_small_buffers),
  };
  return cmocka_run_group_tests_name("tb_text", tests, NULL, NULL);
}
