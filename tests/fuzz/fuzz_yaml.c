/*
 * libFuzzer target: the YAML configuration loader.  The input is loaded as
 * a configuration file (inputs over 64 KiB are skipped).  Checks: the error
 * message is NUL-terminated and starts with the file name; a failed load
 * leaves the configuration empty; a successful one has rules whose settings
 * are in range (idle timeout and lifetime unset or in range; peers, their
 * indexes into the table of distinct peers, balance and health in range;
 * each rule's transport in the table, every transport valid),
 * and a few hosts and ports taken from the input are looked up without a
 * crash, with captures, and each peer of the rule found made for the host
 * (a configured peer always is).
 */
#include "tb_yaml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 65536

static void peers_for(const struct tb_config *c, const struct tb_rule *r, const char *host, size_t len,
                      const struct tb_captures *caps) {
  char err[512];
  struct tb_peer p;
  for (size_t k = 0; k < r->npeers; k++) {
    memset(err, 'x', sizeof err);
    if (tb_config_rule_peer(c, r, k, host, len, caps, &p, err, sizeof err) != 0) {
      if (r->peers[k].tpl == NULL || memchr(err, '\0', sizeof err) == NULL) {
        abort();
      }
    } else if (p.port == 0 || p.host[0] == '\0') {
      abort();
    }
  }
}

static void lookups(const struct tb_config *c, const char *text, size_t len) {
  size_t start = 0;
  for (size_t i = 0; i <= len && start < len; i++) {
    if (i == len || text[i] == '\n' || text[i] == ' ') {
      const struct tb_rule *r = NULL;
      struct tb_captures caps;
      unsigned port = (unsigned)((i * 7919u) % 65536u);
      if (tb_config_lookup_port(c, text + start, i - start, port, &r) == 0 && r != NULL &&
          !tb_rule_port_ok(r, port)) {
        abort(); /* a rule was chosen for a port it does not take */
      }
      if (tb_config_lookup_captures(c, text + start, i - start, port, &r, &caps) == 0 && r != NULL) {
        peers_for(c, r, text + start, i - start, &caps);
      }
      start = i + 1;
    }
  }
}

/* Peers, balance and health of rule r in range. */
static void check_peers(const struct tb_config *c, const struct tb_rule *r) {
  size_t templates = 0;
  if (r->npeers == 0 || r->npeers > TB_RULE_PEERS_MAX || (unsigned)r->balance > TB_BALANCE_HASH ||
      r->health.failures > TB_HEALTH_FAILURES_MAX ||
      (r->health.down_for_ms != 0 &&
       (r->health.down_for_ms < TB_HEALTH_DOWN_FOR_MIN_MS || r->health.down_for_ms > TB_HEALTH_DOWN_FOR_MAX_MS))) {
    abort();
  }
  for (size_t k = 0; k < r->npeers; k++) {
    if (r->peers[k].tpl != NULL) {
      templates++;
    } else if (r->peers[k].index >= c->npeers) {
      abort();
    }
  }
  if (templates != r->ntemplates || (templates > 0 && r->ngroups == 0)) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[1024];
  struct tb_config *c;
  if (size > MAX_INPUT) {
    return 0;
  }
  c = tb_config_create();
  if (c == NULL) {
    return 0;
  }
  memset(err, 'x', sizeof err);
  if (tb_config_load_yaml_text(c, (const char *)data, size, "f.yaml", NULL, err, sizeof err) != 0) {
    if (memchr(err, '\0', sizeof err) == NULL || strncmp(err, "f.yaml", 6) != 0 || c->nrules != 0 ||
        c->npeers != 0 || c->ntransports != 1 || c->transports[0].engine != TB_ENGINE_ATS ||
        c->transports[0].ca != NULL) {
      abort();
    }
  } else {
    for (size_t i = 0; i < c->ntransports; i++) {
      if (tb_transport_problem(&c->transports[i]) != NULL) {
        abort(); /* every transport in a configuration is valid */
      }
    }
    struct tb_settings s;
    if (c->nrules == 0 || c->health_failures < 1 || c->health_failures > TB_HEALTH_FAILURES_MAX ||
        c->health_down_for_ms < TB_HEALTH_DOWN_FOR_MIN_MS || c->health_down_for_ms > TB_HEALTH_DOWN_FOR_MAX_MS) {
      abort();
    }
    for (size_t i = 0; i < c->nrules; i++) {
      tb_config_settings(c, &c->rules[i], &s);
      if (s.connect_timeout_ms == 0 || s.identity == TB_IDENTITY_UNSET ||
          (s.idle_timeout_ms != TB_UNSET && s.idle_timeout_ms > TB_LIFETIME_MAX_S * 1000u) ||
          (s.max_lifetime_ms != TB_UNSET && s.max_lifetime_ms > TB_LIFETIME_MAX_S * 1000u)) {
        abort();
      }
      check_peers(c, &c->rules[i]);
      if (c->rules[i].transport >= c->ntransports) {
        abort();
      }
      for (size_t k = 0; k < c->rules[i].nports; k++) {
        if (c->rules[i].ports[k].lo == 0 || c->rules[i].ports[k].lo > c->rules[i].ports[k].hi) {
          abort();
        }
      }
    }
    lookups(c, (const char *)data, size);
  }
  tb_config_destroy(c);
  return 0;
}
