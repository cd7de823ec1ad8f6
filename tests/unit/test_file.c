/*
 * Unit tests for tb_file: a file read whole (NUL bytes kept, a NUL after
 * the end), an empty file, and every failure with its message; messages cut
 * safely at any errlen.  (The 16 MiB limit itself is tested through the
 * rule file reader, test_rulefile.c.)
 */
#include "tb_test.h"

#include "tb_file.h"

#define ERRLEN 1024

static void test_read_whole(void **state) {
  static const char data[] = "line one\n\0two\r\nthree";
  char path[64];
  char err[ERRLEN];
  size_t len = 99;
  char *text;

  (void)state;
  tb_tmpfile(path, sizeof path, data, sizeof data - 1);
  text = tb_file_read(path, &len, err, sizeof err);
  assert_non_null(text);
  assert_int_equal(len, sizeof data - 1);
  assert_memory_equal(text, data, sizeof data - 1);
  assert_int_equal(text[len], '\0');
  free(text);
  assert_int_equal(unlink(path), 0);

  tb_tmpfile(path, sizeof path, "", 0);
  text = tb_file_read(path, &len, err, sizeof err);
  assert_non_null(text);
  assert_int_equal(len, 0);
  assert_int_equal(text[0], '\0');
  free(text);
  assert_int_equal(unlink(path), 0);
}

static void test_read_errors(void **state) {
  char err[ERRLEN];
  size_t len = 0;

  (void)state;
  assert_null(tb_file_read("/nonexistent/tb/x.conf", &len, err, sizeof err));
  assert_string_equal(err, "/nonexistent/tb/x.conf: cannot open: No such file or directory");
  assert_null(tb_file_read("/tmp", &len, err, sizeof err));
  assert_string_equal(err, "/tmp: cannot read: Is a directory");
  assert_null(tb_file_read("", &len, err, sizeof err));
  assert_string_equal(err, ": cannot open: No such file or directory");
  for (size_t n = 1; n < 12; n++) {
    char *small = malloc(n); /* exact size: ASan sees an overrun */
    assert_non_null(small);
    assert_null(tb_file_read("/tmp", &len, small, n));
    assert_int_equal(strlen(small), n - 1);
    assert_memory_equal(small, "/tmp: cannot", n - 1);
    free(small);
  }
  assert_null(tb_file_read("/tmp", &len, NULL, 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_read_whole),
      cmocka_unit_test(test_read_errors),
  };
  return cmocka_run_group_tests_name("tb_file", tests, NULL, NULL);
}
