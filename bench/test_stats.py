"""Tests of the benchmark's pure logic (no processes):

    /usr/bin/python3 -m pytest -p no:cacheprovider bench
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402
import stats  # noqa: E402


def test_percentile_interpolates_and_skips_none():
    assert stats.percentile([], 50) is None
    assert stats.percentile([None, None], 50) is None
    assert stats.percentile([3.0], 99) == 3.0
    assert stats.percentile([1, 2, 3, 4], 50) == 2.5
    assert stats.percentile([4, 1, None, 3, 2], 0) == 1
    assert stats.percentile([4, 1, 3, 2], 100) == 4
    xs = list(range(1, 101))
    assert abs(stats.percentile(xs, 99) - 99.01) < 1e-9


def test_ratios_are_per_round_and_skip_failed_rounds():
    ours = [2.0, None, 6.0, 8.0]
    ref = [1.0, 5.0, 3.0, 0.0]
    assert stats.round_ratios(ours, ref) == [2.0, 2.0]
    s = stats.ratio_summary([1.0, 4.0, 9.0], [1.0, 2.0, 3.0])
    assert s == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}
    assert stats.ratio_summary([None], [1.0]) is None


def test_median_of_ratios_is_not_ratio_of_medians():
    ours = [10.0, 30.0, 20.0]
    ref = [20.0, 10.0, 10.0]
    s = stats.summarize({"ours": ours, "reference": ref})
    assert s["ratio"]["ours"]["median"] == 2.0  # ratios 0.5, 3, 2
    assert s["median"]["ours"] / s["median"]["reference"] == 2.0 and s["ratio"]["ours"]["min"] == 0.5


def test_summarize_counts_failures():
    s = stats.summarize({"ours": [1.0, None, 3.0], "reference": [None, None, None],
                         "squid": [2.0, 2.0, 2.0]})
    assert s["ok"] == {"ours": 2, "reference": 0, "squid": 3}
    assert s["ratio"]["ours"] is None and s["ratio"]["squid"] is None
    assert stats.fmt_abs(s, "ours") == "2.00 (1/3 failed)"
    assert stats.fmt_abs(s, "reference") == "failed"
    assert stats.fmt_ratio(None) == "n/a"


def test_targets_and_met():
    r = {"median": 1.35, "min": 1.1, "max": 1.5, "n": 3}
    assert stats.check_target(r, ">=", 1.3) is True
    assert stats.check_target(r, "<=", 0.6) is False
    assert stats.check_target(None, "<=", 0.6) is None
    assert stats.all_met([True, True]) is True
    assert stats.all_met([True, None]) is None
    assert stats.all_met([None, False]) is False
    assert stats.all_met([]) is None


def test_fmt_num():
    assert stats.fmt_num(None) == "-"
    assert stats.fmt_num(0) == "0"
    assert stats.fmt_num(0.0123456) == "0.0123"
    assert stats.fmt_num(1.23456) == "1.23"
    assert stats.fmt_num(123.456) == "123"
    assert stats.fmt_num(12345.6) == "12,346"


def test_replace_marked_keeps_the_rest():
    text = "head\n<!-- b -->\nold\nstuff\n<!-- e -->\ntail\n"
    out = stats.replace_marked(text, "<!-- b -->", "<!-- e -->", "new\n")
    assert out == "head\n<!-- b -->\nnew\n<!-- e -->\ntail\n"
    out2 = stats.replace_marked("only\n", "<!-- b -->", "<!-- e -->", "new\n")
    assert out2 == "only\n\n<!-- b -->\nnew\n<!-- e -->\n"


def _data(values):
    cfg = {"conc": [100, 1000], "rule_counts": [1, 50000], "bulk_mib": 32, "rounds": 2,
           "conc_rounds": 1, "rule_rounds": 1, "client_rounds": 1, "setup_tunnels": 10,
           "slow_tunnels": 2, "slow_seconds": 3.0}
    metrics = {k: {"values": v, "errors": {i: [] for i in v}} for k, v in values.items()}
    return {"meta": {"config": cfg, "conc_requested": [100, 1000]}, "metrics": metrics,
            "extra": {"slow": {"tunnels": 2}}}


def test_report_targets_judge_ours_against_reference():
    data = _data({
        "dl_mibps": {"ours": [130.0, 140.0], "reference": [100.0, 100.0], "squid": [90.0, 95.0]},
        "ul_mibps": {"ours": [100.0, 100.0], "reference": [100.0, 100.0], "squid": [1.0, 1.0]},
        "concL_kib_per_tunnel": {"ours": [40.0], "reference": [100.0], "squid": [150.0]},
        "concL_ok": {"ours": [1000], "reference": [1000], "squid": [900]},
        "slow_growth_mib": {"ours": [0.2], "reference": [300.0], "squid": [0.3]},
        "slow_late_mib": {"ours": [0.0], "reference": [150.0], "squid": [0.0]},
        "rules_cpu_growth": {"ours": [1.1], "reference": [10.0], "squid": [3.0]},
    })
    rows = report.build_rows(data)
    tg = {t[0].split(":")[0].split(" at ")[0]: t[3] for t in report.targets(data, rows)}
    assert tg["throughput"] is False  # upload 1.0x
    assert tg["ingress CPU per GiB"] is None  # no data
    assert tg["memory per open tunnel"] is True
    assert tg["slow reader"] is True
    assert tg["rule scale"] is True


def test_memory_target_needs_every_tunnel_to_echo():
    data = _data({
        "concL_kib_per_tunnel": {"ours": [40.0], "reference": [100.0], "squid": [150.0]},
        "concL_ok": {"ours": [999], "reference": [1000], "squid": [1000]},
    })
    tg = report.targets(data, report.build_rows(data))
    mem = [t for t in tg if t[0].startswith("memory")][0]
    assert mem[3] is False


def test_markdown_table_has_every_row():
    data = _data({"dl_mibps": {"ours": [1.0], "reference": [2.0], "squid": [None]}})
    rows = report.build_rows(data)
    md = stats.markdown_table(rows)
    assert md.count("\n") == len(rows) + 2
    assert "| bulk download (32 MiB) | MiB/s (higher is better) | 1.00 | 2.00 | failed |" in md


def test_failover_rows_compare_each_case_to_the_single_peer_of_its_round():
    def m(v):
        return {"values": {"ours": v}}
    metrics = {
        "fo_on_single_ready_p50_ms": m([1.0, 2.0]),
        "fo_on_single_ready_p99_ms": m([2.0, 4.0]),
        "fo_on_dead_cold_ready_p50_ms": m([3.0, 4.0]),
        "fo_on_dead_cold_ready_p99_ms": m([4.0, None]),
        "fo_on_dead_cold_failed": m([0, 1]),
    }
    extra = [{"pool": "on", "case": "dead_cold", "tunnels": 10, "first_peer_attempts": 10,
              "first_peer_state_before": 0, "first_peer_state_after": 0},
             {"pool": "on", "case": "dead_cold", "tunnels": 10, "first_peer_attempts": 9,
              "first_peer_state_before": 0, "first_peer_state_after": 1},
             {"pool": "off", "case": "dead_cold", "tunnels": 10, "first_peer_attempts": 0}]
    rows = stats.failover_rows(metrics, extra, ["on"], ["single", "dead_cold"])
    single, cold = rows
    assert single["ratio_ready_p50_ms"] is None and single["state_after"] == []
    assert cold["ready_p50_ms"] == 3.5
    assert cold["ratio_ready_p50_ms"] == {"median": 2.5, "min": 2.0, "max": 3.0, "n": 2}
    assert cold["ratio_ready_p99_ms"]["n"] == 1  # the failed round is left out
    assert cold["ratio_fb_p50_ms"] is None
    assert cold["failed"] == 1
    assert cold["attempts_per_tunnel"] == 0.95
    assert cold["state_before"] == [0, 0] and cold["state_after"] == [0, 1]


def test_compare_builds_pools_rounds_and_judges_against_run_to_run_noise():
    before = [{"ours": [1.0, 2.0], "reference": [2.0, 2.0]},   # ratios 0.5, 1.0
              {"ours": [1.2, 1.2], "reference": [2.0, 2.0]}]   # 0.6, 0.6
    after = [{"ours": [3.0, 3.0], "reference": [4.0, 6.0]},    # 0.75, 0.5
             {"ours": [None, 1.6], "reference": [2.0, 2.0]}]   # -, 0.8
    c = stats.compare_builds(before, after, "lower")
    assert c["runs_before"][0]["median"] == 0.75 and c["runs_after"][1]["n"] == 1
    assert c["before"] == {"median": 0.6, "min": 0.5, "max": 1.0, "n": 4}
    assert c["after"]["median"] == 0.75 and c["after"]["n"] == 3
    assert abs(c["change"] - 1.25) < 1e-12
    # run-to-run: before 0.75 vs 0.6 (1.25x), after 0.625 vs 0.8 (1.28x)
    assert abs(c["noise"] - 0.8 / 0.625) < 1e-12
    assert c["verdict"] == "within noise"
    worse = stats.compare_builds(before, [{"ours": [4.0], "reference": [2.0]},
                                          {"ours": [4.2], "reference": [2.0]}], "lower")
    assert worse["verdict"] == "worse"
    assert stats.compare_builds(before, after[:1], "lower")["verdict"] is None
