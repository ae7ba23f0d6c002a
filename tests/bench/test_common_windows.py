"""bench/common.py InterleavedWindows: every window of ours sits between two windows of each peer."""
from __future__ import annotations

import pytest


def test_windows_alternate_and_pair(bench_script) -> None:
    common = bench_script("common")
    calls = {"peer": 0}

    def peer() -> None:
        calls["peer"] += 1

    reports = []
    timer = common.InterleavedWindows({"p": peer}, batch=4, window=3, warm=2, report=lambda t: reports.append(len(t.ours)))
    for step in range(1, 2 + 3 * 3 + 1):  # warm-up 2 steps, then 3 windows of 3 steps
        timer.on_step({"step": step})
    assert len(timer.ours) == 3 and len(timer.theirs["p"]) == 4 and reports == [1, 2, 3]
    assert calls["peer"] >= 4 * 3  # each peer window is at least `window` calls (time_calls may calibrate more)
    paired = timer.paired("p")
    assert len(paired) == 3 and all(r > 0 for r in paired)


def test_warm_up_of_zero_is_refused(bench_script) -> None:
    with pytest.raises(ValueError, match="warm"):
        bench_script("common").InterleavedWindows({}, batch=1, window=1, warm=0)
