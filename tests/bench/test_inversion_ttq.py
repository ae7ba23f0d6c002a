"""bench/inversion_ttq.py (inversion at equal quality): the time-to-quality arithmetic on synthetic curves,
the run plan, and a toy end-to-end run that writes the ``time_to_quality`` key and the plot."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(autouse=True)
def bench_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))


def _point(cpu: float, acc: float, zoo: float | None = None) -> dict:
    return {"cpu_s": cpu, "evaluator_top1": acc, "zoo_cross_top1": zoo}


def test_cpu_to_reach_interpolates_the_first_crossing():
    import inversion_ttq as ttq

    pts = [_point(1.0, 0.2), _point(2.0, 0.6), _point(4.0, 0.9), _point(8.0, 0.7)]
    assert ttq.cpu_to_reach(pts, 0.8) == pytest.approx(2.0 + (0.8 - 0.6) / (0.9 - 0.6) * 2.0)
    assert ttq.cpu_to_reach(pts, 0.1) == 1.0  # the first point already clears it
    assert ttq.cpu_to_reach(pts, 0.95) is None  # never reached
    assert ttq.cpu_to_reach(pts, 0.9) == 4.0


def _runs(method: str, archs: list[str], points: list[tuple[int, float, list[int]]]) -> list[dict]:
    """One run per (arch, budget): ``points`` = (budget, cpu_s, evaluator flags per image)."""
    return [{"method": method, "arch": a, "seed": 0, "budget": b, "status": "ok", "steps": b, "cpu_s": cpu,
             "evaluator_correct": flags, "zoo_correct": {"j": flags}, "own_correct": flags}
            for a in archs for b, cpu, flags in points]


def test_summary_picks_the_best_peer_on_every_architecture_and_the_ratio():
    import inversion_ttq as ttq

    archs = ["a", "b"]
    config = {**ttq.CONFIG, "methods": ["pii-tuned", "deepdream", "deepinversion"], "peers": ["deepdream", "deepinversion"],
              "archs": archs, "bootstrap_resamples": 100}
    runs = (_runs("pii-tuned", archs, [(75, 1.0, [1, 1, 0, 0]), (150, 2.0, [1, 1, 1, 1])])
            + _runs("deepdream", archs, [(75, 2.0, [1, 0, 0, 0]), (150, 4.0, [1, 1, 1, 0])])
            + _runs("deepinversion", ["a"], [(75, 1.0, [1, 1, 1, 1])])  # one architecture only: not eligible
            + [{"method": "deepinversion", "arch": "b", "seed": 0, "budget": 75, "status": "n/a"}])
    s = ttq.summarize(runs, config)
    assert s["best_peer"] == "deepdream" and s["best_peer_best_evaluator_top1"] == 0.75
    # pii-tuned: 0.5 at 1 s, 1.0 at 2 s -> 0.75 at 1.5 s; deepdream reaches its 0.75 at 4 s
    assert s["methods"]["pii-tuned"]["cpu_s_to_best_peer_best"] == pytest.approx(1.5)
    assert s["ratio_to_best_peer"] == pytest.approx(1.5 / 4.0)
    assert s["methods"]["pii-tuned"]["cpu_s_to_target"] == pytest.approx(1.0 + (0.8 - 0.5) / 0.5)
    assert s["methods"]["deepdream"]["cpu_s_to_target"] is None
    assert s["targets"] == {"ratio_at_most": 0.5, "ratio_met": True, "reaches_target_accuracy": True}
    curve = s["curves"]["pii-tuned"]
    assert [p["budget"] for p in curve] == [75, 150] and curve[0]["images"] == 8
    assert curve[0]["evaluator_interval"]["low"] <= 0.5 <= curve[0]["evaluator_interval"]["high"]


def test_the_plan_runs_every_method_at_every_budget_and_literal_pii_at_its_full_budget():
    import inversion_ttq as ttq

    cfg = ttq.CONFIG
    jobs = ttq.jobs(cfg)
    per_run = len(cfg["archs"]) * len(cfg["seeds"])
    assert len(jobs) == (len(cfg["methods"]) * len(cfg["budgets"]) + 1) * per_run
    assert {b for m, _, _, b in jobs if m == "pii-literal"} == {75, 150, 300, 600, 1200, 2800}
    assert {b for m, _, _, b in jobs if m == "lucent"} == {75, 150, 300, 600, 1200}
    method, config, scale = ttq.plan("pii-literal", 1400)
    assert method == "pii" and config.ensemble == 32 and scale == pytest.approx(0.5)  # as shipped, half its budget
    assert ttq.plan("pii-tuned", 1200)[2] == pytest.approx(2.0)


@pytest.mark.slow
def test_toy_run_writes_time_to_quality_beside_other_keys(tmp_path):
    import inversion_ttq as ttq

    out = tmp_path / "inversion.json"
    out.write_text(json.dumps({"benchmark": "inversion", "schema": 2, "methods": {"kept": 1}}))
    config = {**ttq.SMOKE, "methods": ["pii-tuned", "pii-literal", "deepdream"], "peers": ["deepdream"],
              "budgets": [1, 2], "full_budget": {"pii-literal": 7}}
    result = ttq.run(config, out, smoke=True)
    saved = json.loads(out.read_text())
    assert saved["methods"] == {"kept": 1}  # the equal-steps comparison stays
    block = saved["time_to_quality"]
    assert block["config"] == config and block["best_peer"] == "deepdream"
    assert set(block["curves"]) == {"pii-tuned", "pii-literal", "deepdream"}
    assert [p["budget"] for p in block["curves"]["pii-literal"]] == [1, 2, 7]
    assert all(r["cpu_s"] > 0 and len(r["evaluator_correct"]) == 1 for r in block["runs"])
    assert "ratio_to_best_peer" in block and Path(block["plot"]).is_file()
    again = ttq.run(config, out, smoke=True)  # same config: every run is reused, none repeated
    assert again["time_to_quality"]["runs"] == result["time_to_quality"]["runs"]
