"""bench/spatial.py's summary over evaluation seeds: a Student-t interval from 3 seeds on, and each layout target's
word (met / at the bar / missed) judged on that interval, never on the mean alone."""
from __future__ import annotations

import pytest


def _per_seed(**stats: tuple[float, ...]) -> dict:
    n = len(next(iter(stats.values())))
    return {str(i): {**{k: {"value": v[i]} for k, v in stats.items()}, "shortened": 1} for i in range(n)}


def test_three_seeds_give_a_t_interval_and_words(bench_script):
    sp = bench_script("spatial")
    summary = sp.over_seeds(_per_seed(slope=(0.98, 0.99, 1.0), r2=(0.85, 0.95, 0.92), median_error_px=(0.6, 0.7, 0.65),
                                      class_right=(0.5, 0.55, 0.6), count_right=(0.94, 0.95, 0.97)))
    s = summary["slope"]
    # mean 0.99, s = 0.01, t_{0.975, 2} = 4.3027: half-width 4.3027 * 0.01 / sqrt(3)
    assert s["mean"] == pytest.approx(0.99) and s["high"] - s["mean"] == pytest.approx(4.302653 * 0.01 / 3 ** 0.5, rel=1e-5)
    assert summary["shortened"] == 3 and s["interval"] == "t over seeds"
    words = sp.meets(summary)
    assert words == {"slope": "met", "median_error_px": "met", "class_right": "missed",
                     "r2": "at the bar",  # mean 0.907 >= 0.9, but the interval reaches below it
                     "count_right": "at the bar"}


def test_a_range_target_straddled_or_missed_and_too_few_seeds(bench_script):
    sp = bench_script("spatial")
    straddles = sp.meets(sp.over_seeds(_per_seed(slope=(0.85, 0.95, 0.9))))
    outside = sp.meets(sp.over_seeds(_per_seed(slope=(0.5, 0.52, 0.51))))
    two = sp.over_seeds(_per_seed(slope=(0.99, 1.0)))
    assert straddles["slope"] == "at the bar" and outside["slope"] == "missed"
    assert "low" not in two["slope"] and sp.meets(two)["slope"] is None and sp.meets(two)["r2"] is None
