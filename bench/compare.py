#!/usr/bin/python3
"""Two builds of ours, each against the reference in its own runs: a
markdown table of ours/reference per row, before and after, and how much
the same build moved between its own repeated runs (the noise).

    bench/compare.py --before A1.json A2.json --after B1.json B2.json \
        [--label-before 12f5be2] [--label-after 276ea2b]

Each JSON is a bench run (bench/bench.py --json ...) with ours and the
reference.  Per row and run: the run's median of per-round ratios (as in
docs/benchmarks.md).  "after / before" is the median of the after runs'
ratios over the median of the before runs'; "same build, run to run" is,
for each build with more than one run, the largest of its runs' ratios over
the smallest.  Nothing here judges: the text beside the table does.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402
import stats  # noqa: E402


def load(path):
    with open(path) as f:
        return json.load(f)


def run_ratios(data, keys):
    """{key: ratio summary of ours/reference or None} for one run."""
    out = {}
    for key in keys:
        m = data["metrics"].get(key)
        out[key] = stats.summarize(m["values"])["ratio"].get("ours") if m else None
    return out


def spread(summaries):
    """Largest over smallest of several runs' median ratios (None if fewer
    than two, or a zero)."""
    ms = [s["median"] for s in summaries if s is not None and s["median"]]
    if len(ms) < 2 or min(ms) <= 0:
        return None
    return max(ms) / min(ms)


def table(before, after, label_before, label_after, rows):
    """Markdown: one line per (key, label, better) in rows."""
    keys = [k for k, _, _ in rows]
    rb = [run_ratios(d, keys) for d in before]
    ra = [run_ratios(d, keys) for d in after]
    head = ["row"] + ["%s run %d" % (label_before, i + 1) for i in range(len(before))] + \
        ["%s run %d" % (label_after, i + 1) for i in range(len(after))] + \
        ["after / before", "same build, run to run (max/min)"]
    lines = ["| " + " | ".join(head) + " |",
             "| --- |" + " ---: |" * (len(head) - 1)]
    for key, label, better in rows:
        b = [r[key] for r in rb]
        a = [r[key] for r in ra]
        mb = stats.median([x["median"] for x in b if x])
        ma = stats.median([x["median"] for x in a if x])
        change = (ma / mb) if (ma is not None and mb) else None
        noise = [x for x in (spread(b), spread(a)) if x is not None]
        cells = [label + (" (%s is better)" % better if better else "")]
        cells += [stats.fmt_ratio(x) for x in b + a]
        cells.append("-" if change is None else "%sx" % stats.fmt_num(change))
        cells.append(", ".join("%sx" % stats.fmt_num(x) for x in noise) or "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", nargs="+", required=True)
    ap.add_argument("--after", nargs="+", required=True)
    ap.add_argument("--label-before", default="before")
    ap.add_argument("--label-after", default="after")
    args = ap.parse_args()
    before = [load(p) for p in args.before]
    after = [load(p) for p in args.after]
    rows = [(k, label, better) for k, label, _short, _unit, better
            in report.metric_rows(after[0])
            if k in after[0]["metrics"] and better]
    for d in before + after:
        m = d["meta"]
        print("- %s: %s, %s, ours %s (git %s, sha256 %s...), reference %s" % (
            os.path.basename(m.get("json", "")) or "run", m["date"], m["command"],
            m["plugins"]["ours"], m["git"], m.get("ours_sha256"), m["plugins"]["reference"]))
    print()
    print(table(before, after, args.label_before, args.label_after, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
