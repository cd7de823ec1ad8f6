/*
 * Shared between tb_config.c and tb_yaml.c only; not part of the core's
 * interface.
 */
#ifndef TB_CONFIG_PRIVATE_H
#define TB_CONFIG_PRIVATE_H

#include <stddef.h>

#include "tb_config.h"

#define TB_FILE_MAX ((size_t)16 << 20) /* a configuration file larger than this is a mistake */
#define TB_TIMEOUT_MAX_S 3600u         /* connect timeout, pool max age */
#define TB_LIFETIME_MAX_S 2000000u     /* idle timeout, lifetime: fits in unsigned milliseconds */

#if defined(__GNUC__)
#define TB_PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define TB_PRINTFLIKE(f, a)
#endif

/* The whole file in a malloc'd, NUL-terminated buffer (length in *lenp), or
 * NULL with "<path>: <what is wrong>" in err. */
char *tb_read_file(const char *path, size_t *lenp, char *err, size_t errlen);

/* "keep", "strip" or "forwarded" (exactly) to *out; -1 for anything else. */
int tb_identity_parse(const char *s, enum tb_identity *out);

/* Put c back as it was when *saved was copied from it: the rules added since
 * dropped, the options restored. */
void tb_config_undo(struct tb_config *c, const struct tb_config *saved);

#endif
