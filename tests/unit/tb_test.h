/*
 * Helpers shared by the unit tests: cmocka's includes in the order it needs,
 * a guard-paged input buffer, and temporary files.  Header-only (static
 * inline) so each test binary stays one .c file plus the core.
 */
#ifndef TB_TEST_H
#define TB_TEST_H

/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define TB_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A socket address (port 0) for an IPv4 or IPv6 address in text; fails the
 * test for anything else. */
static inline struct sockaddr_storage tb_test_sockaddr(const char *text) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)(void *)&ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)(void *)&ss;
  if (inet_pton(AF_INET, text, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
  } else {
    assert_int_equal(inet_pton(AF_INET6, text, &a6->sin6_addr), 1);
    a6->sin6_family = AF_INET6;
  }
  return ss;
}

/*
 * Input placed so that its last byte is the last byte before a PROT_NONE
 * page: a parser that reads one byte past what it was given faults at once,
 * under any build (ASan cannot see a read past a slice of a bigger buffer).
 * Mapped from /dev/zero because MAP_ANONYMOUS is not in POSIX 2008.
 */
struct tb_guard {
  char *map;    /* the whole mapping */
  size_t size;  /* bytes usable before the guard page */
  size_t total; /* size + one page */
};

static inline void tb_guard_init(struct tb_guard *g, size_t min) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  int fd = open("/dev/zero", O_RDWR);
  void *m;

  assert_true(fd >= 0);
  g->size = (min + page - 1) / page * page;
  g->total = g->size + page;
  m = mmap(NULL, g->total, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  assert_true(m != MAP_FAILED);
  assert_int_equal(close(fd), 0);
  g->map = m;
  assert_int_equal(mprotect(g->map + g->size, page, PROT_NONE), 0);
}

/* Copy s[0..n) to end right at the guard page; returns where it now is. */
static inline const char *tb_guard_put(const struct tb_guard *g, const char *s, size_t n) {
  char *p;

  assert_true(n <= g->size);
  p = g->map + g->size - n;
  if (n > 0) {
    memcpy(p, s, n);
  }
  return p;
}

static inline void tb_guard_free(struct tb_guard *g) {
  assert_int_equal(munmap(g->map, g->total), 0);
  g->map = NULL;
}

/* Write data to a new file under /tmp; its path goes to path (>= 32 bytes). */
static inline void tb_tmpfile(char *path, size_t pathlen, const char *data, size_t len) {
  int fd;

  assert_true(pathlen >= sizeof "/tmp/tb_unit_XXXXXX");
  memcpy(path, "/tmp/tb_unit_XXXXXX", sizeof "/tmp/tb_unit_XXXXXX");
  fd = mkstemp(path);
  assert_true(fd >= 0);
  while (len > 0) {
    ssize_t w = write(fd, data, len);
    assert_true(w > 0);
    data += w;
    len -= (size_t)w;
  }
  assert_int_equal(close(fd), 0);
}

static inline void tb_assert_contains(const char *text, const char *needle) {
  if (strstr(text, needle) == NULL) {
    fail_msg("expected \"%s\" in \"%s\"", needle, text);
  }
}

#endif
