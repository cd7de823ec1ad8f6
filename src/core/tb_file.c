/* tb_file: see tb_file.h. */
#include "tb_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

char *tb_file_resolve(const char *confdir, const char *path) {
  size_t dl = 0;
  size_t pl = strlen(path);
  char *full;

  if (path[0] != '/' && confdir != NULL && confdir[0] != '\0') {
    dl = strlen(confdir);
  }
  full = malloc(dl + 1 + pl + 1);
  if (full == NULL) {
    return NULL;
  }
  if (dl == 0) {
    memcpy(full, path, pl + 1);
    return full;
  }
  memcpy(full, confdir, dl);
  if (confdir[dl - 1] != '/') {
    full[dl++] = '/';
  }
  memcpy(full + dl, path, pl + 1);
  return full;
}

int tb_file_check(const char *path, int dir_ok, char *why, size_t len) {
  struct stat st;
  int fd;

  if (stat(path, &st) != 0) {
    snprintf(why, len, "cannot open: %s", strerror(errno));
    return -1;
  }
  if (S_ISDIR(st.st_mode)) {
    if (!dir_ok) {
      snprintf(why, len, "is a directory, not a file");
      return -1;
    }
    /* Lookups open "DIR/HASH.N" by name: searching is what they need.
     * AT_EACCESS: as the effective user, the one that will open them. */
    if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) != 0) {
      snprintf(why, len, "directory cannot be searched: %s", strerror(errno));
      return -1;
    }
    return 0;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(why, len, "not a regular file%s", dir_ok ? " or directory" : "");
    return -1;
  }
  fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, len, "cannot open: %s", strerror(errno));
    return -1;
  }
  (void)close(fd); /* read-only: nothing can be lost on close */
  return 0;
}
