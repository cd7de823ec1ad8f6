/*
 * authz: the peer role (docs/configuration.md, "Peer role").  For every
 * CONNECT that reaches a peer-role instance, the names of the TLS client
 * certificate of the connection it came on (tb_certnames.h) are checked
 * against the configuration's policy (tb_policy.h) for the CONNECT's
 * target: an allowed CONNECT is left to Traffic Server exactly as without
 * the plugin (its own tunnel: nothing of the data path changes); a refused
 * one gets 403 with an X-TLS-Bridge-Error naming the identity and the
 * target (refuse.h).  Every decision is counted (plugin.tls_bridge.authz.*)
 * and written as one line to tls_bridge_authz.log.
 *
 * How the certificate is found, the same on ATS 9.2 and 10.2:
 * TSHttpTxnSsnGet -> TSHttpSsnClientVConnGet (the client's network
 * connection) -> TSVConnSslConnectionGet, which is OpenSSL's SSL * for a
 * TLS connection and NULL for anything else (plain TCP, an internal
 * transaction); then SSL_get1_peer_certificate and SSL_get_verify_result
 * (a certificate that did not verify counts as none: with
 * certification_level 1 Traffic Server asks for one but lets the handshake
 * finish without it).  Traffic Server and the plugin use the same libssl
 * (the system's OpenSSL 3, linked by both).
 *
 * No state but the log object (set once at start, never freed);
 * thread-safe.
 */
#ifndef TB_AUTHZ_H
#define TB_AUTHZ_H

#include <stdint.h>

#include "glue.h"
#include "tb_config.h"

/* Where decision lines go (NULL: nowhere). */
void tb_authz_log_set(TSTextLogObject log);

/* Decide txn's CONNECT to host[0..host_len):port by c's policy (c is a
 * peer-role configuration in force, load number generation), count and log
 * it, and re-enable txn: to continue (allowed) or with a 403 (refused).
 * The caller has released its handles on the request and must not touch
 * txn afterwards. */
void tb_authz_connect(TSHttpTxn txn, const struct tb_config *c, uint64_t generation, const char *host,
                      int host_len, int port);

#endif
