/*
 * Unit tests for tb_rulefile, the "--file" rule files: comments, blanks,
 * CRLF, fields, origins, a negative case for every rule (each undoing the
 * rules of earlier lines, alone and through --file), the 16 MiB limit, and
 * 100,000 rules.
 */
#include "tb_test.h"

#include "tb_args.h"
#include "tb_rulefile.h"

#define ERRLEN 1024

static void write_tmp(char *path, const char *text) {
  tb_tmpfile(path, 64, text, strlen(text));
}

static void test_file_ok(void **state) {
  static const char text[] = "# rules for the bridge\r\n"
                             "\r\n"
                             "   \t  \r\n"
                             "  # indented comment with fields a b c\r\n"
                             "one[.]example\tpeer1.example.net:4443\r\n"
                             "\t two[.]example    [2001:db8::2]  \t\r\n"
                             "#three[.]example peer3\r\n"
                             "hash#in[.]regex peer4\n"
                             "last[.]example 10.0.0.5:8443"; /* no newline at the end */
  struct tb_config *c = tb_config_create();
  char path[64];
  char origin[96];
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  write_tmp(path, text);
  if (tb_config_load_file(c, path, err, sizeof err) != 0) {
    fail_msg("%s", err);
  }
  assert_int_equal(c->nrules, 4);
  assert_string_equal(c->rules[0].pattern, "one[.]example");
  assert_string_equal(c->rules[0].peer.host, "peer1.example.net");
  assert_int_equal(c->rules[0].peer.port, 4443);
  snprintf(origin, sizeof origin, "%s:5", path);
  assert_string_equal(c->rules[0].origin, origin);
  assert_string_equal(c->rules[1].pattern, "two[.]example");
  assert_string_equal(c->rules[1].peer.host, "2001:db8::2");
  assert_true(c->rules[1].peer.ipv6);
  snprintf(origin, sizeof origin, "%s:6", path);
  assert_string_equal(c->rules[1].origin, origin);
  assert_string_equal(c->rules[2].pattern, "hash#in[.]regex");
  assert_string_equal(c->rules[3].pattern, "last[.]example");
  assert_int_equal(c->rules[3].peer.port, 8443);
  snprintf(origin, sizeof origin, "%s:9", path);
  assert_string_equal(c->rules[3].origin, origin);
  assert_ptr_equal(tb_config_match(c, "TWO.example.", 12), &c->rules[1]);
  assert_null(tb_config_match(c, "three.example", 13));
  assert_int_equal(unlink(path), 0);
  tb_config_destroy(c);
}

static void test_file_empty(void **state) {
  static const char *const texts[] = {"", "\n", "\r\n", "# nothing\n\n  \t\n"};

  (void)state;
  for (size_t i = 0; i < TB_NELEM(texts); i++) {
    struct tb_config *c = tb_config_create();
    char path[64];
    char err[ERRLEN];

    assert_non_null(c);
    write_tmp(path, texts[i]);
    assert_int_equal(tb_config_load_file(c, path, err, sizeof err), 0);
    assert_int_equal(c->nrules, 0); /* zero rules is the glue's call, not an error here */
    assert_int_equal(unlink(path), 0);
    tb_config_destroy(c);
  }
}

static const struct {
  const char *text;
  size_t len;      /* 0: strlen(text) */
  const char *err; /* after "<path>:" */
} file_errors[] = {
    {"a peer1\nb peer2\nc foo:0\n", 0, "3: peer 'foo:0': port must be 1-65535"},
    {"a peer1\r\n\r\n# c\r\nc foo:99999\r\n", 0, "4: peer 'foo:99999': port must be 1-65535"},
    {"a peer1\n  b\n", 0, "2: expected '<regex> <peer>', found 1 field"},
    {"a peer1 extra\n", 0, "1: expected '<regex> <peer>', found 3 fields"},
    {"a peer1 # trailing comment\n", 0, "1: expected '<regex> <peer>', found 5 fields"},
    {"\n\n(unclosed peer\n", 0, "3: bad regex '(unclosed' at offset 9: missing closing parenthesis"},
    {"a [::1\n", 0, "1: peer '[::1': '[' without ']'"},
    {"a ::1\n", 0, "1: peer '::1': more than one ':'"},
    {"a peer\x0b\n", 0, "1: peer 'peer\\x0b': contains whitespace"},
    {"a b\n\x00 c\n", 8, "2: NUL byte in line"},
    {"a p\rq\n", 0, "1: peer 'p\\x0dq': contains whitespace"},
};

static void test_file_errors(void **state) {
  (void)state;
  for (size_t i = 0; i < TB_NELEM(file_errors); i++) {
    struct tb_config *c = tb_config_create();
    const char *argv[] = {"before", "peer0", "--file", NULL};
    char path[64];
    char want[256];
    char err[ERRLEN];
    size_t len = file_errors[i].len != 0 ? file_errors[i].len : strlen(file_errors[i].text);

    assert_non_null(c);
    tb_tmpfile(path, sizeof path, file_errors[i].text, len);
    snprintf(want, sizeof want, "%s:%s", path, file_errors[i].err);
    assert_int_equal(tb_config_load_file(c, path, err, sizeof err), -1);
    tb_assert_contains(err, want);
    assert_int_equal(c->nrules, 0); /* rules from earlier lines are undone */

    /* the same through --file, after a rule from the arguments */
    argv[3] = path;
    assert_int_equal(tb_config_load_args(c, 4, argv, NULL, err, sizeof err), -1);
    tb_assert_contains(err, want);
    assert_int_equal(c->nrules, 0);
    assert_int_equal(unlink(path), 0);
    tb_config_destroy(c);
  }
}

static void test_file_too_big(void **state) {
  struct tb_config *c = tb_config_create();
  char path[64];
  char want[128];
  char err[ERRLEN];
  int fd;

  (void)state;
  assert_non_null(c);
  write_tmp(path, "");
  fd = open(path, O_WRONLY);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)(16 << 20) + 1), 0);
  assert_int_equal(close(fd), 0);
  snprintf(want, sizeof want, "%s: larger than 16 MiB", path);
  assert_int_equal(tb_config_load_file(c, path, err, sizeof err), -1);
  assert_string_equal(err, want);
  assert_int_equal(unlink(path), 0);
  tb_config_destroy(c);
}

/* A file holding exactly 16 MiB is still read (all of it blank lines). */
static void test_file_16mib(void **state) {
  struct tb_config *c = tb_config_create();
  const size_t size = (size_t)16 << 20;
  char *text = malloc(size);
  char path[64];
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  assert_non_null(text);
  memset(text, '\n', size);
  memcpy(text + size - 8, "a peer\n\n", 8);
  tb_tmpfile(path, sizeof path, text, size);
  if (tb_config_load_file(c, path, err, sizeof err) != 0) {
    fail_msg("%s", err);
  }
  assert_int_equal(c->nrules, 1);
  assert_int_equal(unlink(path), 0);
  free(text);
  tb_config_destroy(c);
}

/* 100,000 rules load (the array grows geometrically) and match in order. */
static void test_many_rules(void **state) {
  const size_t n = 100000;
  size_t cap = n * 48;
  char *text = malloc(cap);
  size_t len = 0;
  char path[64];
  char err[ERRLEN];
  struct tb_config *c = tb_config_create();
  const struct tb_rule *r;

  (void)state;
  assert_non_null(text);
  assert_non_null(c);
  for (size_t i = 0; i < n; i++) {
    len += (size_t)snprintf(text + len, cap - len, "h%zu[.]example[.]com p%zu.example.net:%zu\n", i, i,
                            i % 65535 + 1);
  }
  tb_tmpfile(path, sizeof path, text, len);
  if (tb_config_load_file(c, path, err, sizeof err) != 0) {
    fail_msg("%s", err);
  }
  assert_int_equal(c->nrules, n);
  assert_true(c->cap >= n && c->cap < 2 * n + 16);
  r = tb_config_match(c, "H99999.example.com", 18);
  assert_non_null(r);
  assert_string_equal(r->peer.host, "p99999.example.net");
  assert_int_equal(r->peer.port, 99999 % 65535 + 1);
  r = tb_config_match(c, "h5.example.com.", 15);
  assert_ptr_equal(r, &c->rules[5]);
  assert_null(tb_config_match(c, "h100000.example.com", 19));
  assert_int_equal(unlink(path), 0);
  free(text);
  tb_config_destroy(c);
}

/* A peer field may be a failover list or a template, as in plugin.config;
 * an error in one names the file and line, and undoes the earlier lines
 * and the peers they named. */
static void test_peer_lists(void **state) {
  struct tb_config *c = tb_config_create();
  char path[64];
  char want[160];
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  write_tmp(path, "a[.]example p1:4443,p2:4443\n(.*)[.]b gw-$1:4443,p2:4443\nc p2:4443\n");
  assert_int_equal(tb_config_load_file(c, path, err, sizeof err), 0);
  assert_int_equal(c->nrules, 3);
  assert_int_equal(c->npeers, 2);
  assert_int_equal(c->rules[0].npeers, 2);
  assert_int_equal(c->rules[1].ntemplates, 1);
  assert_int_equal(c->rules[2].peers[0].index, c->rules[0].peers[1].index);
  tb_config_destroy(c);
  assert_int_equal(unlink(path), 0);

  c = tb_config_create();
  assert_non_null(c);
  write_tmp(path, "a p1:4443,p2:4443\nb p3:1,p1:4443,P3:1\n");
  assert_int_equal(tb_config_load_file(c, path, err, sizeof err), -1);
  snprintf(want, sizeof want,
           "%s:2: peer 'P3:1' is listed twice in this rule (the same host and port as peer 1)", path);
  assert_string_equal(err, want);
  assert_int_equal(c->nrules, 0);
  assert_int_equal(c->npeers, 0);
  tb_config_destroy(c);
  assert_int_equal(unlink(path), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_file_ok),     cmocka_unit_test(test_file_empty),
      cmocka_unit_test(test_file_errors), cmocka_unit_test(test_file_too_big),
      cmocka_unit_test(test_file_16mib),  cmocka_unit_test(test_many_rules),
      cmocka_unit_test(test_peer_lists),
  };
  return cmocka_run_group_tests_name("tb_rulefile", tests, NULL, NULL);
}
