/*
 * tb_transport: how a rule reaches its peers.  The engine is Traffic
 * Server's own internal CONNECT ("ats", the default) or the plugin's own
 * TLS client over a connection it opens ("direct"); for the direct engine a
 * transport also holds the TLS client's settings.  This module says what
 * makes a transport valid, when two are the same (tb_config interns them,
 * tb_config.h) and how an SNI name is read; the glue reads the settings.
 *
 * A struct tb_transport owns its strings (tb_transport_copy makes them,
 * tb_transport_clear frees them); inside a tb_config the config owns them.
 * The functions own nothing else and are thread-safe (no state).
 */
#ifndef TB_TRANSPORT_H
#define TB_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "tb_peer.h"

enum tb_engine { TB_ENGINE_UNSET = 0, TB_ENGINE_ATS, TB_ENGINE_DIRECT };

/* "ats", "direct" ("default" for UNSET). */
const char *tb_engine_name(enum tb_engine e);

/* Exactly "ats" or "direct" to *out and 0; -1 for anything else, *out
 * untouched. */
int tb_engine_parse(const char *s, enum tb_engine *out);

#define TB_VERIFY_UNSET (-1)

/* How a rule reaches its peers.  For engine direct, the TLS client settings;
 * a NULL path or verify TB_VERIFY_UNSET means "as Traffic Server's
 * proxy.config.ssl.client.* records say" (the glue reads those).  Paths are
 * resolved once in a configuration: a relative path in a file is resolved
 * against the ATS configuration directory (confdir), as --file is, so they
 * are absolute in the plugin. */
struct tb_transport {
  enum tb_engine engine; /* never UNSET inside c->transports */
  char *client_cert;     /* owned; PEM certificate (chain) the ingress presents; NULL: records */
  char *client_key;      /* owned; its key; NULL: records (or in client_cert when that is set) */
  char *ca;              /* owned; a CA file or a directory of hashed CA certs; NULL: records */
  char *sni;             /* owned; the name sent as SNI and verified in the peer's certificate (lower case, no
                            trailing dot); NULL: the peer's host */
  int verify;            /* 1 verify the peer's certificate, 0 do not, TB_VERIFY_UNSET: records' policy */
};

/* An initializer for the transport of a configuration that says nothing:
 * Traffic Server's CONNECT, nothing of its own. */
#define TB_TRANSPORT_ATS                                                                                     \
  { TB_ENGINE_ATS, NULL, NULL, NULL, NULL, TB_VERIFY_UNSET }

/* The TLS settings by name, in the order the messages and the
 * configuration list them. */
enum tb_tls_key {
  TB_TLSKEY_CLIENT_CERT,
  TB_TLSKEY_CLIENT_KEY,
  TB_TLSKEY_CA,
  TB_TLSKEY_SNI,
  TB_TLSKEY_VERIFY,
  TB_TLSKEY_COUNT
};

/* "client_cert", "client_key", "ca", "sni", "verify". */
const char *tb_tls_key_name(enum tb_tls_key k);

/* Does t give TLS setting k (a path or name, or verify not UNSET)? */
int tb_transport_has(const struct tb_transport *t, enum tb_tls_key k);

/* Setting k of t when it is a string (a path, or sni): its value, NULL when
 * unset; NULL for verify. */
const char *tb_transport_string(const struct tb_transport *t, enum tb_tls_key k);

/* Where string setting k of t is kept (for a front end filling t in); NULL
 * for verify. */
char **tb_transport_field(struct tb_transport *t, enum tb_tls_key k);

/* What makes t unfit for a configuration, in a few words (a static
 * string), or NULL: the engine must be ats or direct; TLS settings only
 * with engine direct (the ats engine would ignore them: Traffic Server's
 * records govern its TLS); no empty path; client_key only with
 * client_cert (a key beside the records' certificate would not be its
 * key); sni as tb_transport_sni_problem has it; verify -1, 0 or 1. */
const char *tb_transport_problem(const struct tb_transport *t);

/* Read s[0..len) as an SNI name: a DNS host name (tb_peer's rules), one
 * trailing dot dropped, no port, no brackets, not an IP address (RFC 6066
 * 3: SNI carries names only).  Writes it in lower case into host
 * (TB_HOST_MAX + 1 bytes) and returns NULL, or returns what is wrong (a
 * static string) with host untouched. */
const char *tb_transport_sni_problem(const char *s, size_t len, char *host);

/* Are a and b the same transport (engine, verify, and every string, each
 * NULL in both or equal)?  1 yes, 0 no. */
int tb_transport_same(const struct tb_transport *a, const struct tb_transport *b);

/* A hash of t, equal for transports tb_transport_same calls the same. */
uint64_t tb_transport_hash(const struct tb_transport *t);

/* *dst = *src with the strings copied.  Returns 0, or -1 when out of
 * memory, with dst's strings NULL.  dst's own strings are not freed. */
int tb_transport_copy(struct tb_transport *dst, const struct tb_transport *src);

/* Free t's strings and set them NULL (engine and verify stay). */
void tb_transport_clear(struct tb_transport *t);

#endif
