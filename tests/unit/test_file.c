/*
 * Unit tests for tb_file: a file read whole (NUL bytes kept, a NUL after
 * the end), an empty file, and every failure with its message; messages cut
 * safely at any errlen.  (The 16 MiB limit itself is tested through the
 * rule file reader, test_rulefile.c.)  Paths resolved against a
 * configuration directory; the check of a file a configuration names, with
 * each of its messages (permissions only when not run as root, who may
 * read anything).
 */
#include "tb_test.h"

#include <sys/stat.h>
#include <sys/wait.h>

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

static void test_resolve(void **state) {
  static const struct {
    const char *confdir, *path, *want;
  } cases[] = {
      {"/etc/trafficserver", "tls/a.pem", "/etc/trafficserver/tls/a.pem"},
      {"/etc/trafficserver/", "a.pem", "/etc/trafficserver/a.pem"},
      {"/etc/trafficserver", "/abs/a.pem", "/abs/a.pem"},
      {".", "a.pem", "./a.pem"},
      {"", "a.pem", "a.pem"},
      {NULL, "a.pem", "a.pem"},
  };

  (void)state;
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    char *got = tb_file_resolve(cases[i].confdir, cases[i].path);
    assert_non_null(got);
    assert_string_equal(got, cases[i].want);
    free(got);
  }
}

/* tb_file_check(path, dir_ok) as a user who may not read it: this process
 * when it is not root, else a child that became nobody.  0 when the
 * message is want. */
static int unprivileged_check(const char *path, int dir_ok, const char *want) {
  char why[256] = "";
  pid_t pid;
  int status = 0;

  if (geteuid() != 0) {
    return tb_file_check(path, dir_ok, why, sizeof why) == -1 && strcmp(why, want) == 0 ? 0 : -1;
  }
  pid = fork();
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) {
      _exit(2);
    }
    _exit(tb_file_check(path, dir_ok, why, sizeof why) == -1 && strcmp(why, want) == 0 ? 0 : 1);
  }
  return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void test_check(void **state) {
  char path[64];
  char dir[] = "/tmp/tb_unit_dir_XXXXXX";
  char why[256];

  (void)state;
  tb_tmpfile(path, sizeof path, "x", 1);
  assert_non_null(mkdtemp(dir));
  assert_int_equal(tb_file_check(path, 0, why, sizeof why), 0);
  assert_int_equal(tb_file_check(path, 1, why, sizeof why), 0);
  assert_int_equal(tb_file_check(dir, 1, why, sizeof why), 0);
  assert_int_equal(tb_file_check(dir, 0, why, sizeof why), -1);
  assert_string_equal(why, "is a directory, not a file");
  assert_int_equal(tb_file_check("/nonexistent/tb/a.pem", 0, why, sizeof why), -1);
  assert_string_equal(why, "cannot open: No such file or directory");
  assert_int_equal(tb_file_check("/dev/null", 0, why, sizeof why), -1);
  assert_string_equal(why, "not a regular file");
  assert_int_equal(tb_file_check("/dev/null", 1, why, sizeof why), -1);
  assert_string_equal(why, "not a regular file or directory");
  assert_int_equal(chmod(path, 0), 0);
  assert_int_equal(chmod(dir, 0600), 0);
  assert_int_equal(unprivileged_check(path, 0, "cannot open: Permission denied"), 0);
  assert_int_equal(unprivileged_check(dir, 1, "directory cannot be searched: Permission denied"), 0);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(dir), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_read_whole),
      cmocka_unit_test(test_read_errors),
      cmocka_unit_test(test_resolve),
      cmocka_unit_test(test_check),
  };
  return cmocka_run_group_tests_name("tb_file", tests, NULL, NULL);
}
