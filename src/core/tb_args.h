/*
 * tb_args: the plugin.config arguments read into a tb_config: options,
 * "<regex> <peer>" pairs (the peer may be a failover list,
 * "peerA:4443,peerB:4443") and "--file PATH" rule files, in order; or
 * "--config PATH" alone, which hands the whole configuration to a YAML file.
 *
 * Owns nothing once it returns.  Not thread-safe: it builds a configuration
 * (see tb_config.h).
 */
#ifndef TB_ARGS_H
#define TB_ARGS_H

#include <stddef.h>

#include "tb_config.h"

/* Apply plugin.config arguments (argv[0] is the first argument, not the
 * plugin path): "--file PATH" (relative PATH resolved against confdir, or
 * used as is when confdir is NULL; see tb_rulefile.h), "--connect-timeout
 * SECONDS" (1..3600), "--pool N", "--pool-max-age SECONDS", "--idle-timeout
 * SECONDS" and "--max-lifetime SECONDS" (0: never; absent: unset, see
 * struct tb_settings), "--unmatched passthrough|deny", "--client-identity
 * keep|strip|forwarded", "--engine ats|direct" (the default transport's
 * engine, tb_config_set_transport: every rule's, wherever it stands),
 * "--health-failures N" (1..100), "--health-down-for
 * SECONDS" (1..3600), and "<regex> <peer>[,<peer>...]" pairs, in order; or "--config
 * PATH" alone (a YAML file, see tb_yaml.h).  Returns 0, or -1 with
 * "plugin.config argument N ...: <what is wrong>" (or the file's message) in
 * err and c as it was before the call. */
int tb_config_load_args(struct tb_config *c, int argc, const char *const *argv, const char *confdir,
                        char *err, size_t errlen);

/* What the plugin does with its plugin.config arguments at start and on
 * every reload, and what tls_bridge_check does with the same arguments:
 * tb_config_load_args, then tb_config_check_loaded (at least one rule).  c
 * is normally new (tb_config_create), as the plugin's always is.  Returns
 * 0, or -1 with the message in err and c as it was before the call. */
int tb_config_load_plugin_args(struct tb_config *c, int argc, const char *const *argv, const char *confdir,
                               char *err, size_t errlen);

#endif
