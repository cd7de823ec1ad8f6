"""From bench/results/latest.json to docs/benchmarks.md (the marked section)
and docs/benchmarks.png (gnuplot).  A run on ATS 10.x (variant "ats10") has
its own JSON (latest-ats10.json), section markers (bench:ats10:begin/end)
and charts (benchmarks-ats10*.png), so the 9.2 figures stay."""

import os
import shutil
import subprocess
import tempfile

import stats

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
TARGETS_BEGIN = "<!-- bench:targets:begin -->"
TARGETS_END = "<!-- bench:targets:end -->"



def variant(ats_major):
    """"" for 9.x (the bench's original files), "ats10" for 10.x."""
    return "ats%d" % ats_major if ats_major >= 10 else ""


def json_name(var):
    return "latest-%s.json" % var if var else "latest.json"


def markers(var):
    if not var:
        return BEGIN, END
    return "<!-- bench:%s:begin -->" % var, "<!-- bench:%s:end -->" % var


def png_names(var):
    if not var:
        return "benchmarks.png", "benchmarks-slow.png"
    return "benchmarks-%s.png" % var, "benchmarks-%s-slow.png" % var


FO_POOLS = ("on", "off")
FO_CASES = ("single", "dead_cold", "dead_down", "stall_cold", "stall_down")
FO_LABELS = {
    "single": "single live peer (baseline)",
    "dead_cold": "dead first peer (refused), not marked down",
    "dead_down": "dead first peer (refused), marked down",
    "stall_cold": "stalling first peer (no TLS answer), not marked down",
    "stall_down": "stalling first peer (no TLS answer), marked down",
}

# Ratios below the chart's floor (0.001) are drawn at the floor.
CHART_FLOOR = 0.001

# Slow reader: "bounded" means ours' ingress RSS grew by at most this much
# per stalled tunnel in the second half of the sampling window, and at most
# TOTAL per stalled tunnel overall (the plugin's window is ~32 KiB per
# direction; ATS's own buffers come on top).
SLOW_LATE_KIB_PER_TUNNEL = 256
SLOW_TOTAL_KIB_PER_TUNNEL = 2048
RULES_GROWTH_LIMIT = 1.2


def metric_rows(data):
    """The table rows, in order: (key, label, short label for the chart,
    unit, better)."""
    cfg = data["meta"]["config"]
    conc = cfg["conc"]
    rows = [
        ("dl_mibps", "bulk download (%d MiB)" % cfg["bulk_mib"], "download", "MiB/s", "higher"),
        ("ul_mibps", "bulk upload (%d MiB)" % cfg["bulk_mib"], "upload", "MiB/s", "higher"),
        ("dl_cpu_s_per_gib", "ingress CPU, download", "CPU/GiB down", "s/GiB", "lower"),
        ("ul_cpu_s_per_gib", "ingress CPU, upload", "CPU/GiB up", "s/GiB", "lower"),
        ("setup_ready_p50_ms", "fresh tunnel ready, p50", "ready p50", "ms", "lower"),
        ("setup_ready_p99_ms", "fresh tunnel ready, p99", "ready p99", "ms", "lower"),
        ("setup_fb_p50_ms", "fresh tunnel first byte, p50", "1st byte p50", "ms", "lower"),
        ("setup_fb_p99_ms", "fresh tunnel first byte, p99", "1st byte p99", "ms", "lower"),
        ("setup_cpu_ms", "ingress CPU per fresh tunnel", "CPU/tunnel", "ms", "lower"),
    ]
    for tag, n in (("concS", conc[0]), ("concL", conc[1])):
        rows += [
            (tag + "_ok", "%s concurrent tunnels: both echoes OK" % "{:,}".format(n),
             "%s ok" % _k(n), "tunnels", "higher"),
            (tag + "_open_s", "%s concurrent tunnels: time to open all" % "{:,}".format(n),
             "%s open time" % _k(n), "s", "lower"),
            (tag + "_kib_per_tunnel", "%s concurrent tunnels: ingress memory per tunnel"
             % "{:,}".format(n), "%s mem/tunnel" % _k(n), "KiB", "lower"),
            (tag + "_fds_left", "%s concurrent tunnels: ingress descriptors still open %s s "
             "after the clients' resets" % ("{:,}".format(n), cfg.get("fds_left_wait_s", 3)),
             None, "fds", "lower"),
        ]
    rows += [
        ("slow_growth_mib", "slow reader: ingress RSS growth", "slow: growth", "MiB", "lower"),
        ("slow_offered_mib", "slow reader: bytes the source sent", None, "MiB", ""),
        ("slow_growth_pct", "slow reader: growth / bytes sent", None, "%", "lower"),
        ("slow_late_mib", "slow reader: growth in the 2nd half", None, "MiB", "lower"),
    ]
    for n in cfg["rule_counts"]:
        rows += [
            ("rules%d_cpu_ms" % n, "%s rules: ingress CPU per tunnel" % "{:,}".format(n),
             "%s rules CPU" % _k(n), "ms", "lower"),
            ("rules%d_ready_p50_ms" % n, "%s rules: tunnel ready, p50" % "{:,}".format(n),
             "%s rules p50" % _k(n), "ms", "lower"),
        ]
    rows += [
        ("rules_cpu_growth", "setup CPU at %s rules / at %s rule" % (
            "{:,}".format(cfg["rule_counts"][-1]), "{:,}".format(cfg["rule_counts"][0])),
         None, "x", "lower"),
        ("redis_set_rps", "redis-benchmark SET (-c 20)", "redis SET", "req/s", "higher"),
        ("redis_get_rps", "redis-benchmark GET (-c 20)", "redis GET", "req/s", "higher"),
        ("pgbench_tps", "pgbench -S (-c 8)", "pgbench", "tx/s", "higher"),
    ]
    return rows


def _k(n):
    return "%dk" % (n // 1000) if n >= 1000 and n % 1000 == 0 else str(n)


def build_rows(data):
    out = []
    for key, label, short, unit, better in metric_rows(data):
        m = data["metrics"].get(key)
        if m is None:
            summary = {"median": {}, "ok": {}, "rounds": {}, "ratio": {}}
        else:
            summary = stats.summarize(m["values"])
        row = {"key": key, "label": label, "unit": unit, "better": better, "summary": summary}
        if short:
            row["short"] = short
        else:
            row["nochart"] = True
        out.append(row)
    return out


def _ratio(rows, key, ing="ours"):
    for r in rows:
        if r["key"] == key:
            return r["summary"]["ratio"].get(ing)
    return None


def _values(data, key, ing="ours"):
    return data["metrics"].get(key, {}).get("values", {}).get(ing, [])


def targets(data, rows):
    """[(target text, how it is judged, measured text, met True/False/None)]."""
    out = []

    def ratio_target(text, keys, op, limit):
        rs = [(k, _ratio(rows, k)) for k in keys]
        met = stats.all_met(stats.check_target(r, op, limit) for _, r in rs)
        measured = "; ".join("%s %s" % (_label(rows, k), stats.fmt_ratio(r)) for k, r in rs)
        out.append((text, "ours/reference %s %s" % (op, limit), measured, met))

    ratio_target("throughput at least 1.3x, download and upload",
                 ["dl_mibps", "ul_mibps"], ">=", 1.3)
    ratio_target("ingress CPU per GiB at most 0.6x, each direction",
                 ["dl_cpu_s_per_gib", "ul_cpu_s_per_gib"], "<=", 0.6)
    ratio_target("fresh tunnel ready and first byte at most 0.5x, p50 and p99",
                 ["setup_ready_p50_ms", "setup_ready_p99_ms", "setup_fb_p50_ms",
                  "setup_fb_p99_ms"], "<=", 0.5)
    # Memory per tunnel with the large count, and every tunnel echoing.
    n = data["meta"]["config"]["conc"][1]
    r = _ratio(rows, "concL_kib_per_tunnel")
    oks = [v for v in _values(data, "concL_ok") if v is not None]
    all_ok = (all(v == n for v in oks) and len(oks) == len(_values(data, "concL_ok"))) \
        if oks else None
    met = stats.all_met([stats.check_target(r, "<=", 0.5), all_ok])
    asked = data["meta"].get("conc_requested", [0, n])[1]
    out.append(("memory per open tunnel at most 0.5x; %s concurrent tunnels all echo%s"
                % ("{:,}".format(asked), "" if asked == n else
                   " (%s here: descriptor limit, see the notes)" % "{:,}".format(n)),
                "ours/reference <= 0.5, and ours' count of good tunnels = %s every round"
                % "{:,}".format(n),
                "%s; ours good tunnels per round: %s" % (
                    stats.fmt_ratio(r), ", ".join("-" if v is None else "{:,}".format(v)
                                                  for v in _values(data, "concL_ok"))),
                met))
    # Slow reader.
    k = data.get("extra", {}).get("slow", {}).get("tunnels") or 1
    late = [v for v in _values(data, "slow_late_mib") if v is not None]
    tot = [v for v in _values(data, "slow_growth_mib") if v is not None]
    if late and tot:
        met = all(v * 1024 / k <= SLOW_LATE_KIB_PER_TUNNEL for v in late) and \
            all(v * 1024 / k <= SLOW_TOTAL_KIB_PER_TUNNEL for v in tot)
    else:
        met = None
    out.append(("slow reader: ingress growth bounded, whatever the download size",
                "ours: growth <= %d KiB per stalled tunnel in the 2nd half of the window and "
                "<= %d KiB per stalled tunnel in all" % (SLOW_LATE_KIB_PER_TUNNEL,
                                                        SLOW_TOTAL_KIB_PER_TUNNEL),
                "ours growth %s MiB (2nd half %s MiB) with %d stalled tunnels; reference %s MiB"
                % (_list(tot), _list(late), k,
                   _list(v for v in _values(data, "slow_growth_mib", "reference")
                         if v is not None)),
                met))
    g = [v for v in _values(data, "rules_cpu_growth") if v is not None]
    gm = stats.median(g) if g else None
    out.append(("rule scale: setup CPU at %s rules at most %.1fx ours at 1 rule"
                % ("{:,}".format(data["meta"]["config"]["rule_counts"][-1]), RULES_GROWTH_LIMIT),
                "ours, median of per-round ratios <= %.1f" % RULES_GROWTH_LIMIT,
                "%sx (rounds: %s)" % (stats.fmt_num(gm), _list(g)),
                None if gm is None else gm <= RULES_GROWTH_LIMIT))
    ratio_target("real clients: redis and pgbench rates at least 1.3x",
                 ["redis_set_rps", "redis_get_rps", "pgbench_tps"], ">=", 1.3)
    return out


def _list(vs):
    vs = list(vs)
    return ", ".join(stats.fmt_num(v) for v in vs) if vs else "-"


def _label(rows, key):
    for r in rows:
        if r["key"] == key:
            return r.get("short", r["label"])
    return key


def targets_table(tg):
    lines = ["| target (issue 3) | judged as | latest run | |",
             "| --- | --- | --- | --- |"]
    for text, how, measured, met in tg:
        lines.append("| %s | %s | %s | %s |" % (text, how, measured, stats.met_word(met)))
    return "\n".join(lines) + "\n"


def chart(data, rows, png):
    """docs/benchmarks.png: ours/reference and squid/reference per metric,
    median with min-max bars, log scale, a line at 1.0.  Returns an error
    text or None."""
    gp = shutil.which("gnuplot")
    if not gp:
        return "gnuplot not installed: no chart"
    items = [r for r in stats.chart_rows([r for r in rows if not r.get("nochart")])]
    if not items:
        return "no ratios to plot"
    tmp = tempfile.mkdtemp(prefix="tb-bench-chart-")
    try:
        dat = os.path.join(tmp, "ratios.dat")
        with open(dat, "w") as f:
            for i, (label, o, s) in enumerate(items):
                def cols(r):
                    if r is None:
                        return "NaN NaN NaN"
                    return "%g %g %g" % tuple(max(CHART_FLOOR, r[k])
                                              for k in ("median", "min", "max"))
                f.write('%d "%s" %s %s\n' % (i, label, cols(o), cols(s)))
        script = os.path.join(tmp, "chart.gp")
        with open(script, "w") as f:
            f.write("""\
set terminal pngcairo size 1500,650 font "DejaVu Sans,10"
set output '{png}'
set title noenhanced "tls_bridge benchmark ({ats}, {mode}, {date}): ratio to the reference tls_bridge.so (median of per-round ratios, bars = min-max)"
set logscale y 2
set yrange [0.001:100]
set ytics ("0.001" 0.001, "0.003" 0.003, "0.01" 0.01, "0.03" 0.03, "0.1" 0.1, "0.25" 0.25, "0.5" 0.5, "1" 1, "2" 2, "4" 4, "10" 10, "30" 30, "100" 100)
set grid ytics
set xtics rotate by -50 font ",9" nomirror noenhanced
set key noenhanced
set xrange [-0.7:{xmax}]
set key top left
set ylabel "x reference (log scale)"
set arrow from -0.7,1 to {xmax},1 nohead lw 2 lc rgb "black"
plot '{dat}' using ($1-0.15):3:4:5:xtic(2) with yerrorbars pt 7 ps 1.2 lc rgb "#1f77b4" title "ours / reference", \\
     '{dat}' using ($1+0.15):6:7:8 with yerrorbars pt 5 ps 1.0 lc rgb "#ff7f0e" title "squid / reference"
""".format(png=png, dat=dat, mode=data["meta"]["mode"], date=data["meta"]["date"],
                ats=ats_short(data), xmax=len(items) - 0.3))
        r = subprocess.run([gp, script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
        if r.returncode != 0:
            return "gnuplot failed: " + r.stdout[-500:]
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def chart_slow(data, png):
    """docs/benchmarks-slow.png: ingress RSS growth and bytes the source
    sent over time, first round of the slow-reader section, per ingress.
    Returns an error text or None."""
    gp = shutil.which("gnuplot")
    series = data.get("extra", {}).get("slow", {}).get("series", [])
    first = {}
    for s in series:
        first.setdefault(s["ingress"], s)
    if not gp or not first:
        return "no gnuplot or no slow-reader data"
    tmp = tempfile.mkdtemp(prefix="tb-bench-chart-")
    colors = {"ours": "#1f77b4", "reference": "#d62728", "squid": "#ff7f0e"}
    try:
        plots = []
        for ing, s in first.items():
            dat = os.path.join(tmp, ing + ".dat")
            with open(dat, "w") as f:
                for t, g, off, _peer in s["t_growth_offered_peer"]:
                    f.write("%g %g %g\n" % (t, max(0.1, g), max(0.1, off)))
            c = colors.get(ing, "black")
            plots.append("'%s' using 1:2 with linespoints pt 7 ps 0.6 lw 2 lc rgb '%s' "
                         "title '%s: ingress RSS growth'" % (dat, c, ing))
            plots.append("'%s' using 1:3 with lines dt 2 lw 1.5 lc rgb '%s' "
                         "title '%s: bytes the source sent'" % (dat, c, ing))
        script = os.path.join(tmp, "slow.gp")
        with open(script, "w") as f:
            f.write("""\
set terminal pngcairo size 1000,450 font "DejaVu Sans,10"
set output '{png}'
set title noenhanced "slow reader: {k} tunnels that never read, first round ({ats}, {mode}, {date})"
set logscale y 10
set yrange [0.1:4096]
set xlabel "seconds"
set ylabel "MiB (log scale; 0 drawn at 0.1)"
set grid
set key noenhanced top right box opaque
plot {plots}
""".format(png=png, k=data["extra"]["slow"].get("tunnels"), mode=data["meta"]["mode"],
                date=data["meta"]["date"], ats=ats_short(data),
                plots=", \\\n     ".join(plots)))
        r = subprocess.run([gp, script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
        if r.returncode != 0:
            return "gnuplot failed: " + r.stdout[-500:]
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ats_short(data):
    """"ATS 9.2.9" from the run's meta (older results: "ATS")."""
    v = data["meta"].get("versions", {}).get("ats", "")
    parts = v.split(" - ")
    return "ATS %s" % parts[2].strip() if len(parts) > 2 else "ATS"


def failover_table(data):
    """Markdown for the failover rows (ours only), or "" when the run had none."""
    fo = data.get("extra", {}).get("failover")
    if not fo:
        return ""
    rows = stats.failover_rows(data["metrics"], fo.get("cases", []), FO_POOLS, FO_CASES)
    lines = ["| pool | first peer | tunnels per round | ready p50, ms | ready p99, ms | "
             "first byte p50, ms | ready p50 / single | ready p99 / single | "
             "first peer tried, per tunnel | first peer's state before→after (per round) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        n = fo["stall_tunnels"] if r["case"].startswith("stall") else fo["tunnels"]
        word = {0: "up", 1: "down", 2: "draining", None: "?"}
        state = ", ".join("%s→%s" % (word.get(a, str(a)), word.get(b, str(b)))
                          for a, b in zip(r["state_before"], r["state_after"])) or "-"
        failed = " (%d failed)" % r["failed"] if r["failed"] else ""
        lines.append("| %s | %s | %d%s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["pool"], FO_LABELS[r["case"]], n, failed, stats.fmt_num(r["ready_p50_ms"]),
            stats.fmt_num(r["ready_p99_ms"]), stats.fmt_num(r["fb_p50_ms"]),
            "1" if r["case"] == "single" else stats.fmt_ratio(r["ratio_ready_p50_ms"]),
            "1" if r["case"] == "single" else stats.fmt_ratio(r["ratio_ready_p99_ms"]),
            "-" if r["case"] == "single" else stats.fmt_num(r["attempts_per_tunnel"]),
            state))
    head = ("\n### Failover cost (ours only)\n\n"
            "Time to the client's 200 through a rule `peers: [first, live]` against the same "
            "set-up with the live peer alone, same ingress, same round (the reference has no "
            "failover). Ratios: median of the per-round ratios to the single-peer row of the "
            "same pool setting, (min-max) over %d rounds. `connect_timeout: %s`; cold rules: "
            "`health.failures: %d` (the first peer is tried by every tunnel); down rules: "
            "`failures: %d`, marked down before they are measured, `down_for: %s` (no trial "
            "tunnel during the measurement). Pool on: `pool: {size: 2}`; off: `size: 0`. "
            "\"First peer tried\" is the dead or stalling peer's `attempts` metric over the "
            "case, per tunnel.\n\n" % (len(data["metrics"].get(
                "fo_on_single_ready_p50_ms", {}).get("values", {}).get("ours", [])),
                fo["connect_timeout"], fo["cold_failures"], fo["down_failures"],
                fo["down_for"]))
    return head + "\n".join(lines) + "\n"


def section(data, rows, tg, chart_err, png_name, slow_err=None, slow_png=None):
    m = data["meta"]
    mach = m["machine"]
    v = m["versions"]
    c = m["config"]
    out = []
    out.append("Latest run: **%s**, %s mode, `%s` (git %s), %s s in all "
               "(set-up %s s; %s).\n" % (
                   m["date"], m["mode"], m["command"], m["git"], m["elapsed_s"],
                   m["section_s"].get("start", "?"),
                   ", ".join("%s %s s" % (k, v2) for k, v2 in m["section_s"].items()
                             if k != "start")))
    out.append("Machine: %s cores (`nproc`), %s, %s memory, kernel %s. "
               "Versions: %s; %s; %s; %s.\n" % (
                   mach["nproc"], mach["cpu"], mach["memory"], mach["kernel"], v["ats"],
                   v["squid"], v["redis"], v["postgres"]))
    oa = m.get("ours_args") or []
    out.append("Plugins: ours `%s`, reference `%s`, both with `--file RULES`%s.\n" % (
        m["plugins"]["ours"] + (" (sha256 %s...)" % m["ours_sha256"] if m.get("ours_sha256")
                                else ""), m["plugins"]["reference"],
        (" and, for ours only, `%s`" % " ".join(oa)) if oa else " and nothing else"))
    out.append("Rounds: %d (bulk, fresh tunnels), %d (concurrency, slow reader), %d (rule "
               "scale), %d (real clients); %d MiB per bulk transfer; %d fresh tunnels per "
               "round; %s concurrent tunnels; %d stalled readers for %.0f s; %s rules with %d "
               "tunnels per round.\n" % (
                   c["rounds"], c["conc_rounds"], c["rule_rounds"], c["client_rounds"],
                   c["bulk_mib"], c["setup_tunnels"],
                   " and ".join("{:,}".format(x) for x in c["conc"]), c["slow_tunnels"],
                   c["slow_seconds"], ", ".join("{:,}".format(x) for x in c["rule_counts"]),
                   c["rule_tunnels"]))
    out.append("### Results\n")
    out.append(stats.markdown_table(rows))
    out.append("\nEach cell: the median over rounds; the ratio columns are medians of the "
               "per-round ratios to the reference, (min-max) over rounds. `failed` / "
               "`(k/n failed)`: see the failures below.\n")
    if chart_err:
        out.append("\n(no chart: %s)\n" % chart_err)
    else:
        out.append("\n![ratios to the reference](%s)\n" % png_name)
    if slow_png and not slow_err:
        out.append("\n![slow reader: growth over time](%s)\n" % slow_png)
    fo = failover_table(data)
    if fo:
        out.append(fo)
    if m.get("variant"):
        out.append("\nThe targets of issue 3 against this run (the same judgement as for 9.2 "
                   "under [Where targets are not met](#where-targets-are-not-met)):\n")
        out.append(targets_table(tg))
    else:
        out.append("\nThe targets, met or not in this run, are under [Where targets are not met]"
                   "(#where-targets-are-not-met).\n")
    fails = []
    for key, mm in sorted(data["metrics"].items()):
        for ing, errs in mm["errors"].items():
            for e in errs:
                fails.append("- `%s` %s %s" % (key, ing, e))
    events = ["- %s: %s" % (k, e) for k, evs in m["events"].items() for e in evs]
    notes = ["- " + n for n in m["notes"]]
    if fails or notes or events:
        out.append("\n### Failures and notes\n")
        # Many rows share one failure: keep the list short.
        seen = set()
        short = []
        for f in fails:
            tail = f.split(" ", 3)[-1]
            if tail in seen:
                continue
            seen.add(tail)
            short.append(f)
        out.append("\n".join((short[:40] + notes[:40] + events[:20])) + "\n")
    return "\n".join(out)


def write(data, doc_path):
    """The run's section of doc_path (the markers of its variant), its charts
    beside it, and (9.x only) the targets block."""
    var = data["meta"].get("variant", "")
    rows = build_rows(data)
    tg = targets(data, rows)
    png_name, slow_name = png_names(var)
    png = os.path.join(os.path.dirname(os.path.abspath(doc_path)), png_name)
    err = chart(data, rows, png)
    slow_err = chart_slow(data, os.path.join(os.path.dirname(png), slow_name))
    text = section(data, rows, tg, err, png_name, slow_err, slow_name)
    try:
        with open(doc_path) as f:
            old = f.read()
    except OSError:
        old = "# Benchmarks\n"
    begin, end = markers(var)
    new = stats.replace_marked(old, begin, end, text)
    if not var:
        tt = ("Targets of issue 3 against the latest run (%s, %s mode, git %s):\n\n"
              % (data["meta"]["date"], data["meta"]["mode"], data["meta"]["git"])) \
            + targets_table(tg)
        new = stats.replace_marked(new, TARGETS_BEGIN, TARGETS_END, tt)
    with open(doc_path, "w") as f:
        f.write(new)


def summary_text(data):
    rows = build_rows(data)
    lines = []
    for r in rows:
        s = r["summary"]
        lines.append("%-48s %12s %12s %12s   ours/ref %-22s squid/ref %s" % (
            r["label"][:48], stats.fmt_abs(s, "ours"), stats.fmt_abs(s, "reference"),
            stats.fmt_abs(s, "squid"), stats.fmt_ratio(s["ratio"].get("ours")),
            stats.fmt_ratio(s["ratio"].get("squid"))))
    fo = data.get("extra", {}).get("failover")
    if fo:
        lines.append("")
        for r in stats.failover_rows(data["metrics"], fo.get("cases", []), FO_POOLS, FO_CASES):
            lines.append("failover pool %-3s %-11s ready p50 %8s ms p99 %8s ms   x single: "
                         "p50 %-22s p99 %-22s first peer tried/tunnel %s" % (
                             r["pool"], r["case"], stats.fmt_num(r["ready_p50_ms"]),
                             stats.fmt_num(r["ready_p99_ms"]),
                             stats.fmt_ratio(r["ratio_ready_p50_ms"]),
                             stats.fmt_ratio(r["ratio_ready_p99_ms"]),
                             stats.fmt_num(r["attempts_per_tunnel"])))
    lines.append("")
    for text, how, measured, met in targets(data, rows):
        lines.append("%-12s %s: %s" % (stats.met_word(met).strip("*"), text, measured))
    return "\n".join(lines)
