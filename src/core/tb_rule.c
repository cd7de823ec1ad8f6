/* tb_rule: see tb_rule.h. */
#include "tb_rule.h"

#include <stdio.h>
#include <string.h>

const char *tb_identity_name(enum tb_identity id) {
  switch (id) {
  case TB_IDENTITY_KEEP:
    return "keep";
  case TB_IDENTITY_STRIP:
    return "strip";
  case TB_IDENTITY_FORWARDED:
    return "forwarded";
  case TB_IDENTITY_UNSET:
  default:
    return "default";
  }
}

int tb_identity_parse(const char *s, enum tb_identity *out) {
  static const enum tb_identity all[] = {TB_IDENTITY_KEEP, TB_IDENTITY_STRIP, TB_IDENTITY_FORWARDED};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    if (strcmp(s, tb_identity_name(all[i])) == 0) {
      *out = all[i];
      return 0;
    }
  }
  return -1;
}

const char *tb_balance_name(enum tb_balance b) {
  switch (b) {
  case TB_BALANCE_ROUND_ROBIN:
    return "round_robin";
  case TB_BALANCE_HASH:
    return "hash";
  case TB_BALANCE_FAILOVER:
  default:
    return "failover";
  }
}

int tb_balance_parse(const char *s, enum tb_balance *out) {
  static const enum tb_balance all[] = {TB_BALANCE_FAILOVER, TB_BALANCE_ROUND_ROBIN, TB_BALANCE_HASH};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    if (strcmp(s, tb_balance_name(all[i])) == 0) {
      *out = all[i];
      return 0;
    }
  }
  return -1;
}

const char *tb_action_name(enum tb_action a) {
  return a == TB_ACTION_DENY ? "deny" : "bridge";
}

int tb_port_list_ok(const struct tb_port_range *ports, size_t n, unsigned port) {
  if (n == 0) {
    return 1;
  }
  for (size_t i = 0; i < n; i++) {
    if (port >= ports[i].lo && port <= ports[i].hi) {
      return 1;
    }
  }
  return 0;
}

int tb_rule_port_ok(const struct tb_rule *r, unsigned port) {
  return tb_port_list_ok(r->ports, r->nports, port);
}

int tb_rule_client_ok(const struct tb_rule *r, const struct sockaddr *sa) {
  return r->nclients == 0 || tb_cidr_list_match(r->clients, r->nclients, sa);
}

/* Item i of one of r's lists, as text, into out (TB_CIDR_TEXT_MAX bytes). */
typedef void (*format_item_fn)(const struct tb_rule *r, size_t i, char *out, size_t outlen);

static void format_client(const struct tb_rule *r, size_t i, char *out, size_t outlen) {
  if (tb_cidr_format(&r->clients[i], out, outlen) < 0) {
    snprintf(out, outlen, "?");
  }
}

static void format_port(const struct tb_rule *r, size_t i, char *out, size_t outlen) {
  const struct tb_port_range *p = &r->ports[i];
  if (p->lo == p->hi) {
    snprintf(out, outlen, "%u", (unsigned)p->lo);
  } else {
    snprintf(out, outlen, "%u-%u", (unsigned)p->lo, (unsigned)p->hi);
  }
}

/* The n items of one of r's lists, comma-separated, into buf ("any" for
 * none); cut to end in "..." where there is room.  0, or -1 when cut. */
static int format_list(const struct tb_rule *r, size_t n, format_item_fn item, char *buf, size_t len) {
  size_t used = 0;

  if (len == 0) {
    return -1;
  }
  buf[0] = '\0';
  if (n == 0) {
    return snprintf(buf, len, "any") < (int)len ? 0 : -1;
  }
  for (size_t i = 0; i < n; i++) {
    char text[TB_CIDR_TEXT_MAX];
    item(r, i, text, sizeof text);
    int k = snprintf(buf + used, len - used, "%s%s", i ? "," : "", text);
    if (k < 0 || (size_t)k >= len - used) {
      if (len >= 4) {
        memcpy(buf + len - 4, "...", 4);
      }
      return -1;
    }
    used += (size_t)k;
  }
  return 0;
}

int tb_rule_format_clients(const struct tb_rule *r, char *buf, size_t len) {
  return format_list(r, r->nclients, format_client, buf, len);
}

int tb_rule_format_ports(const struct tb_rule *r, char *buf, size_t len) {
  return format_list(r, r->nports, format_port, buf, len);
}
