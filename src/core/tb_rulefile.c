/*
 * tb_rulefile: see tb_rulefile.h.  Each rule's origin is "<path>:<line>".
 */
#include "tb_rulefile.h"
#include "tb_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_blank(char ch) {
  return ch == ' ' || ch == '\t';
}

int tb_config_load_file(struct tb_config *c, const char *path, char *err, size_t errlen) {
  struct tb_config saved = *c; /* to undo the rules of earlier lines */
  char *origin = NULL;
  char *buf;
  char *p;
  char *end;
  size_t len;
  size_t lineno;
  size_t originlen = strlen(path) + 32; /* "<path>:<line>" */

  buf = tb_file_read(path, &len, err, errlen);
  if (buf == NULL) {
    return -1;
  }
  origin = malloc(originlen);
  if (origin == NULL) {
    snprintf(err, errlen, "%s: out of memory", path);
    goto fail;
  }

  end = buf + len;
  for (p = buf, lineno = 1; p < end; lineno++) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *line = p;
    char *field[2] = {NULL, NULL};
    size_t n;
    size_t nfields = 0;
    size_t i;

    n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
    p = nl != NULL ? nl + 1 : end;
    if (memchr(line, '\0', n) != NULL) {
      snprintf(err, errlen, "%s:%zu: NUL byte in line", path, lineno);
      goto fail;
    }
    if (n > 0 && line[n - 1] == '\r') {
      n--; /* CRLF line end */
    }
    while (n > 0 && is_blank(line[n - 1])) {
      n--;
    }
    while (n > 0 && is_blank(line[0])) {
      line++;
      n--;
    }
    if (n == 0 || line[0] == '#') {
      continue;
    }

    /* Fields are cut in place: the byte after each one is a blank, the line
     * end, or the spare byte after the buffer, so it may become a NUL. */
    for (i = 0; i < n;) {
      size_t start;
      while (i < n && is_blank(line[i])) {
        i++;
      }
      start = i;
      while (i < n && !is_blank(line[i])) {
        i++;
      }
      if (nfields < 2) {
        field[nfields] = line + start;
      }
      nfields++;
      if (nfields <= 2) {
        line[i] = '\0';
        i += i < n;
      }
    }
    if (nfields != 2) {
      snprintf(err, errlen, "%s:%zu: expected '<regex> <peer>', found %zu field%s", path, lineno, nfields,
               nfields == 1 ? "" : "s");
      goto fail;
    }
    snprintf(origin, originlen, "%s:%zu", path, lineno);
    if (tb_config_add_rule(c, field[0], field[1], origin, err, errlen) != 0) {
      goto fail;
    }
  }
  free(origin);
  free(buf);
  return 0;

fail:
  tb_config_undo(c, &saved);
  free(origin);
  free(buf);
  return -1;
}
