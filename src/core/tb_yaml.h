/*
 * tb_yaml: the YAML configuration file (docs/configuration.md) read into a
 * tb_config: its role; for an ingress the options, the defaults rules fall
 * back on (the default transport included), and the rules with their
 * ports, names, settings, clients, actions and transports; for a peer
 * (role: peer) its policy (tb_policy.h).  Every message names the file, the
 * line and the column of the value at fault.
 *
 * Owns nothing once it returns (libyaml's document is freed).  Not
 * thread-safe: it builds a configuration (see tb_config.h).
 */
#ifndef TB_YAML_H
#define TB_YAML_H

#include <stddef.h>

#include "tb_config.h"

/* Read a YAML configuration (docs/configuration.md) into c, which must be
 * empty (no rules).  The files it names (the TLS keys) are found against
 * confdir when relative (tb_file_resolve: as written when confdir is NULL)
 * and must be readable by this process.  Returns 0, or -1 with
 * "<path>:<line>:<column>: <what is wrong>" (or "<path>: ..." for the file
 * as a whole) in err and c as it was before the call. */
int tb_config_load_yaml(struct tb_config *c, const char *path, const char *confdir, char *err, size_t errlen);

/* The same from text[0..len) in memory; name stands for the path in
 * messages. */
int tb_config_load_yaml_text(struct tb_config *c, const char *text, size_t len, const char *name,
                             const char *confdir, char *err, size_t errlen);

#endif
