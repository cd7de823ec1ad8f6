/* tb_file: see tb_file.h. */
#include "tb_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *tb_file_read(const char *path, size_t *lenp, char *err, size_t errlen) {
  FILE *f;
  char *buf = NULL;
  size_t len = 0;
  size_t cap = 0;

  f = fopen(path, "rb");
  if (f == NULL) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  for (;;) {
    size_t n;
    if (len == cap) {
      size_t ncap = cap == 0 ? 4096 : cap * 2;
      char *nbuf;
      if (ncap > TB_FILE_MAX + 1) {
        ncap = TB_FILE_MAX + 1; /* one byte over the limit is enough to tell */
      }
      nbuf = realloc(buf, ncap + 1);
      if (nbuf == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
      }
      buf = nbuf;
      cap = ncap;
    }
    n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (len > TB_FILE_MAX) {
      snprintf(err, errlen, "%s: larger than 16 MiB", path);
      goto fail;
    }
    if (n == 0) {
      if (ferror(f)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        goto fail;
      }
      break;
    }
  }
  (void)fclose(f); /* read-only: nothing can be lost on close */
  buf[len] = '\0';
  *lenp = len;
  return buf;

fail:
  (void)fclose(f);
  free(buf);
  return NULL;
}
