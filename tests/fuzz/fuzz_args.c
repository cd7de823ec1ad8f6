/*
 * libFuzzer target: tb_config_load_args and tb_config_load_file.  The input,
 * split on NUL bytes, is up to 16 plugin.config arguments (confdir NULL); if
 * they load, a few hosts taken from the input are looked up (with and
 * without captures; each peer of the rule found made for the host).  The same input
 * is also written to a temporary file (one per process, truncated each time)
 * and loaded as a rule file.  Inputs over 4096 bytes are skipped.
 */
#include "tb_args.h"
#include "tb_rulefile.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 4096
#define MAX_ARGS 16

static char path[] = "/tmp/tb-fuzz-args-XXXXXX";
static int fd = -1;

static void check_err(const char *err, size_t errlen) {
  if (memchr(err, '\0', errlen) == NULL) {
    abort();
  }
}

static void lookups(const struct tb_config *c, const char *text, size_t len) {
  const struct tb_rule *rule;
  size_t start = 0;
  int n = 0;
  /* Hosts: the input's tokens split on NUL, space and newline, at most 8. */
  for (size_t i = 0; i <= len && n < 8; i++) {
    if (i == len || text[i] == '\0' || text[i] == ' ' || text[i] == '\n') {
      if (i > start) {
        int rc = tb_config_lookup(c, text + start, i - start, &rule);
        if (rc == 0 && rule != NULL && (rule < c->rules || rule >= c->rules + c->nrules)) {
          abort();
        }
        if (rc != 0 && rule != NULL) {
          abort();
        }
        struct tb_captures caps;
        if (tb_config_lookup_captures(c, text + start, i - start, 0, &rule, &caps) == 0 && rule != NULL) {
          for (size_t k = 0; k < rule->npeers; k++) {
            struct tb_peer p;
            char err[256];
            if (tb_config_rule_peer(c, rule, k, text + start, i - start, &caps, &p, err, sizeof err) != 0 &&
                rule->peers[k].tpl == NULL) {
              abort(); /* a configured peer is always there */
            }
          }
        }
        n++;
      }
      start = i + 1;
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char buf[MAX_INPUT + 1];
  const char *argv[MAX_ARGS];
  char err[512];
  int argc = 0;
  struct tb_config *c;

  if (size > MAX_INPUT) {
    return 0;
  }
  memcpy(buf, data, size);
  buf[size] = '\0';
  /* argv: NUL-separated strings; the last one ends at buf[size]. */
  for (size_t i = 0; i < size && argc < MAX_ARGS;) {
    argv[argc++] = buf + i;
    i += strlen(buf + i) + 1;
  }

  c = tb_config_create();
  if (c == NULL) {
    return 0;
  }
  memset(err, 'x', sizeof err);
  if (tb_config_load_args(c, argc, argv, NULL, err, sizeof err) == 0) {
    lookups(c, buf, size);
  } else {
    check_err(err, sizeof err);
    if (c->nrules != 0 || c->transports[0].engine != TB_ENGINE_ATS) {
      abort(); /* c as it was before the call (--engine undone) */
    }
  }
  tb_config_destroy(c);

  if (fd < 0) {
    fd = mkstemp(path);
    if (fd < 0) {
      return 0;
    }
  }
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) {
    return 0;
  }
  c = tb_config_create();
  if (c == NULL) {
    return 0;
  }
  memset(err, 'x', sizeof err);
  if (tb_config_load_file(c, path, err, sizeof err) == 0) {
    lookups(c, buf, size);
  } else {
    check_err(err, sizeof err);
    if (c->nrules != 0) {
      abort(); /* c as it was before the call */
    }
  }
  tb_config_destroy(c);
  return 0;
}

/* Remove the temporary file when the fuzzer exits normally. */
__attribute__((destructor)) static void cleanup(void) {
  if (fd >= 0) {
    close(fd);
    unlink(path);
  }
}
