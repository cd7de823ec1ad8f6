/*
 * tb_file: a configuration file read whole into memory, with the limits and
 * messages every configuration front end shares.
 *
 * The caller owns (and frees) the buffer it returns.  Thread-safe (no state).
 */
#ifndef TB_FILE_H
#define TB_FILE_H

#include <stddef.h>

#define TB_FILE_MAX ((size_t)16 << 20) /* a configuration file larger than this is a mistake */

/* The whole file in a malloc'd, NUL-terminated buffer (length in *lenp; the
 * text may hold NUL bytes of its own), or NULL with "<path>: <what is
 * wrong>" in err. */
char *tb_file_read(const char *path, size_t *lenp, char *err, size_t errlen);

#endif
