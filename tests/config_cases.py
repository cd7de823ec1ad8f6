"""Bad tls_bridge configurations and, for each, the exact message the plugin
gives (at start with TSEmergency, on reload with TSError) -- one table for two
suites:

  tests/e2e/test_config.py   starts a real traffic_server for each case marked
                             e2e and checks that it refuses to start and logs
                             `text` (the offending argument, file or file:line);
  tests/check/test_check.py  runs tls_bridge_check on every case and checks
                             that it prints exactly `message` and exits 1.

The e2e cases are the six test_config.py always had; the others are the error
cases of the unit tests (tests/unit/test_args.c, test_rulefile.c, test_yaml.c),
whose prefixes and words each full message here was checked against.  Errors
that only a broken front end could cause (tb_config_add's own checks of a
tb_rule_spec) and out-of-memory paths are not reachable from a configuration
and are left to the unit tests.

A case: name; args, the plugin.config arguments after the plugin's path;
files, paths relative to the configuration directory -> contents (str, or
bytes for the one with a NUL byte); message, exact, with the configuration
directory filled in; text, what the e2e test looks for (None: not an e2e case);
e2e.
"""

import collections

Case = collections.namedtuple("Case", "name args files message text e2e")

NO_RULES = "no rules (expected '<regex> <peer>' pairs, --file PATH or --config PATH)"


def cases(confdir, peer_host="peer.test", peer_port=4443):
    """Every case, in a list; confdir is the directory relative paths are
    resolved against (the instance's etc/ for the e2e suite)."""
    peer = "%s:%d" % (peer_host, peer_port)

    def a(name, args, message, files=None, text=None):
        return Case(name, list(args), dict(files or {}), message, text, text is not None)

    def f(name, content, where):
        """A rule file given with --file."""
        return a("rulefile_" + name, ["--file", "rules.conf"], confdir + "/rules.conf" + where,
                 {"rules.conf": content})

    def y(name, text, where):
        """A YAML file given with --config."""
        return a("yaml_" + name, ["--config", "t.yaml"], confdir + "/t.yaml" + where, {"t.yaml": text})

    def n(name, option, value, argno, what):
        """A numeric option with a bad value."""
        return a(name, [option, value], "plugin.config argument %d ('%s'): %s %s" % (argno, value, option, what))

    table = [
        # ---- the e2e cases (tests/e2e/test_config.py) ----------------------
        a("odd_argument_count", [r"service[.]internal", peer, r"lonely[.]regex"],
          "plugin.config argument 3: regex 'lonely[.]regex' has no peer (arguments come in pairs)",
          text=r"lonely[.]regex"),
        a("bad_regex", [r"(unclosed[.]test", peer],
          "plugin.config argument 1: bad regex '(unclosed[.]test' at offset 16: missing closing parenthesis",
          text=r"(unclosed[.]test"),
        a("bad_peer_port", [r"service[.]internal", "%s:99999" % peer_host],
          "plugin.config argument 1: peer '%s:99999': port must be 1-65535" % peer_host, text="99999"),
        a("unreadable_file", ["--file", "/nonexistent/tb-rules.conf"],
          "/nonexistent/tb-rules.conf: cannot open: No such file or directory",
          text="/nonexistent/tb-rules.conf"),
        a("bad_regex_line_in_file", ["--file", "bad_rules.conf"],
          confdir + "/bad_rules.conf:3: bad regex '(broken[.]test' at offset 14: missing closing parenthesis",
          {"bad_rules.conf": "# line 1 is a comment\nservice[.]internal %s\n(broken[.]test %s\n" % (peer, peer)},
          text="bad_rules.conf:3"),
        a("missing_peer_line_in_file", ["--file", "bad_rules2.conf"],
          confdir + "/bad_rules2.conf:2: expected '<regex> <peer>', found 1 field",
          {"bad_rules2.conf": "\nlonely[.]regex\n"}, text="bad_rules2.conf:2"),

        # ---- arguments (tests/unit/test_args.c) ----------------------------
        a("odd_arguments", ["a", "p1", "b"],
          "plugin.config argument 3: regex 'b' has no peer (arguments come in pairs)"),
        a("lone_regex", ["x.*"], "plugin.config argument 1: regex 'x.*' has no peer (arguments come in pairs)"),
        a("timeout_then_odd", ["--connect-timeout", "5", "x"],
          "plugin.config argument 3: regex 'x' has no peer (arguments come in pairs)"),
        a("unknown_option", ["--bogus", "x"], "plugin.config argument 1 ('--bogus'): unknown option"),
        a("unknown_option_later", ["a", "p", "--file=x"], "plugin.config argument 3 ('--file=x'): unknown option"),
        a("file_without_path", ["--file"], "plugin.config argument 1 ('--file'): needs a PATH"),
        a("file_with_empty_path", ["--file", ""], "plugin.config argument 1 ('--file'): needs a PATH"),
        a("file_missing", ["--file", "/nonexistent/tb/rules.conf"],
          "/nonexistent/tb/rules.conf: cannot open: No such file or directory"),
        a("file_relative_missing", ["--file", "nonexistent-tb-rules.conf"],
          confdir + "/nonexistent-tb-rules.conf: cannot open: No such file or directory"),
        a("file_is_a_directory", ["--file", "/tmp"], "/tmp: cannot read: Is a directory"),
        a("regex_unclosed", ["(", "peer"],
          "plugin.config argument 1: bad regex '(' at offset 1: missing closing parenthesis"),
        a("regex_later", ["ok", "peer", "a[", "peer"],
          "plugin.config argument 3: bad regex 'a[' at offset 2: missing terminating ] for character class"),
        a("regex_backslash_c", ["a\\Cb", "peer"],
          "plugin.config argument 1: bad regex 'a\\Cb' at offset 3: using \\C is disabled by the application"),
        a("regex_empty", ["", "peer"], "plugin.config argument 1: empty regex"),
        a("regex_shown_as_written", [".*\\.service\\.com(", "peer"],
          "plugin.config argument 1: bad regex '.*\\.service\\.com(' at offset 17: missing closing parenthesis"),
        a("peer_port_out_of_range", ["x", "foo:99999"],
          "plugin.config argument 1: peer 'foo:99999': port must be 1-65535"),
        a("peer_bare_ipv6", ["x", "2001:db8::1"],
          "plugin.config argument 1: peer '2001:db8::1': more than one ':' (an IPv6 address must be in brackets, "
          "e.g. '[2001:db8::1]:443')"),
        n("timeout_0", "--connect-timeout", "0", 2, "must be whole seconds, 1-3600"),
        n("timeout_3601", "--connect-timeout", "3601", 2, "must be whole seconds, 1-3600"),
        n("timeout_negative", "--connect-timeout", "-1", 2, "must be whole seconds, 1-3600"),
        n("timeout_plus", "--connect-timeout", "+5", 2, "must be whole seconds, 1-3600"),
        n("timeout_fraction", "--connect-timeout", "1.5", 2, "must be whole seconds, 1-3600"),
        n("timeout_unit", "--connect-timeout", "10s", 2, "must be whole seconds, 1-3600"),
        n("timeout_empty", "--connect-timeout", "", 2, "must be whole seconds, 1-3600"),
        n("timeout_space", "--connect-timeout", " 5", 2, "must be whole seconds, 1-3600"),
        n("timeout_huge", "--connect-timeout", "99999999999999999999", 2, "must be whole seconds, 1-3600"),
        a("timeout_missing", ["--connect-timeout"],
          "plugin.config argument 1 ('--connect-timeout'): needs SECONDS"),
        n("pool_65", "--pool", "65", 2, "must be whole connections, 0-64"),
        n("pool_negative", "--pool", "-1", 2, "must be whole connections, 0-64"),
        a("pool_missing", ["--pool"], "plugin.config argument 1 ('--pool'): needs N"),
        n("pool_max_age_0", "--pool-max-age", "0", 2, "must be whole seconds, 1-3600"),
        n("lifetime_fraction", "--max-lifetime", "1.5", 2, "must be whole seconds, 0-2000000"),
        n("idle_2000001", "--idle-timeout", "2000001", 2, "must be whole seconds, 0-2000000"),
        a("idle_missing", ["--idle-timeout"], "plugin.config argument 1 ('--idle-timeout'): needs SECONDS"),
        a("unmatched_bogus", ["--unmatched", "allow"],
          "plugin.config argument 2 ('allow'): --unmatched takes 'passthrough' or 'deny'"),
        a("unmatched_missing", ["--unmatched"],
          "plugin.config argument 1 ('--unmatched'): --unmatched takes 'passthrough' or 'deny'"),
        a("identity_capital", ["--unmatched", "deny", "--client-identity", "Keep"],
          "plugin.config argument 4 ('Keep'): --client-identity takes 'keep', 'strip' or 'forwarded'"),
        a("identity_quoted", ["--client-identity", "it's"],
          "plugin.config argument 2 ('it\\x27s'): --client-identity takes 'keep', 'strip' or 'forwarded'"),
        a("identity_missing", ["--client-identity"],
          "plugin.config argument 1 ('--client-identity'): --client-identity takes 'keep', 'strip' or 'forwarded'"),
        a("config_with_pairs", ["--config", "t.yaml", "a", "b"],
          "plugin.config argument 1 ('--config'): --config PATH must be the only argument (the YAML file holds "
          "the whole configuration)", {"t.yaml": "rules: [{host: a, peer: p}]\n"}),
        a("config_after_pairs", ["a", "b", "--config", "t.yaml"],
          "plugin.config argument 3 ('--config'): --config PATH must be the only argument (the YAML file holds "
          "the whole configuration)", {"t.yaml": "rules: [{host: a, peer: p}]\n"}),
        a("config_without_path", ["--config"],
          "plugin.config argument 1 ('--config'): --config PATH must be the only argument (the YAML file holds "
          "the whole configuration)"),
        a("config_empty_path", ["--config", ""],
          "plugin.config argument 1 ('--config'): --config PATH must be the only argument (the YAML file holds "
          "the whole configuration)"),
        a("config_missing", ["--config", "missing.yaml"],
          confdir + "/missing.yaml: cannot open: No such file or directory"),
        # the plugin's own check (tb_config_check_loaded): no rules at all
        a("no_arguments", [], NO_RULES),
        a("options_only", ["--pool", "3", "--unmatched", "deny"], NO_RULES),
        a("empty_rule_file", ["--file", "empty.conf"], NO_RULES, {"empty.conf": "# no rules yet\n\n"}),

        # ---- rule files (tests/unit/test_rulefile.c) -----------------------
        f("peer_port_0", "a peer1\nb peer2\nc foo:0\n", ":3: peer 'foo:0': port must be 1-65535"),
        f("crlf_peer_port", "a peer1\r\n\r\n# c\r\nc foo:99999\r\n", ":4: peer 'foo:99999': port must be 1-65535"),
        f("one_field", "a peer1\n  b\n", ":2: expected '<regex> <peer>', found 1 field"),
        f("three_fields", "a peer1 extra\n", ":1: expected '<regex> <peer>', found 3 fields"),
        f("trailing_comment", "a peer1 # trailing comment\n", ":1: expected '<regex> <peer>', found 5 fields"),
        f("bad_regex", "\n\n(unclosed peer\n", ":3: bad regex '(unclosed' at offset 9: missing closing parenthesis"),
        f("ipv6_unclosed", "a [::1\n", ":1: peer '[::1': '[' without ']'"),
        f("ipv6_bare", "a ::1\n",
          ":1: peer '::1': more than one ':' (an IPv6 address must be in brackets, e.g. '[2001:db8::1]:443')"),
        f("vertical_tab", "a peer\x0b\n", ":1: peer 'peer\\x0b': contains whitespace"),
        f("nul_byte", b"a b\n\x00 c\n", ":2: NUL byte in line"),
        f("carriage_return", "a p\rq\n", ":1: peer 'p\\x0dq': contains whitespace"),

        # ---- the YAML file (tests/unit/test_yaml.c) -----------------------
        y('syntax_open_list', "rules: [\n",
          ':2:1: YAML syntax error: did not find expected node content (while parsing a flow node at line 2)'),
        y('syntax_mapping_values', "a: b\n c: d\n",
          ':2:3: YAML syntax error: mapping values are not allowed in this context'),
        y('syntax_open_quote', 'rules: "open\n',
          ':2:1: YAML syntax error: found unexpected end of stream (while scanning a quoted scalar at line 1)'),
        y('syntax_undefined_alias', "key: *nowhere\n",
          ':1:6: YAML syntax error: found undefined alias'),
        y('nul_byte', b"a: 1\0b: 2",
          ': NUL byte in the file'),
        y('empty_file', "",
          ": empty file: expected a mapping with a 'rules' list"),
        y('comment_only', "# only a comment\n",
          ": empty file: expected a mapping with a 'rules' list"),
        y('top_level_scalar', "just text\n",
          ':1:1: the top level must be a mapping (key: value lines), found a single value'),
        y('top_level_list', "- a\n- b\n",
          ':1:1: the top level must be a mapping (key: value lines), found a list'),
        y('no_rules_key', "unmatched: deny\n",
          ":1:1: no 'rules': the bridge needs at least one rule"),
        y('second_document', "rules: [{host: a, peer: p}]\n---\nrules: []\n",
          ":3:1: a second YAML document ('---'): only one is allowed"),
        y('second_document_broken', "rules: [{host: a, peer: p}]\n---\n- [\n",
          ':4:1: YAML syntax error: did not find expected node content (while parsing a flow node at line 4)'),
        y('unknown_top_key', "rules: [{host: a, peer: p}]\nrule: x\n",
          ":2:1: unknown key 'rule' in the top level (expected rules, unmatched, connect_timeout, idle_timeout, max_lifetime, client_identity, pool)"),
        y('top_key_twice', "rules: [{host: a, peer: p}]\nrules: [{host: b, peer: p}]\n",
          ":2:1: key 'rules' appears twice in the top level (first at line 1)"),
        y('top_key_not_scalar', "? [a, b]\n: c\nrules: [{host: a, peer: p}]\n",
          ':1:3: a key in the top level must be a plain name, found a list'),
        y('unknown_rule_key', "rules: [{host: a, peer: p, hosts: b}]\n",
          ":1:28: unknown key 'hosts' in rule 1 (expected host, peer, ports, name, connect_timeout, idle_timeout, max_lifetime, client_identity)"),
        y('rule_key_twice', "rules:\n- host: a\n  peer: p\n  peer: q\n",
          ":4:3: key 'peer' appears twice in rule 1 (first at line 3)"),
        y('unknown_pool_key', "pool: {size: 1, age: 2}\nrules: [{host: a, peer: p}]\n",
          ":1:17: unknown key 'age' in pool (expected size, max_age)"),
        y('anchor_alias', "rules:\n- &r {host: a, peer: p}\n- *r\n",
          ':2:3: this value is used again through an alias; anchors and aliases are not supported'),
        y('anchor_alias_scalar', "rules:\n- {host: &h a, peer: *h}\n",
          ':2:10: this value is used again through an alias; anchors and aliases are not supported'),
        y('rules_scalar', "rules: a[.]b p\n",
          ":1:8: rules must be a list of rules (lines starting with '- '), found a single value"),
        y('rules_mapping', "rules: {host: a, peer: p}\n",
          ":1:8: rules must be a list of rules (lines starting with '- '), found a mapping"),
        y('rules_empty', "rules: []\n",
          ':1:8: rules is empty: the bridge needs at least one rule'),
        y('rules_nothing', "rules:\n",
          ":1:7: rules must be a list of rules (lines starting with '- '), found nothing"),
        y('rule_scalar', "rules:\n- a[.]b p\n",
          ':2:3: rule 1 must be a mapping (key: value lines), found a single value'),
        y('rule_list', "rules:\n- {host: a, peer: p}\n- [a, p]\n",
          ':3:3: rule 2 must be a mapping (key: value lines), found a list'),
        y('rule_no_host', "rules:\n- peer: p\n",
          ":2:3: rule 1 has no 'host'"),
        y('rule_no_peer', "rules:\n- host: a\n",
          ":2:3: rule 1 has no 'peer'"),
        y('host_nothing', "rules:\n- {host: , peer: p}\n",
          ':2:10: host must be a non-empty string, found nothing'),
        y('host_null', "rules:\n- {host: ~, peer: p}\n",
          ':2:10: host must be a non-empty string, found nothing'),
        y('host_empty', "rules:\n- {host: '', peer: p}\n",
          ':2:10: host must be a non-empty string, found a single value'),
        y('host_list', "rules:\n- {host: [a], peer: p}\n",
          ':2:10: host must be a non-empty string, found a list'),
        y('host_nul', 'rules:\n- {host: "a\\0b", peer: p}\n',
          ':2:10: host contains a NUL character'),
        y('peer_mapping', "rules:\n- {host: a, peer: {x: 1}}\n",
          ':2:19: peer must be a non-empty string, found a mapping'),
        y('peer_bad_port', "rules:\n- {host: a, peer: 'p:99999'}\n",
          ":2:19: peer 'p:99999': port must be 1-65535"),
        y('peer_space', "rules:\n- {host: a, peer: 'has space'}\n",
          ":2:19: peer 'has space': contains whitespace"),
        y('host_bad_regex', "rules:\n- {host: 'a(b', peer: p}\n",
          ":2:10: bad regex 'a(b' at offset 3: missing closing parenthesis"),
        y('name_space', "rules:\n- {host: a, peer: p, name: 'two words'}\n",
          ':2:28: name may hold only printable ASCII without spaces or quotes'),
        y('name_quote', 'rules:\n- {host: a, peer: p, name: \'say"hi\'}\n',
          ':2:28: name may hold only printable ASCII without spaces or quotes'),
        y('name_long', "rules:\n- {host: a, peer: p, name: %s}\n" % ("n" * 119),
          ':2:28: name is longer than 100 characters'),
        y('name_list', "rules:\n- {host: a, peer: p, name: [x]}\n",
          ':2:28: name must be a non-empty string, found a list'),
        y('ports_empty', "rules:\n- {host: a, peer: p, ports: []}\n",
          ':2:29: ports is an empty list (leave ports out to allow every port)'),
        y('ports_mapping', "rules:\n- {host: a, peer: p, ports: {a: 1}}\n",
          ':2:29: ports must be a port, a range or a list of them, found a mapping'),
        y('port_0', "rules:\n- {host: a, peer: p, ports: 0}\n",
          ":2:29: a port must be a number 1-65535 or a range like 8000-8999, found '0'"),
        y('port_65536', "rules:\n- {host: a, peer: p, ports: 65536}\n",
          ":2:29: a port must be a number 1-65535 or a range like 8000-8999, found '65536'"),
        y('port_word', "rules:\n- {host: a, peer: p, ports: [443, https]}\n",
          ":2:35: a port must be a number 1-65535 or a range like 8000-8999, found 'https'"),
        y('port_nested_list', "rules:\n- {host: a, peer: p, ports: [443, [80]]}\n",
          ':2:35: a port must be a number 1-65535 or a range like 8000-8999, found a list'),
        y('port_open_range', "rules:\n- {host: a, peer: p, ports: 10-}\n",
          ":2:29: a port must be a number 1-65535 or a range like 8000-8999, found '10-'"),
        y('port_negative', "rules:\n- {host: a, peer: p, ports: -10}\n",
          ":2:29: a port must be a number 1-65535 or a range like 8000-8999, found '-10'"),
        y('port_range_from_0', "rules:\n- {host: a, peer: p, ports: 0-10}\n",
          ":2:29: a port must be a number 1-65535 or a range like 8000-8999, found '0-10'"),
        y('port_two_dashes', "rules:\n- {host: a, peer: p, ports: 1-2-3}\n",
          ":2:29: a port must be a number 1-65535 or a range like 8000-8999, found '1-2-3'"),
        y('port_range_backwards', "rules:\n- {host: a, peer: p, ports: 9000-8000}\n",
          ':2:29: port range 9000-8000 runs backwards'),
        y('duration_0', "connect_timeout: 0\nrules: [{host: a, peer: p}]\n",
          ":1:18: connect_timeout must be a duration from 1ms to 3600s (seconds, or a number with ms, s, m or h), found '0'"),
        y('duration_1', "connect_timeout: 3601\nrules: [{host: a, peer: p}]\n",
          ":1:18: connect_timeout must be a duration from 1ms to 3600s (seconds, or a number with ms, s, m or h), found '3601'"),
        y('duration_2', "connect_timeout: 61m\nrules: [{host: a, peer: p}]\n",
          ":1:18: connect_timeout must be a duration from 1ms to 3600s (seconds, or a number with ms, s, m or h), found '61m'"),
        y('duration_3', "connect_timeout: 5x\nrules: [{host: a, peer: p}]\n",
          ":1:18: connect_timeout must be a duration from 1ms to 3600s (seconds, or a number with ms, s, m or h), found '5x'"),
        y('duration_4', "connect_timeout: s\nrules: [{host: a, peer: p}]\n",
          ":1:18: connect_timeout must be a duration from 1ms to 3600s (seconds, or a number with ms, s, m or h), found 's'"),
        y('duration_5', "connect_timeout: -1\nrules: [{host: a, peer: p}]\n",
          ":1:18: connect_timeout must be a duration from 1ms to 3600s (seconds, or a number with ms, s, m or h), found '-1'"),
        y('duration_6', "connect_timeout: 1.5\nrules: [{host: a, peer: p}]\n",
          ":1:18: connect_timeout must be a duration from 1ms to 3600s (seconds, or a number with ms, s, m or h), found '1.5'"),
        y('duration_7', "connect_timeout: 99999999999999999999\nrules: [{host: a, peer: p}]\n",
          ":1:18: connect_timeout must be a duration from 1ms to 3600s (seconds, or a number with ms, s, m or h), found '99999999999999999999'"),
        y('duration_8', "connect_timeout: [1]\nrules: [{host: a, peer: p}]\n",
          ':1:18: connect_timeout must be a duration from 1ms to 3600s (seconds, or a number with ms, s, m or h), found a list'),
        y('duration_9', "connect_timeout:\nrules: [{host: a, peer: p}]\n",
          ":1:17: connect_timeout must be a duration from 1ms to 3600s (seconds, or a number with ms, s, m or h), found ''"),
        y('duration_10', "idle_timeout: 2000001\nrules: [{host: a, peer: p}]\n",
          ":1:15: idle_timeout must be a duration from 0ms to 2000000s (seconds, or a number with ms, s, m or h), found '2000001'"),
        y('duration_11', "max_lifetime: 1 h\nrules: [{host: a, peer: p}]\n",
          ":1:15: max_lifetime must be a duration from 0ms to 2000000s (seconds, or a number with ms, s, m or h), found '1 h'"),
        y('rule_connect_timeout_0', "rules:\n- {host: a, peer: p, connect_timeout: 0}\n",
          ":2:39: connect_timeout must be a duration from 1ms to 3600s (seconds, or a number with ms, s, m or h), found '0'"),
        y('rule_idle_timeout_word', "rules:\n- {host: a, peer: p, idle_timeout: x}\n",
          ":2:36: idle_timeout must be a duration from 0ms to 2000000s (seconds, or a number with ms, s, m or h), found 'x'"),
        y('rule_max_lifetime_mapping', "rules:\n- {host: a, peer: p, max_lifetime: {}}\n",
          ':2:36: max_lifetime must be a duration from 0ms to 2000000s (seconds, or a number with ms, s, m or h), found a mapping'),
        y('unmatched_drop', "unmatched: drop\nrules: [{host: a, peer: p}]\n",
          ':1:12: unmatched must be passthrough or deny, found drop'),
        y('unmatched_list', "unmatched: [deny]\nrules: [{host: a, peer: p}]\n",
          ':1:12: unmatched must be passthrough or deny, found a list'),
        y('identity_hide', "client_identity: hide\nrules: [{host: a, peer: p}]\n",
          ':1:18: client_identity must be keep, strip or forwarded, found hide'),
        y('rule_identity_mapping', "rules:\n- {host: a, peer: p, client_identity: {}}\n",
          ':2:39: client_identity must be keep, strip or forwarded, found a mapping'),
        y('pool_scalar', "pool: 2\nrules: [{host: a, peer: p}]\n",
          ':1:7: pool must be a mapping (key: value lines), found a single value'),
        y('pool_size_65', "pool: {size: 65}\nrules: [{host: a, peer: p}]\n",
          ":1:14: pool size must be a whole number from 0 to 64, found '65'"),
        y('pool_size_word', "pool: {size: two}\nrules: [{host: a, peer: p}]\n",
          ":1:14: pool size must be a whole number from 0 to 64, found 'two'"),
        y('pool_size_list', "pool: {size: [2]}\nrules: [{host: a, peer: p}]\n",
          ':1:14: pool size must be a whole number from 0 to 64, found a list'),
        y('pool_max_age_0', "pool: {max_age: 0}\nrules: [{host: a, peer: p}]\n",
          ":1:17: pool max_age must be a duration from 1ms to 3600s (seconds, or a number with ms, s, m or h), found '0'"),
        y('rule_3_no_peer', "connect_timeout: 3\nunmatched: deny\nclient_identity: strip\npool: {size: 9}\nrules:\n- {host: a, peer: p, ports: [1, 2]}\n- {host: b, peer: p}\n- {host: c}\n",
          ":8:3: rule 3 has no 'peer'"),
    ]
    names = [c.name for c in table]
    assert len(names) == len(set(names)), "case names must be unique"
    return table
