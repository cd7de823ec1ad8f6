/*
 * tb_tls_cache: what tb_tls.c needs of the session cache beyond tb_tls.h's
 * create, destroy and count (tb_tls_cache.c).  Internal to tb_tls, not an
 * API.  Thread-safe.
 */
#ifndef TB_TLS_CACHE_H
#define TB_TLS_CACHE_H

#include <stdint.h>

#include <openssl/ssl.h>

#include "tb_tls.h"

/* Keep sess (one reference, which the cache now owns) for peer under the
 * settings ctx_id. */
void tb_tls_cache_put(struct tb_tls_cache *c, uint64_t ctx_id, const struct tb_peer *peer, SSL_SESSION *sess);

/* The newest live session for peer under ctx_id, removed from the cache
 * (the caller owns the reference), or NULL. */
SSL_SESSION *tb_tls_cache_take(struct tb_tls_cache *c, uint64_t ctx_id, const struct tb_peer *peer);

/* How many live sessions the cache holds for peer under ctx_id. */
unsigned tb_tls_cache_count_id(struct tb_tls_cache *c, uint64_t ctx_id, const struct tb_peer *peer);

#endif
