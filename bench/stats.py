"""Pure logic of the benchmark: percentiles, per-round ratios, the summary of
one metric, target checks and the markdown table.  No I/O, no processes:
tested by bench/test_stats.py.

A metric's raw data is one value per round per ingress (None when that
round failed), e.g.

    {"ours": [410.0, 395.2, None], "reference": [300.1, 310.0, 305.5], ...}

Every ratio is a median of per-round ratios (ours_r / reference_r over the
rounds where both succeeded), reported with its spread (min and max of those
per-round ratios).  Alternating the ingresses inside each round and taking
per-round ratios cancels most of the drift of a noisy machine.
"""

import math

INGRESSES = ("ours", "reference", "squid")


def percentile(values, p):
    """The p-th percentile (0-100) of values, linear interpolation between
    closest ranks (numpy's default).  None for an empty list."""
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return None
    if len(xs) == 1:
        return float(xs[0])
    k = (len(xs) - 1) * (p / 100.0)
    lo = math.floor(k)
    hi = math.ceil(k)
    if lo == hi:
        return float(xs[lo])
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def median(values):
    return percentile(values, 50)


def round_ratios(num, den):
    """Per-round ratios num[r] / den[r] where both exist and den[r] != 0."""
    out = []
    for a, b in zip(num, den):
        if a is None or b is None or b == 0:
            continue
        out.append(a / b)
    return out


def ratio_summary(num, den):
    """{"median", "min", "max", "n"} of the per-round ratios, or None when no
    round has both values."""
    rs = round_ratios(num, den)
    if not rs:
        return None
    return {"median": median(rs), "min": min(rs), "max": max(rs), "n": len(rs)}


def summarize(values, base="reference"):
    """Summary of one metric: absolute medians per ingress, failure counts,
    and the ratios of every other ingress to `base`."""
    out = {"median": {}, "ok": {}, "rounds": {}, "ratio": {}}
    for ing, vs in values.items():
        out["median"][ing] = median(vs)
        out["ok"][ing] = sum(1 for v in vs if v is not None)
        out["rounds"][ing] = len(vs)
    if base in values:
        for ing, vs in values.items():
            if ing != base:
                out["ratio"][ing] = ratio_summary(vs, values[base])
    return out


# --------------------------------------------------------------------------
# Targets (issue 3): ours / reference, same run.


def check_target(ratio, op, limit):
    """True/False when the ratio summary's median meets `op limit`
    (op is ">=" or "<="); None when there is no ratio."""
    if ratio is None or ratio.get("median") is None:
        return None
    m = ratio["median"]
    if op == ">=":
        return m >= limit
    if op == "<=":
        return m <= limit
    raise ValueError("bad op %r" % op)


def all_met(results):
    """Combine several True/False/None: False if any is False, None if any
    is None (and none False), else True."""
    results = list(results)
    if any(r is False for r in results):
        return False
    if any(r is None for r in results) or not results:
        return None
    return True


def met_word(v):
    return {True: "met", False: "**not met**", None: "no data"}[v]


# --------------------------------------------------------------------------
# Formatting.


def fmt_num(v, digits=3):
    """A number with about `digits` significant digits, no exponent for the
    ranges seen here; '-' for None."""
    if v is None:
        return "-"
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return "-"
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 10 ** digits:
        return "{:,.0f}".format(v)
    decimals = max(0, digits - 1 - int(math.floor(math.log10(a))))
    return "{:.{d}f}".format(v, d=decimals)


def fmt_ratio(r):
    """'1.23x (1.10-1.31)' from a ratio summary; 'failed' for None."""
    if r is None:
        return "n/a"
    if r["n"] == 1:
        return "%sx (1 round)" % fmt_num(r["median"])
    return "%sx (%s-%s)" % (fmt_num(r["median"]), fmt_num(r["min"]), fmt_num(r["max"]))


def fmt_abs(summary, ing):
    """Absolute median with a failure note: '412', '412 (1/3 failed)', 'failed'."""
    rounds = summary["rounds"].get(ing, 0)
    ok = summary["ok"].get(ing, 0)
    if rounds == 0:
        return "n/a"
    if ok == 0:
        return "failed"
    s = fmt_num(summary["median"][ing])
    if ok < rounds:
        s += " (%d/%d failed)" % (rounds - ok, rounds)
    return s


def markdown_table(rows, columns=INGRESSES):
    """rows: list of dicts with keys label, unit, better ('higher'/'lower'/
    ''), summary (from summarize).  Returns markdown text."""
    head = ["metric", "unit"] + list(columns) + ["ours/ref", "squid/ref"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join([" --- "] * 2 + [" ---: "] * len(columns) + [" ---: "] * 2) + "|"]
    for row in rows:
        s = row["summary"]
        unit = row.get("unit", "")
        if row.get("better"):
            unit += " (%s is better)" % row["better"]
        cells = [row["label"], unit]
        cells += [fmt_abs(s, ing) for ing in columns]
        cells.append(fmt_ratio(s["ratio"].get("ours")))
        cells.append(fmt_ratio(s["ratio"].get("squid")))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def chart_rows(rows):
    """(label, ours_ratio_summary, squid_ratio_summary) for rows that have a
    ratio, in order (what the chart plots)."""
    out = []
    for row in rows:
        r = row["summary"]["ratio"]
        if r.get("ours") is None and r.get("squid") is None:
            continue
        out.append((row.get("short", row["label"]), r.get("ours"), r.get("squid")))
    return out


def replace_marked(text, begin, end, new):
    """Replace what lies between the begin and end markers (kept); append a
    marked section at the end when the markers are missing."""
    i = text.find(begin)
    j = text.find(end, i + len(begin)) if i >= 0 else -1
    if i < 0 or j < 0:
        if text and not text.endswith("\n"):
            text += "\n"
        return text + "\n" + begin + "\n" + new + end + "\n"
    return text[:i + len(begin)] + "\n" + new + text[j:]


# --------------------------------------------------------------------------
# Failover cost (ours only): each case against the single-peer rule of the
# same pool setting and round.


def failover_rows(metrics, cases_extra, pools, cases, base="single", ing="ours"):
    """One dict per (pool, case): medians over rounds of ready p50/p99 and
    first-byte p50 (ms), the per-round ratios of each to the `base` case's
    figure of the same pool and round (ratio_summary), failed tunnels in all,
    and, from cases_extra (the bench's per-case records), how many tunnels
    tried the case's first peer per tunnel measured and that peer's state
    before and after each round's case.  metrics: {key: {"values": {ing: [per round]}}} with
    keys fo_<pool>_<case>_{ready_p50_ms,ready_p99_ms,fb_p50_ms,failed}."""
    def vals(pool, case, what):
        return metrics.get("fo_%s_%s_%s" % (pool, case, what), {}).get("values", {}).get(ing, [])
    out = []
    for pool in pools:
        for case in cases:
            row = {"pool": pool, "case": case}
            for what in ("ready_p50_ms", "ready_p99_ms", "fb_p50_ms"):
                v = vals(pool, case, what)
                row[what] = median(v)
                row["ratio_" + what] = None if case == base else \
                    ratio_summary(v, vals(pool, base, what))
            row["failed"] = sum(x for x in vals(pool, case, "failed") if x is not None)
            recs = [r for r in cases_extra if r.get("pool") == pool and r.get("case") == case]
            tried = [r for r in recs if r.get("first_peer_attempts") is not None]
            n = sum(r.get("tunnels", 0) for r in tried)
            row["attempts_per_tunnel"] = (sum(r["first_peer_attempts"] for r in tried) / n) \
                if n else None
            row["state_after"] = [r.get("first_peer_state_after") for r in recs] \
                if case != base else []
            row["state_before"] = [r.get("first_peer_state_before") for r in recs] \
                if case != base else []
            out.append(row)
    return out


def compare_builds(before, after, better):
    """Two builds of ours, each run against the reference: before/after are
    lists of runs, each run {ing: [per-round values]} of one metric.  Returns
    {"runs_before", "runs_after": [ratio summary of ours/reference per run],
    "before", "after": ratio summary of every round of every run of that
    build pooled, "change": after's pooled median / before's, "noise": the
    largest run-to-run spread of one build (max/min of its runs' medians;
    None with fewer than two runs each), "verdict": "within noise", "better",
    "worse" or None: outside [1/noise, noise] counts, in the row's direction
    ("higher" or "lower" is better)}."""
    def runs(rs):
        return [ratio_summary(r.get("ours", []), r.get("reference", [])) for r in rs]

    def pooled(rs):
        xs = []
        for r in rs:
            xs += round_ratios(r.get("ours", []), r.get("reference", []))
        return {"median": median(xs), "min": min(xs), "max": max(xs), "n": len(xs)} if xs \
            else None

    def spread(summaries):
        ms = [x["median"] for x in summaries if x is not None]
        if len(ms) < 2 or min(ms) <= 0:
            return None
        return max(ms) / min(ms)
    rb, ra = runs(before), runs(after)
    pb, pa = pooled(before), pooled(after)
    change = pa["median"] / pb["median"] if (pa and pb and pb["median"]) else None
    spreads = [x for x in (spread(rb), spread(ra)) if x is not None]
    noise = max(spreads) if len(spreads) == 2 else None
    verdict = None
    if change is not None and noise is not None:
        if 1.0 / noise <= change <= noise:
            verdict = "within noise"
        elif better in ("higher", "lower"):
            verdict = "better" if (change > 1) == (better == "higher") else "worse"
    return {"runs_before": rb, "runs_after": ra, "before": pb, "after": pa, "change": change,
            "noise": noise, "verdict": verdict}
