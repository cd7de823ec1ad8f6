#!/usr/bin/python3
"""Two builds of ours, each against the reference in its own runs: a
markdown table of ours/reference per row, before and after, and how much
the same build moved between its own repeated runs (the noise).

    bench/compare.py --before A1.json A2.json --after B1.json B2.json \
        [--label-before 12f5be2] [--label-after 276ea2b]

Each JSON is a bench run (bench/bench.py --json ...) with ours and the
reference.  Per row: each run's median of per-round ratios of ours to the
reference (as in docs/benchmarks.md); per build, the per-round ratios of
all its runs pooled, median (min-max); "after / before", the pooled
medians' quotient; "same build, run to run", the larger of the two builds'
max/min of their runs' medians (the noise); "judged", whether after /
before lies inside [1/noise, noise] ("within noise") or outside it, better
or worse in the row's direction (stats.compare_builds).
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


def table(before, after, label_before, label_after, rows, per_run=True):
    """Markdown: one line per (key, label, better) in rows; per_run: a
    column for each run's own ratio."""
    nb, na = (len(before), len(after)) if per_run else (0, 0)
    head = ["row"] + ["%s run %d" % (label_before, i + 1) for i in range(nb)] + \
        ["%s run %d" % (label_after, i + 1) for i in range(na)] + \
        ["%s, all rounds" % label_before, "%s, all rounds" % label_after, "after / before",
         "same build, run to run", "judged"]
    lines = ["| " + " | ".join(head) + " |",
             "| --- |" + " ---: |" * (len(head) - 2) + " --- |"]
    for key, label, better in rows:
        c = stats.compare_builds([d["metrics"].get(key, {}).get("values", {}) for d in before],
                                 [d["metrics"].get(key, {}).get("values", {}) for d in after],
                                 better)
        cells = [label + (" (%s is better)" % better if better else "")]
        if per_run:
            cells += [stats.fmt_num(x["median"]) + "x" if x else "-"
                      for x in c["runs_before"] + c["runs_after"]]
        cells += [stats.fmt_ratio(c["before"]), stats.fmt_ratio(c["after"])]
        cells.append("-" if c["change"] is None else "%sx" % stats.fmt_num(c["change"]))
        cells.append("-" if c["noise"] is None else "%sx" % stats.fmt_num(c["noise"]))
        cells.append(c["verdict"] or "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", nargs="+", required=True)
    ap.add_argument("--after", nargs="+", required=True)
    ap.add_argument("--label-before", default="before")
    ap.add_argument("--label-after", default="after")
    ap.add_argument("--rows", default="",
                    help="comma-separated metric keys to show (default: every row with a "
                         "direction), in this order")
    ap.add_argument("--no-runs", action="store_true", help="no column per run")
    args = ap.parse_args()
    before = [load(p) for p in args.before]
    after = [load(p) for p in args.after]
    rows = [(k, label, better) for k, label, _short, _unit, better
            in report.metric_rows(after[0])
            if better and any(k in d["metrics"] for d in before + after)]
    if args.rows:
        by_key = {r[0]: r for r in rows}
        rows = [by_key[k] for k in args.rows.split(",") if k in by_key]
    for path, d in zip(args.before + args.after, before + after):
        m = d["meta"]
        print("- `%s`: %s, ours `%s` (git %s, sha256 %s...), reference `%s`" % (
            os.path.basename(path), m["date"], m["plugins"]["ours"], m["git"],
            m.get("ours_sha256"), m["plugins"]["reference"]))
    print()
    print(table(before, after, args.label_before, args.label_after, rows,
                per_run=not args.no_runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
