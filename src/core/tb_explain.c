/*
 * tb_explain: see tb_explain.h.
 *
 * Each text is built by appending to the caller's buffer (struct out); the
 * first piece that does not fit marks the text as cut, and the end of the
 * buffer then reads "...", so a cut answer never passes for a whole one.
 */
#include "tb_explain.h"
#include "tb_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define HOST_QUOTE_MAX 256    /* host bytes shown (a DNS name is at most 253) */
#define PATTERN_QUOTE_MAX 512 /* regex bytes shown */
#define PORTS_MAX 512         /* bytes of port list shown */
#define PATH_QUOTE_MAX 256    /* bytes of a TLS file's path shown */
#define CLIENTS_MAX 1024      /* bytes of clients list shown */
#define NAMES_MAX 1024        /* bytes of certificate names shown */

struct out {
  char *buf;
  size_t len; /* of buf; 0: nothing is written */
  size_t used;
  int cut;
};

static void out_init(struct out *o, char *buf, size_t len) {
  o->buf = buf;
  o->len = len;
  o->used = 0;
  o->cut = 0;
  if (len > 0) {
    buf[0] = '\0';
  }
}

/* Where the next piece goes, and the room for it: none once cut. */
static char *out_at(const struct out *o) {
  return o->len > 0 ? o->buf + o->used : NULL;
}

static size_t out_room(const struct out *o) {
  return o->cut || o->len == 0 ? 0 : o->len - o->used;
}

/* Account for a piece snprintf wrote (n: what it wanted to write). */
static void out_step(struct out *o, int n) {
  if (o->cut) {
    return;
  }
  if (n < 0 || o->len == 0 || (size_t)n >= o->len - o->used) {
    o->cut = 1;
    if (o->len > 0) {
      o->used = o->len - 1;
    }
    if (o->len >= 4) {
      memcpy(o->buf + o->len - 4, "...", 4);
    }
    return;
  }
  o->used += (size_t)n;
}

/* Append printf-style; the format stays a literal at each call, checked by
 * -Wformat. */
#define PUT(o, ...) out_step((o), snprintf(out_at(o), out_room(o), __VA_ARGS__))

/* idle_timeout / max_lifetime in words: "30000 ms", "never", or "unset
 * (Traffic Server's timeouts apply)" (see struct tb_settings). */
static void put_limit(struct out *o, unsigned ms) {
  if (ms == TB_UNSET) {
    PUT(o, "unset (Traffic Server's timeouts apply)");
  } else if (ms == 0) {
    PUT(o, "never");
  } else {
    PUT(o, "%u ms", ms);
  }
}

/* "connect_timeout T ms, idle_timeout ..., max_lifetime ..., client_identity P" */
static void put_settings(struct out *o, const struct tb_settings *s) {
  PUT(o, "connect_timeout %u ms, idle_timeout ", s->connect_timeout_ms);
  put_limit(o, s->idle_timeout_ms);
  PUT(o, ", max_lifetime ");
  put_limit(o, s->max_lifetime_ms);
  PUT(o, ", client_identity %s", tb_identity_name(s->identity));
}

/* "host:port", or "[v6]:port". */
static void put_peer(struct out *o, const struct tb_peer *p) {
  char peer[TB_PEER_TEXT_MAX];

  if (tb_peer_format(p, peer, sizeof peer) < 0) {
    snprintf(peer, sizeof peer, "%s", p->host); /* cannot happen: TB_PEER_TEXT_MAX always fits */
  }
  PUT(o, "%s", peer);
}

/* "template 'TPL'" */
static void put_template(struct out *o, const char *tpl) {
  char q[TB_QUOTE_SIZE(TB_TEMPLATE_MAX)];

  tb_text_quote(q, sizeof q, tpl, strlen(tpl), TB_TEMPLATE_MAX);
  PUT(o, "template '%s'", q);
}

/* A rule's peers for a CONNECT to host[0..len) with captures caps ("peer
 * P" or "peers P, Q (BALANCE)"; a template's peer followed by the
 * template; one that gives no valid peer as "none (WHY)"); host NULL: as
 * configured, templates unexpanded.  Returns how many peers are valid. */
static size_t put_peers(struct out *o, const struct tb_config *c, const struct tb_rule *r, const char *host,
                        size_t len, const struct tb_captures *caps) {
  char why[1024];
  size_t valid = 0;

  PUT(o, "peer%s ", r->npeers == 1 ? "" : "s");
  for (size_t i = 0; i < r->npeers; i++) {
    struct tb_peer p;
    const char *tpl = r->peers[i].tpl;
    if (i > 0) {
      PUT(o, ", ");
    }
    if (tpl == NULL) {
      put_peer(o, &c->peers[r->peers[i].index]);
      valid++;
    } else if (host == NULL) {
      put_template(o, tpl);
    } else if (tb_template_expand(tpl, host, len, caps, &p, why, sizeof why) == 0) {
      put_peer(o, &p);
      PUT(o, " (");
      put_template(o, tpl);
      PUT(o, ")");
      valid++;
    } else {
      PUT(o, "none (%s)", why);
    }
  }
  if (r->npeers > 1) {
    PUT(o, " (%s)", tb_balance_name(r->balance));
  }
  return valid;
}

/* "; health failures F, down_for D ms" for a rule with several peers (with
 * one, health changes nothing: a peer that is down is tried anyway when it
 * is the last one, tb_select.h). */
static void put_health(struct out *o, const struct tb_config *c, const struct tb_rule *r) {
  struct tb_health_settings h;

  if (r->npeers > 1) {
    tb_config_health(c, r, &h);
    PUT(o, "; health failures %u, down_for %u ms", h.failures, h.down_for_ms);
  }
}

/* Does any transport of c use the direct engine?  Only then do the answers
 * name engines: a configuration without one reads as it always did. */
static int uses_direct(const struct tb_config *c) {
  for (size_t i = 0; i < c->ntransports; i++) {
    if (c->transports[i].engine == TB_ENGINE_DIRECT) {
      return 1;
    }
  }
  return 0;
}

/* A TLS setting of a direct transport in words: "ca '/etc/ca.pem'", or
 * what stands in for it when unset. */
static void put_tls_setting(struct out *o, const struct tb_transport *t, enum tb_tls_key k) {
  static const char records[] = "from Traffic Server's records";
  const char *s = tb_transport_string(t, k);
  char q[TB_QUOTE_SIZE(PATH_QUOTE_MAX)];

  PUT(o, "%s%s ", k == 0 ? "" : ", ", tb_tls_key_name(k));
  if (s != NULL) {
    tb_text_quote(q, sizeof q, s, strlen(s), PATH_QUOTE_MAX);
    PUT(o, "'%s'", q);
  } else if (k == TB_TLSKEY_VERIFY) {
    PUT(o, "%s", t->verify == TB_VERIFY_UNSET ? records : t->verify ? "true" : "false");
  } else if (k == TB_TLSKEY_SNI) {
    PUT(o, "the peer's host");
  } else if (k == TB_TLSKEY_CLIENT_KEY && t->client_cert != NULL) {
    PUT(o, "in the client_cert file");
  } else {
    PUT(o, "%s", records);
  }
}

/* "; engine ats", "; engine direct: client_cert ..., verify ..." */
static void put_transport(struct out *o, const struct tb_transport *t) {
  PUT(o, "; engine %s", tb_engine_name(t->engine));
  if (t->engine == TB_ENGINE_DIRECT) {
    PUT(o, ": ");
    for (int k = 0; k < TB_TLSKEY_COUNT; k++) {
      put_tls_setting(o, t, (enum tb_tls_key)k);
    }
  }
}

int tb_config_format_transport(const struct tb_config *c, const struct tb_rule *r, char *buf, size_t buflen) {
  struct out o;

  out_init(&o, buf, buflen);
  if (uses_direct(c)) {
    put_transport(&o, tb_config_transport(c, r));
  }
  return o.cut ? -1 : 0;
}

int tb_config_format_peers(const struct tb_config *c, const struct tb_rule *r, char *buf, size_t buflen) {
  struct out o;

  out_init(&o, buf, buflen);
  if (r->action == TB_ACTION_DENY) {
    PUT(&o, "action deny (403)");
  } else {
    (void)put_peers(&o, c, r, NULL, 0, NULL);
  }
  return o.cut ? -1 : 0;
}

/* The rule's part of a match answer; returns how many of its peers are
 * valid for this CONNECT. */
static size_t put_rule(struct out *o, const struct tb_config *c, const struct tb_rule *r, uint64_t generation,
                       const char *host, size_t len, const struct tb_captures *caps) {
  char origin[TB_QUOTE_SIZE(TB_ORIGIN_MAX)];
  char pattern[TB_QUOTE_SIZE(PATTERN_QUOTE_MAX)];
  char ports[PORTS_MAX];
  struct tb_settings s;
  size_t valid;

  tb_text_quote(origin, sizeof origin, r->origin, strlen(r->origin), TB_ORIGIN_MAX);
  tb_text_quote(pattern, sizeof pattern, r->pattern, strlen(r->pattern), PATTERN_QUOTE_MAX);
  (void)tb_rule_format_ports(r, ports, sizeof ports); /* a cut list ends in "..." */
  tb_config_settings(c, r, &s);
  PUT(o, "rule %zu \"%s\" (host '%s', ports %s", (size_t)(r - c->rules) + 1, origin, pattern, ports);
  if (generation != 0) {
    PUT(o, ", configuration %" PRIu64, generation);
  }
  if (r->action == TB_ACTION_DENY) {
    PUT(o, "): action deny: refused (403)");
    return 0;
  }
  PUT(o, ") -> ");
  valid = put_peers(o, c, r, host, len, caps);
  if (valid == 0) {
    PUT(o, "; no valid peer for this host: a CONNECT would be refused (502)");
    return 0;
  }
  put_health(o, c, r);
  PUT(o, "; ");
  put_settings(o, &s);
  if (uses_direct(c)) {
    put_transport(o, tb_config_transport(c, r));
  }
  return valid;
}

/* "; clients NETS[: client ADDR allowed | refused (403)]"; returns 0 when
 * the client given is refused. */
static int put_clients(struct out *o, const struct tb_rule *r, const struct sockaddr *client) {
  char nets[CLIENTS_MAX];
  char addr[64];

  if (r->nclients == 0) {
    return 1;
  }
  (void)tb_rule_format_clients(r, nets, sizeof nets); /* a cut list ends in "..." */
  PUT(o, "; clients %s", nets);
  if (client == NULL) {
    return 1;
  }
  int ok = tb_rule_client_ok(r, client);
  PUT(o, ": client %s %s", tb_cidr_addr_text(client, addr, sizeof addr), ok ? "allowed" : "refused (403)");
  return ok;
}

enum tb_explain_result tb_config_explain(const struct tb_config *c, const char *host, size_t len,
                                         unsigned port, uint64_t generation, char *buf, size_t buflen) {
  return tb_config_explain_client(c, host, len, port, NULL, generation, buf, buflen);
}

enum tb_explain_result tb_config_explain_client(const struct tb_config *c, const char *host, size_t len,
                                                unsigned port, const struct sockaddr *client,
                                                uint64_t generation, char *buf, size_t buflen) {
  char h[TB_QUOTE_SIZE(HOST_QUOTE_MAX)];
  const struct tb_rule *r = NULL;
  struct tb_captures caps;
  struct out o;

  out_init(&o, buf, buflen);
  tb_text_quote(h, sizeof h, host, len, HOST_QUOTE_MAX);
  PUT(&o, "match %s:%u: ", h, port);
  if (tb_config_lookup_captures(c, host, len, port, &r, &caps) != 0) {
    PUT(&o, "matching failed (PCRE2 limit or out of memory): a CONNECT would be refused (502)");
    return TB_EXPLAIN_FAILED;
  }
  if (r == NULL) {
    PUT(&o, "no rule");
    if (generation != 0) {
      PUT(&o, " (configuration %" PRIu64 ")", generation);
    }
    PUT(&o, ": %s", c->deny_unmatched ? "denied (403)" : "left to Traffic Server");
    return TB_EXPLAIN_NO_RULE;
  }
  size_t valid = put_rule(&o, c, r, generation, host, len, &caps);
  if (r->action == TB_ACTION_DENY) {
    return TB_EXPLAIN_DENIED;
  }
  if (valid == 0) {
    return TB_EXPLAIN_NO_PEER;
  }
  return put_clients(&o, r, client) ? TB_EXPLAIN_RULE : TB_EXPLAIN_DENIED;
}

/* "(host 'REGEX', ports PORTS)" of a policy target. */
static void put_target(struct out *o, const struct tb_policy_target *t) {
  char pattern[TB_QUOTE_SIZE(PATTERN_QUOTE_MAX)];
  char ports[PORTS_MAX];
  struct tb_rule r;

  memset(&r, 0, sizeof r); /* a rule's port formatting, for the same words */
  r.ports = t->ports;
  r.nports = t->nports;
  tb_text_quote(pattern, sizeof pattern, t->pattern, strlen(t->pattern), PATTERN_QUOTE_MAX);
  (void)tb_rule_format_ports(&r, ports, sizeof ports);
  PUT(o, "(host '%s', ports %s)", pattern, ports);
}

int tb_policy_format_target(const struct tb_policy_target *t, char *buf, size_t buflen) {
  struct out o;

  out_init(&o, buf, buflen);
  put_target(&o, t);
  return o.cut ? -1 : 0;
}

enum tb_authz_result tb_policy_explain(const struct tb_config *c, const struct tb_certnames *names,
                                       const char *host, size_t len, unsigned port, uint64_t generation,
                                       struct tb_authz *out, char *buf, size_t buflen) {
  char h[TB_QUOTE_SIZE(HOST_QUOTE_MAX)];
  char who[NAMES_MAX];
  char origin[TB_QUOTE_SIZE(TB_ORIGIN_MAX)];
  char identity[TB_QUOTE_SIZE(PATTERN_QUOTE_MAX)];
  struct tb_authz local = {.result = TB_AUTHZ_FAILED};
  struct tb_authz *a = out != NULL ? out : &local;
  struct out o;

  out_init(&o, buf, buflen);
  tb_text_quote(h, sizeof h, host, len, HOST_QUOTE_MAX);
  (void)tb_certnames_format(names, who, sizeof who); /* printable; a cut list ends in "..." */
  PUT(&o, "authz %s -> %s:%u", who, h, port);
  if (generation != 0) {
    PUT(&o, " (configuration %" PRIu64 ")", generation);
  }
  PUT(&o, ": ");
  switch (tb_policy_decide(c->policy, names, host, len, port, a)) {
  case TB_AUTHZ_FAILED:
    PUT(&o, "matching failed (PCRE2 limit or out of memory): refused (403)");
    return a->result;
  case TB_AUTHZ_UNKNOWN_IDENTITY:
    PUT(&o, "refused (403, unknown_identity): %s",
        names->n == 0 ? "the certificate has no usable name" : "no policy entry's identity matches");
    return a->result;
  case TB_AUTHZ_ALLOWED:
    PUT(&o, "allowed: ");
    break;
  case TB_AUTHZ_DENIED:
  case TB_AUTHZ_NOT_ALLOWED:
  default:
    PUT(&o, "refused (403, target_not_allowed): ");
    break;
  }
  tb_text_quote(origin, sizeof origin, a->entry->origin, strlen(a->entry->origin), TB_ORIGIN_MAX);
  tb_text_quote(identity, sizeof identity, a->entry->identity, strlen(a->entry->identity), PATTERN_QUOTE_MAX);
  PUT(&o, "policy entry %zu \"%s\" (identity '%s' matched %s:%s), ", a->entry_number, origin, identity,
      tb_certname_kind_name(a->name->kind), a->name->text);
  if (a->result == TB_AUTHZ_NOT_ALLOWED) {
    PUT(&o, "allows no target for this host and port (%zu allow target%s)", a->entry->nallow,
        a->entry->nallow == 1 ? "" : "s");
    return a->result;
  }
  PUT(&o, "%s target %zu ", a->result == TB_AUTHZ_ALLOWED ? "allow" : "deny", a->target_number);
  put_target(&o, a->target);
  return a->result;
}

/* The peer role's summary. */
static void describe_policy(struct out *o, const struct tb_policy *p) {
  size_t n = p != NULL ? p->n : 0;
  size_t allow = 0;
  size_t deny = 0;

  for (size_t i = 0; i < n; i++) {
    allow += p->entries[i].nallow;
    deny += p->entries[i].ndeny;
  }
  PUT(o,
      "role peer: %zu policy entr%s (%zu allow and %zu deny target%s); CONNECTs over TLS are authorised by "
      "the client certificate's names, others refused (403)",
      n, n == 1 ? "y" : "ies", allow, deny, deny == 1 ? "" : "s");
}

/* "; engine direct by default: R rules direct (T distinct TLS client
 * settings), A ats": what the glue will set up, one TLS client context per
 * distinct direct transport in use. */
static void put_engines(struct out *o, const struct tb_config *c) {
  size_t direct = 0;
  size_t distinct = 0;
  int default_direct = 0; /* some rule uses the default, and it is direct */

  for (size_t i = 0; i < c->nrules; i++) {
    const struct tb_transport *t = tb_config_transport(c, &c->rules[i]);
    direct += t->engine == TB_ENGINE_DIRECT;
    default_direct |= c->rules[i].transport == 0 && t->engine == TB_ENGINE_DIRECT;
  }
  for (size_t i = 1; i < c->ntransports; i++) {
    distinct += c->transports[i].engine == TB_ENGINE_DIRECT; /* each is some rule's */
  }
  distinct += (size_t)default_direct;
  PUT(o, "; engine %s by default: %zu rule%s direct (%zu distinct TLS client setting%s), %zu ats",
      tb_engine_name(c->transports[0].engine), direct, direct == 1 ? "" : "s", distinct,
      distinct == 1 ? "" : "s", c->nrules - direct);
}

int tb_config_describe(const struct tb_config *c, char *buf, size_t buflen) {
  const struct tb_settings defaults = {c->connect_timeout_ms, c->idle_timeout_ms, c->max_lifetime_ms,
                                       c->identity};
  struct out o;
  size_t several = 0;
  size_t templates = 0;
  size_t denies = 0;
  size_t acls = 0;

  out_init(&o, buf, buflen);
  if (c->role == TB_ROLE_PEER) {
    describe_policy(&o, c->policy);
    return o.cut ? -1 : 0;
  }
  PUT(&o, "%zu rule%s; unmatched CONNECTs %s; defaults: ", c->nrules, c->nrules == 1 ? "" : "s",
      c->deny_unmatched ? "denied (403)" : "left to Traffic Server");
  put_settings(&o, &defaults);
  if (c->pool_size == 0) {
    PUT(&o, "; pool: off");
  } else {
    PUT(&o, "; pool: %u warm connection%s per peer, max_age %u ms", c->pool_size,
        c->pool_size == 1 ? "" : "s", c->pool_max_age_ms);
  }
  for (size_t i = 0; i < c->nrules; i++) {
    several += c->rules[i].npeers > 1;
    templates += c->rules[i].ntemplates > 0;
    denies += c->rules[i].action == TB_ACTION_DENY;
    acls += c->rules[i].nclients > 0;
  }
  if (several > 0 || templates > 0) {
    /* Only then: a configuration of one peer per rule reads as it always did. */
    PUT(&o,
        "; %zu distinct peer%s (%zu rule%s with several, %zu with a template); health: failures %u, "
        "down_for %u ms",
        c->npeers, c->npeers == 1 ? "" : "s", several, several == 1 ? "" : "s", templates, c->health_failures,
        c->health_down_for_ms);
  }
  if (uses_direct(c)) {
    put_engines(&o, c);
  }
  if (denies > 0 || acls > 0) {
    PUT(&o, "; access: %zu deny rule%s, %zu rule%s with a clients list", denies, denies == 1 ? "" : "s", acls,
        acls == 1 ? "" : "s");
  }
  return o.cut ? -1 : 0;
}
