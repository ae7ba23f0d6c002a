"""bench/inversion_ttq.py (inversion at equal quality): the time-to-quality arithmetic on synthetic curves,
the run plan, a toy end-to-end run that writes the ``time_to_quality`` key and the plot, and resuming at the
granularity of one run (a stop keeps every finished run; ``--methods`` runs a subset and keeps the rest)."""
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


def test_target_verdicts_follow_the_bootstrap_intervals():
    import inversion_ttq as ttq

    archs = ["a"]
    config = {**ttq.CONFIG, "methods": ["pii-tuned", "deepdream"], "peers": ["deepdream"], "archs": archs,
              "bootstrap_resamples": 500}
    many = 400  # images per point: narrow intervals
    # pii reaches the peer's best (0.5) at 1 s, the peer at 10 s: ratio 0.1, met; pii's best 0.95 clears 0.8
    sure = (_runs("pii-tuned", archs, [(75, 1.0, [1] * (many // 2) + [0] * (many // 2)),
                                        (150, 2.0, [1] * (many * 95 // 100) + [0] * (many * 5 // 100))])
            + _runs("deepdream", archs, [(75, 10.0, [1] * (many // 2) + [0] * (many // 2))]))
    t = ttq.summarize(sure, config)["targets"]
    assert (t["ratio"], t["accuracy"]) == ("met", "met") and t["ratio_interval"]["high"] < 0.5
    # runs of a method that is neither pii nor a peer (pii-literal coming in) leave the intervals as they were
    more = {**config, "methods": ["pii-tuned", "pii-literal", "deepdream"]}
    literal = _runs("pii-literal", archs, [(75, 5.0, [0, 1] * 50)])
    assert ttq.summarize(sure + literal, more)["targets"] == t
    # pii never reaches the peer's 0.9 nor 0.8: both missed; the ratio's interval is open (null = inf)
    never = (_runs("pii-tuned", archs, [(75, 1.0, [1] * (many // 2) + [0] * (many // 2))])
             + _runs("deepdream", archs, [(75, 10.0, [1] * (many * 9 // 10) + [0] * (many // 10))]))
    s = ttq.summarize(never, config)
    t = s["targets"]
    assert s["ratio_to_best_peer"] is None and t["ratio_interval"]["estimate"] is None
    assert (t["ratio"], t["accuracy"], t["reaches_target_accuracy"]) == ("missed", "missed", False)
    # no eligible peer yet: no ratio verdict, but the accuracy one stands
    alone = ttq.summarize(never[:1], config)["targets"]
    assert "ratio" not in alone and alone["accuracy"] == "missed"


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
    t = s["targets"]
    assert (t["ratio_at_most"], t["accuracy_at_least"], t["reaches_target_accuracy"]) == (0.5, 0.8, True)
    # 8 images per point: the bootstrap interval is wide, so each verdict follows from its interval
    iv = t["ratio_interval"]
    assert iv["estimate"] == pytest.approx(1.5 / 4.0) and iv["low"] <= iv["estimate"]
    assert t["ratio"] == ("met" if iv["high"] is not None and iv["high"] < 0.5 else "at the bar")
    acc = t["pii_best_evaluator_top1"]
    assert acc == {"estimate": 1.0, "low": 1.0, "high": 1.0}  # every image right at 150: every resample too
    assert t["accuracy"] == "met"
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


# --- resuming at the granularity of one run (a fake job: the bookkeeping, not the inversions) ----------------
SMALL = {"methods": ["pii-tuned", "pii-literal", "deepdream"], "peers": ["deepdream"], "budgets": [1, 2],
         "full_budget": {"pii-literal": 3}, "archs": ["a", "b"], "seeds": [0], "classes": [9],
         "zoo_judges": ["a", "b"], "bootstrap_resamples": 200}


def _fake_job(calls: list, stop_after: int | None = None):
    """A stand-in for ``inversion_ttq.job``: a deterministic row per task; KeyboardInterrupt on call
    ``stop_after + 1`` (as Ctrl-C mid-run)."""
    def job(task):
        method, arch, seed, budget = task[:4]
        if stop_after is not None and len(calls) == stop_after:
            raise KeyboardInterrupt
        calls.append((method, arch, seed, budget))
        flags = [int(budget >= 2)]
        return {"method": method, "arch": arch, "seed": seed, "budget": budget, "status": "ok", "steps": budget,
                "cpu_s": budget * (3.0 if method == "pii-literal" else 1.0), "wall_s": 0.0,
                "evaluator_correct": flags, "zoo_correct": {"a" if arch == "b" else "b": flags}, "own_correct": flags}
    return job


def _config(ttq) -> dict:
    return {**ttq.SMOKE, **SMALL}


def test_a_stopped_run_keeps_every_finished_run_and_resumes_from_them(tmp_path, monkeypatch):
    import inversion_ttq as ttq

    config, plan = _config(ttq), ttq.jobs(_config(ttq))
    assert len(plan) == 14
    full_calls: list = []
    monkeypatch.setattr(ttq, "job", _fake_job(full_calls))
    whole = ttq.run(config, tmp_path / "whole.json", smoke=True)["time_to_quality"]
    assert whole["complete"] and whole["runs_done"] == whole["runs_total"] == 14
    assert [tuple(r[k] for k in ("method", "arch", "seed", "budget")) for r in whole["runs"]] == plan
    assert Path(whole["plot"]).is_file()

    out = tmp_path / "stopped" / "inversion.json"
    out.parent.mkdir()
    out.write_text(json.dumps({"benchmark": "inversion", "schema": 2, "methods": {"kept": 1}}))
    calls: list = []
    monkeypatch.setattr(ttq, "job", _fake_job(calls, stop_after=4))
    with pytest.raises(KeyboardInterrupt):
        ttq.run(config, out, smoke=True)
    saved = json.loads(out.read_text())
    block = saved["time_to_quality"]
    assert saved["methods"] == {"kept": 1}
    assert block["complete"] is False and (block["runs_done"], block["runs_total"]) == (4, 14)
    assert block["runs"] == whole["runs"][:4]  # exactly the runs that finished, nothing of the one in flight
    # the summary covers only what is there: pii-tuned (4 runs), none yet of pii-literal or the peer
    assert set(block["curves"]) == {"pii-tuned"} and block["best_peer"] is None
    assert block["ratio_to_best_peer"] is None and "plot" not in block
    assert not (out.parent / "inversion" / "time_to_quality.png").exists()  # the plot waits for the end

    calls.clear()
    monkeypatch.setattr(ttq, "job", _fake_job(calls))
    again = ttq.run(config, out, smoke=True)["time_to_quality"]
    assert calls == plan[4:]  # the 4 saved runs are reused, not rerun
    assert again["complete"] and again["runs"] == whole["runs"]
    for key in ("curves", "methods", "best_peer", "ratio_to_best_peer", "targets"):
        assert again[key] == whole[key]
    assert Path(again["plot"]).is_file()


def test_methods_runs_only_those_and_keeps_the_others_from_the_file(tmp_path, monkeypatch):
    import inversion_ttq as ttq

    config, out = _config(ttq), tmp_path / "inversion.json"
    calls: list = []
    monkeypatch.setattr(ttq, "job", _fake_job(calls))
    first = ttq.run(config, out, smoke=True, methods=["deepdream", "pii-tuned"])["time_to_quality"]
    assert {c[0] for c in calls} == {"deepdream", "pii-tuned"} and len(calls) == 8
    assert first["config"] == config  # the file keeps the full, pre-registered config
    assert not first["complete"] and first["runs_done"] == 8
    assert [r["method"] for r in first["runs"]] == ["pii-tuned"] * 4 + ["deepdream"] * 4  # jobs() order
    assert first["best_peer"] == "deepdream" and "pii-literal" not in first["methods"]

    calls.clear()
    last = ttq.run(config, out, smoke=True, methods=["pii-literal"])["time_to_quality"]
    assert calls == [j for j in ttq.jobs(config) if j[0] == "pii-literal"]  # the others come from the file
    assert last["complete"] and last["runs_done"] == 14 and "plot" in last
    assert [r for r in last["runs"] if r["method"] != "pii-literal"] == first["runs"]


def test_methods_names_an_unknown_method_in_one_line(tmp_path, capsys):
    import inversion_ttq as ttq

    with pytest.raises(SystemExit) as exc:
        ttq.main(["--time-to-quality", "--smoke", "--out", str(tmp_path / "x.json"), "--methods", "pii-fast"])
    assert exc.value.code == 2
    assert "unknown method pii-fast; choose from pii-tuned" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_the_runner_yields_each_result_as_its_job_finishes():
    from common import Runner

    seen = []
    with Runner(lambda j: seen.append(j) or j * j, 1) as runner:
        it = runner.imap_unordered([3, 1, 2])
        assert next(it) == (3, 9) and seen == [3]  # one job at a time: the caller can save before the next
        assert list(it) == [(1, 1), (2, 4)]


@pytest.mark.slow
def test_the_pool_runner_pairs_each_result_with_its_job():
    from common import Runner

    with Runner(abs, 2) as runner:  # two spawned workers: results come in order of completion
        got = list(runner.imap_unordered([-3, 1, -2]))
    assert sorted(got) == [(-3, 3), (-2, 2), (1, 1)]
