/* authz: see authz.h. */
#include "authz.h"

#include <inttypes.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "refuse.h"
#include "stats.h"
#include "tb_cidr.h"
#include "tb_explain.h"
#include "tb_http.h"

#define WHY_MAX 256
#define TEXT_MAX 600 /* a name (512 bytes) and room around it */

static TSTextLogObject g_log; /* not owned; set once at start */

/* snprintf where cutting the text to fit is intended (messages built from
 * names up to 512 bytes): through a va_list, which -Wformat-truncation
 * leaves alone. */
static void put(char *buf, size_t len, const char *fmt, ...) TS_PRINTFLIKE(3, 4);
static void put(char *buf, size_t len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  (void)vsnprintf(buf, len, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): started above */
  va_end(ap);
}

void tb_authz_log_set(TSTextLogObject log) {
  g_log = log;
}

/* The names of the verified client certificate of txn's connection into
 * *names.  Returns 0, or -1 with why there is none in why ("not over TLS",
 * "no client certificate", "client certificate not verified: ...",
 * "certificate unreadable: ...") and names->n 0. */
static int client_names(TSHttpTxn txn, struct tb_certnames *names, char *why, size_t whylen) {
  TSHttpSsn ssn = TSHttpTxnSsnGet(txn);
  TSVConn vc = ssn != NULL ? TSHttpSsnClientVConnGet(ssn) : NULL;
  TSSslConnection sslc = vc != NULL ? TSVConnSslConnectionGet(vc) : NULL;
  SSL *ssl = (SSL *)(void *)sslc;
  unsigned char *der = NULL;
  char err[128];
  int len;
  int rc;

  tb_certnames_init(names);
  if (ssl == NULL) {
    snprintf(why, whylen, "not over TLS");
    return -1;
  }
  X509 *x = SSL_get1_peer_certificate(ssl); /* a reference of our own */
  if (x == NULL) {
    snprintf(why, whylen, "no client certificate");
    return -1;
  }
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    X509_free(x);
    snprintf(why, whylen, "client certificate not verified: %s", X509_verify_cert_error_string(verify));
    return -1;
  }
  len = i2d_X509(x, &der);
  X509_free(x);
  if (len <= 0) {
    snprintf(why, whylen, "certificate unreadable: cannot encode it (out of memory?)");
    return -1;
  }
  rc = tb_certnames_from_der(der, (size_t)len, names, err, sizeof err);
  OPENSSL_free(der);
  if (rc != 0) {
    snprintf(why, whylen, "certificate unreadable: %s", err);
    return -1;
  }
  return 0;
}

/* text as a log field's value between double quotes: a '"' becomes '\''
 * (names are printable ASCII already; a CN may hold quotes). */
static const char *field(char *buf, size_t len, const char *text) {
  size_t n = tb_http_header_value(buf, len, text);
  for (size_t i = 0; i < n; i++) {
    if (buf[i] == '"') {
      buf[i] = '\'';
    }
  }
  return buf;
}

/* One line in tls_bridge_authz.log (docs/operations.md, "Authorisation log"). */
static void log_decision(TSHttpTxn txn, const char *target, const char *decision, const char *cause,
                         const char *identity, const struct tb_authz *a, uint64_t generation,
                         const char *why) {
  char addr[64];
  char id[TEXT_MAX];
  char entry[TB_ORIGIN_MAX + 32] = "-";
  char reason[TEXT_MAX + WHY_MAX];
  const struct sockaddr *sa = TSHttpTxnClientAddrGet(txn);
  int port = 0;

  if (g_log == NULL) {
    return;
  }
  if (sa != NULL && sa->sa_family == AF_INET) {
    port = ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
  } else if (sa != NULL && sa->sa_family == AF_INET6) {
    port = ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
  }
  if (a != NULL && a->entry != NULL) {
    snprintf(entry, sizeof entry, "%zu %s", a->entry_number, a->entry->origin);
  }
  if (TSTextLogObjectWrite(g_log,
                           "client=%s:%d target=%s decision=%s cause=%s identity=\"%s\" entry=\"%s\" "
                           "configuration=%" PRIu64 " reason=\"%s\"",
                           tb_cidr_addr_text(sa, addr, sizeof addr), port, target, decision, cause,
                           field(id, sizeof id, identity), entry, generation,
                           field(reason, sizeof reason, why)) != TS_SUCCESS) {
    TB_DEBUG("authz log line could not be written");
  }
}

/* "deny target 2 (host 'X', ports P)" or "allow target 1 (...)". */
static void target_words(char *buf, size_t len, const struct tb_authz *a) {
  char target[WHY_MAX];

  (void)tb_policy_format_target(a->target, target, sizeof target); /* a cut one ends in "..." */
  put(buf, len, "%s target %zu %s", a->result == TB_AUTHZ_ALLOWED ? "allow" : "deny", a->target_number,
      target);
}

void tb_authz_connect(TSHttpTxn txn, const struct tb_config *c, uint64_t generation, const char *host,
                      int host_len, int port) {
  struct tb_certnames names; /* 8 KiB on this thread's stack */
  struct tb_authz a;
  char target[TB_PEER_TEXT_MAX + 8];
  char why[WHY_MAX];
  char identity[TEXT_MAX];
  char detail[TB_REFUSE_DETAIL_MAX];
  size_t hlen = host_len > TB_HOST_MAX ? TB_HOST_MAX : (size_t)host_len; /* for messages only */
  unsigned uport = port > 0 && port < 65536 ? (unsigned)port : 0;
  enum tb_stat stat;

  snprintf(target, sizeof target, memchr(host, ':', hlen) != NULL ? "[%.*s]:%d" : "%.*s:%d", (int)hlen, host,
           port);
  memset(&a, 0, sizeof a);
  if (client_names(txn, &names, why, sizeof why) != 0) {
    tb_stat_add(TB_STAT_AUTHZ_NO_CERTIFICATE, 1);
    log_decision(txn, target, "refused", "no_certificate", "-", NULL, generation, why);
    TB_DEBUG("authz CONNECT %s: refused, %s", target, why);
    put(detail, sizeof detail, "tls_bridge: CONNECT %s refused: %s", target, why);
    tb_refuse(txn, TS_HTTP_STATUS_FORBIDDEN, detail);
    return;
  }
  (void)tb_certnames_format(&names, identity, sizeof identity);
  if (host_len > TB_HOST_MAX) {
    /* No DNS name is longer; matching a cut one could allow what the whole
     * name is not allowed. */
    tb_stat_add(TB_STAT_AUTHZ_TARGET_NOT_ALLOWED, 1);
    log_decision(txn, target, "refused", "target_not_allowed", identity, NULL, generation,
                 "target host longer than 253 bytes");
    tb_refuse(txn, TS_HTTP_STATUS_FORBIDDEN,
              "tls_bridge: CONNECT refused: target host longer than 253 bytes");
    return;
  }
  switch (tb_policy_decide(c->policy, &names, host, (size_t)host_len, uport, &a)) {
  case TB_AUTHZ_ALLOWED:
    snprintf(identity, sizeof identity, "%s:%s", tb_certname_kind_name(a.name->kind), a.name->text);
    target_words(why, sizeof why, &a);
    tb_stat_add(TB_STAT_AUTHZ_ALLOWED, 1);
    log_decision(txn, target, "allowed", "allowed", identity, &a, generation, why);
    TB_DEBUG("authz CONNECT %s by %s: allowed by policy entry %zu (%s)", target, identity, a.entry_number,
             a.entry->origin);
    TSHttpTxnReenable(txn, TS_EVENT_HTTP_CONTINUE); /* ATS's own tunnel, as without the plugin */
    return;
  case TB_AUTHZ_UNKNOWN_IDENTITY:
    (void)tb_certnames_format(&names, identity, sizeof identity);
    snprintf(why, sizeof why, "%s%s%s",
             names.n == 0 ? "the certificate names no usable identity" : "no policy entry's identity matches",
             names.skipped > 0 ? "; left out: " : "", names.skipped > 0 ? names.skip_why : "");
    stat = TB_STAT_AUTHZ_UNKNOWN_IDENTITY;
    break;
  case TB_AUTHZ_DENIED:
  case TB_AUTHZ_NOT_ALLOWED:
    snprintf(identity, sizeof identity, "%s:%s", tb_certname_kind_name(a.name->kind), a.name->text);
    if (a.result == TB_AUTHZ_DENIED) {
      target_words(why, sizeof why, &a);
    } else {
      snprintf(why, sizeof why, "no allow target takes it (%zu allow target%s)", a.entry->nallow,
               a.entry->nallow == 1 ? "" : "s");
    }
    stat = TB_STAT_AUTHZ_TARGET_NOT_ALLOWED;
    break;
  case TB_AUTHZ_FAILED:
  default:
    (void)tb_certnames_format(&names, identity, sizeof identity);
    snprintf(why, sizeof why, "matching failed (PCRE2 limit or out of memory)");
    TSError("[%s] authz CONNECT %s by %s: %s: refused", TB_TAG, target, identity, why);
    stat = TB_STAT_AUTHZ_FAILED;
    break;
  }
  const char *cause = stat == TB_STAT_AUTHZ_UNKNOWN_IDENTITY ? "unknown_identity"
                      : stat == TB_STAT_AUTHZ_FAILED         ? "failed"
                                                             : "target_not_allowed";
  tb_stat_add(stat, 1);
  log_decision(txn, target, "refused", cause, identity, &a, generation, why);
  TB_DEBUG("authz CONNECT %s by %s: refused (%s): %s", target, identity, cause, why);
  /* The client learns who it was taken for and what it asked for; the
   * policy entry and its targets stay in the peer's log. */
  put(detail, sizeof detail, "tls_bridge: identity %s may not CONNECT to %s (%s)", identity, target, cause);
  tb_refuse(txn, TS_HTTP_STATUS_FORBIDDEN, detail);
}
