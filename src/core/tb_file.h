/*
 * tb_file: a configuration file read whole into memory, with the limits and
 * messages every configuration front end shares; where a relative path in a
 * configuration is; whether a file a configuration names (a certificate, a
 * key, a CA) can be read.
 *
 * The caller owns (and frees) the buffers it returns.  Thread-safe (no state).
 */
#ifndef TB_FILE_H
#define TB_FILE_H

#include <stddef.h>

#define TB_FILE_MAX ((size_t)16 << 20) /* a configuration file larger than this is a mistake */

/* The whole file in a malloc'd, NUL-terminated buffer (length in *lenp; the
 * text may hold NUL bytes of its own), or NULL with "<path>: <what is
 * wrong>" in err. */
char *tb_file_read(const char *path, size_t *lenp, char *err, size_t errlen);

/* path as is when it is absolute or confdir is NULL or empty, else
 * confdir/path: how every path in a configuration (--file, --config, the
 * YAML file's TLS files) is found, against Traffic Server's configuration
 * directory.  A malloc'd string, or NULL when out of memory. */
char *tb_file_resolve(const char *confdir, const char *path);

/* Can this process use path as a file it will read: a regular file it may
 * open for reading, or, with dir_ok, also a directory it may search (a
 * directory of hashed CA certificates, looked up by name).  Returns 0, or
 * -1 with what is wrong in why ("cannot open: Permission denied", "is a
 * directory", ...; always NUL-terminated when len > 0). */
int tb_file_check(const char *path, int dir_ok, char *why, size_t len);

#endif
