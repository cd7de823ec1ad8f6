"""Reading the plugin's metrics (plugin.tls_bridge.*, src/ats/stats.c).

Two ways in, both used here:
  - stats_over_http: with `stats_over_http.so` in the instance's
    plugin.config, `GET /_stats` on its proxy port answers every metric as
    JSON ({"global": {name: "value", ...}}); no traffic_ctl needed.
  - traffic_ctl: `traffic_ctl metric match '^plugin\\.tls_bridge\\.'`.  9.2's
    traffic_ctl talks to traffic_manager (the instance must run under it);
    10.x's talks JSON-RPC to traffic_server itself.  The pattern is a regex
    and is anchored: unanchored, "tls_bridge" also matches 10.x's own
    per-plugin counters (proxy.process.plugin.tls_bridge.*).
Either way the values are sums that Traffic Server publishes periodically
(traffic_manager sees a plugin's metrics only some 10 s after the start), so
a check polls: wait_metrics().

Readings are {short name: int}, the short name without the prefix
("tunnels.active", "pool.stale_retried", ...)."""

import json
import re
import http.client

from tbtest.wait import poll

PREFIX = "plugin.tls_bridge."


def stats_over_http(port, host="127.0.0.1", timeout=5.0):
    """The "global" section of stats_over_http's /_stats: every metric of
    the instance, full name -> value as text.  No Accept-Encoding header:
    9.2's stats_over_http looks for "br", "gzip" and "deflate" in the
    header's value with strstr, which reads on past the value's end into
    whatever the header heap holds, and now and then it answered
    "Accept-Encoding: identity" (urllib's) with an undeclared brotli body."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest("GET", "/_stats", skip_accept_encoding=True)
        conn.endheaders()
        r = conn.getresponse()
        if r.status != 200:
            raise OSError("stats_over_http on port %d answered %d %s" % (port, r.status, r.reason))
        return json.loads(r.read())["global"]
    finally:
        conn.close()


def plugin_metrics(metrics):
    """{short name: int} of the plugin.tls_bridge.* entries of a
    {full name: value} mapping."""
    return {k[len(PREFIX):]: int(float(v)) for k, v in metrics.items() if k.startswith(PREFIX)}


def from_stats_over_http(port, host="127.0.0.1", timeout=5.0):
    """The plugin's metrics through stats_over_http."""
    return plugin_metrics(stats_over_http(port, host, timeout))


# The regex `traffic_ctl metric match` takes: the plugin's metrics only.
CTL_PATTERN = "^" + re.escape(PREFIX)
_CTL_LINE = re.compile(r"^(%s\S+) (-?[0-9.]+)$" % re.escape(PREFIX), re.M)


def from_traffic_ctl(ctl):
    """The plugin's metrics through `traffic_ctl metric match CTL_PATTERN`;
    ctl(*args) runs traffic_ctl against the instance and returns its stdout
    (AtsInstance.ctl).  Under 9.2's traffic_manager, empty until the manager
    has the plugin's metrics."""
    return plugin_metrics(dict(_CTL_LINE.findall(ctl("metric", "match", CTL_PATTERN))))


def satisfied(got, want):
    """True when every metric in want has at least its value there, or
    exactly it for a one-element tuple: {"tunnels.started": 2} is "2 or
    more", {"tunnels.active": (0,)} is "exactly 0"."""
    return all(got.get(k) == v[0] if isinstance(v, tuple) else got.get(k, 0) >= v
               for k, v in want.items())


def wait_metrics(read, want, timeout=15.0, interval=0.2):
    """Poll read() (a reading: {short name: int}) until it satisfies want
    (see satisfied()) or timeout seconds have passed; returns the last
    reading either way, so that the caller's assertion on it shows every
    metric when the wait failed."""
    return poll(read, lambda got: satisfied(got, want), timeout, interval)
