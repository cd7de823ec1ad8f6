/*
 * direct: the direct engine's TLS client settings in force (one per
 * distinct transport of a configuration, tb_transport), built from the
 * configuration and, for what it leaves unset, Traffic Server's own
 * proxy.config.ssl.client.* records, so that switching a rule's engine
 * needs no other change.  Also the one session cache every direct link
 * resumes from.
 *
 * A struct tb_direct is immutable once made and counted: the live
 * configuration holds one reference, each link and each pool another, so a
 * reload that builds new ones (new certificate files are read then) leaves
 * links open under the old ones working.  Thread-safe.
 */
#ifndef TB_DIRECT_H
#define TB_DIRECT_H

#include <stddef.h>

#include "glue.h"
#include "tb_config.h"
#include "tb_tls.h"

struct tb_direct;

/* The settings of transport t (engine direct) with the records filling in
 * what t leaves unset; NULL with what is wrong in err ("client certificate
 * '/etc/...': ..."), for the configuration's load to fail on. */
struct tb_direct *tb_direct_make(const struct tb_transport *t, char *err, size_t errlen);

/* Another reference to d. */
struct tb_direct *tb_direct_ref(struct tb_direct *d);

/* Drop a reference; the last one frees d.  NULL: no-op. */
void tb_direct_unref(struct tb_direct *d);

const struct tb_tls_ctx *tb_direct_ctx(const struct tb_direct *d);

/* The name to send as SNI and to verify, or NULL for the peer's own. */
const char *tb_direct_sni(const struct tb_direct *d);

/* What makes two of them the same settings (paths, verification, SNI; not
 * the files' contents): pools are kept per peer and this. */
const char *tb_direct_key(const struct tb_direct *d);

/* One line for messages: "engine direct (client certificate ..., CA ...,
 * verify on)". */
const char *tb_direct_describe(const struct tb_direct *d);

/* The session cache of all direct links (made at first use, never freed). */
struct tb_tls_cache *tb_direct_cache(void);

#endif
