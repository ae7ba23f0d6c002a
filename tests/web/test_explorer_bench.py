"""bench/explorer.py's arithmetic (the browser run itself is the benchmark, not a test)."""
from __future__ import annotations

import statistics

import pytest


def test_percentile_matches_the_inclusive_definition(bench_script):
    bench = bench_script("explorer")
    xs = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0]
    qs = statistics.quantiles(xs, n=20, method="inclusive")  # 5 %, 10 %, ..., 95 %
    assert bench.percentile(xs, 50) == pytest.approx(statistics.median(xs))
    assert bench.percentile(xs, 95) == pytest.approx(qs[-1])
    assert bench.percentile(xs, 0) == 1.0 and bench.percentile(xs, 100) == 9.0


def test_stress_flag_runs_the_issues_load_test_unless_told_otherwise(bench_script):
    bench = bench_script("explorer")
    drag = bench.parse_args([])
    assert not drag.stress and (drag.seconds, drag.rate) == (20.0, 60.0)
    full = bench.parse_args(["--stress"])
    assert full.stress and (full.clients, full.seconds, full.rate) == (50, 60.0, 30.0)
    short = bench.parse_args(["--clients", "10", "--seconds", "10"])  # --clients alone still means the load test
    assert short.stress and (short.clients, short.seconds, short.rate) == (10, 10.0, 30.0)
    with pytest.raises(SystemExit):
        bench.parse_args(["--stress", "--clients", "0"])
