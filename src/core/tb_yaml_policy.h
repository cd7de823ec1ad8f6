/*
 * tb_yaml_policy: the peer role's `policy` list in the YAML file
 * (docs/configuration.md, "Peer role"), read into the configuration's tb_policy.  Internal
 * to the YAML front end (tb_yaml.c), not an API.  Not thread-safe (a walk
 * is one load).
 */
#ifndef TB_YAML_POLICY_H
#define TB_YAML_POLICY_H

#include "tb_yaml_walk.h"

/* The policy list n into w->c->policy.  0, or -1 with the message. */
int tb_yaml_policy(struct tb_yaml_walk *w, const yaml_node_t *n);

#endif
