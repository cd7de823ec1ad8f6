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

int tb_rule_port_ok(const struct tb_rule *r, unsigned port) {
  if (r->nports == 0) {
    return 1;
  }
  for (size_t i = 0; i < r->nports; i++) {
    if (port >= r->ports[i].lo && port <= r->ports[i].hi) {
      return 1;
    }
  }
  return 0;
}

int tb_rule_format_ports(const struct tb_rule *r, char *buf, size_t len) {
  size_t used = 0;

  if (len == 0) {
    return -1;
  }
  buf[0] = '\0';
  if (r->nports == 0) {
    return snprintf(buf, len, "any") < (int)len ? 0 : -1;
  }
  for (size_t i = 0; i < r->nports; i++) {
    const struct tb_port_range *p = &r->ports[i];
    int n = p->lo == p->hi
                ? snprintf(buf + used, len - used, "%s%u", i ? "," : "", (unsigned)p->lo)
                : snprintf(buf + used, len - used, "%s%u-%u", i ? "," : "", (unsigned)p->lo, (unsigned)p->hi);
    if (n < 0 || (size_t)n >= len - used) {
      /* Cut: end in "..." where there is room for it. */
      if (len >= 4) {
        memcpy(buf + len - 4, "...", 4);
      }
      return -1;
    }
    used += (size_t)n;
  }
  return 0;
}
