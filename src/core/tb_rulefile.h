/*
 * tb_rulefile: the rule file that "--file PATH" names in plugin.config: one
 * "<regex> <peer>" per line, in order, read into a tb_config.
 *
 * Owns nothing once it returns (the file's text is freed).  Not
 * thread-safe: it builds a configuration (see tb_config.h).
 */
#ifndef TB_RULEFILE_H
#define TB_RULEFILE_H

#include <stddef.h>

#include "tb_config.h"

/* Read a rule file: one "<regex> <peer>" per line, blank lines and lines whose
 * first non-blank character is '#' ignored.  Returns 0, or -1 with
 * "<path>:<line>: <what is wrong>" in err and c as it was before the call. */
int tb_config_load_file(struct tb_config *c, const char *path, char *err, size_t errlen);

#endif
