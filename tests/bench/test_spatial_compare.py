"""bench/spatial_train.py (the pre-registered training runs, resumable, with CPU-hours) and bench/spatial_compare.py
(EqGAN-SA against SEL-only, the baseline and the floor): golden slope differences and verdicts, the plan, the
estimate's arithmetic, and a smoke training of tiny runs that the quick comparison then scores."""
from __future__ import annotations

import json
import math

import pytest
import torch

from genlens.data.scenes import SceneConfig, generate_scenes
from genlens.errors import GenlensError
from genlens.metrics.editing import EditRecord
from genlens.metrics.locator import LocatorConfig, save_locator
from genlens.metrics.locator_train import train_locator

SMOKE_RUNS = ["scenes-ddpm-layout", "scenes-gan-s0", "scenes-sel-only-s0", "scenes-eqgan-s0"]


def records(moves, gain, lost=()):
    nan = math.nan
    return [EditRecord(m, (nan, nan) if i in lost else (gain * m[0], gain * m[1]), 0.0, 1.0, nan, 1.0, 1.0, 1.0)
            for i, m in enumerate(moves)]


def test_slope_difference_is_paired_and_golden(bench_script):
    c = bench_script("spatial_compare")
    g = torch.Generator().manual_seed(0)
    moves = [tuple(float(v) for v in torch.randn(2, generator=g)) for _ in range(30)]
    follows, deaf = [records(moves, 1.0)], [records(moves, 0.0, lost={3})]
    d = c.slope_difference(follows, deaf, resamples=100)
    assert d["paired"] and d["value"] == pytest.approx(1.0) and d["excludes_0"]
    assert d["low"] == pytest.approx(1.0) and d["high"] == pytest.approx(1.0)  # exact fits: every draw gives 1
    back = c.slope_difference(deaf, follows, resamples=100)
    assert back["value"] == pytest.approx(-1.0) and back["excludes_0"]
    other = c.slope_difference(follows, [records([(m[1], m[0]) for m in moves], 0.5)], resamples=100)
    assert not other["paired"] and other["value"] == pytest.approx(0.5)
    assert c.steer_verdict([d, d]) == c.STEERS
    assert c.steer_verdict([d, back]) != c.STEERS  # below 0 on one seed: SEL-only follows more there
    assert c.steer_verdict([d, {**d, "low": -0.1}]) != c.STEERS and c.steer_verdict([]) != c.STEERS


def test_parse_runs(bench_script, tmp_path):
    c = bench_script("spatial_compare")
    runs = c.parse_runs([f"eqgan-sa:{tmp_path}/a", f"sel-only:{tmp_path}/b", f"eqgan-sa:{tmp_path}/c"])
    assert [p.name for p in runs["eqgan-sa"]] == ["a", "c"] and runs["baseline"] == []
    with pytest.raises(GenlensError, match="ROLE:RUN_DIR"):
        c.parse_runs(["eqgan:x"])
    with pytest.raises(GenlensError, match="at least one --sa eqgan-sa"):
        c.parse_runs([f"sel-only:{tmp_path}"])
    assert c.model_folder(tmp_path) == tmp_path


def test_plan_is_the_issue_budget(bench_script, tmp_path, capsys):
    t = bench_script("spatial_train")
    gans = [r for r in t.PLAN if r.kind == "gan"]
    assert len(gans) == 6 and all(r.kimg == 80 and r.batch == 64 for r in gans)
    assert sorted((r.role, r.seed) for r in gans) == sorted((role, s) for role in ("baseline", "sel-only", "eqgan-sa")
                                                           for s in (0, 1))
    ddpm = next(r for r in t.PLAN if r.kind == "diffusion")
    cmd = " ".join(ddpm.command(tmp_path.relative_to(tmp_path)))
    assert cmd.startswith("diffusion train --data fashion-scenes --cond layout --size small --steps 30000 --batch 64 "
                          "--checkpoint-every 1000 --out runs/diffusion/scenes-ddpm-layout") and "--resume" in cmd
    rows = t.main(["--list", "--root", str(tmp_path), "--out", str(tmp_path / "none.json")])
    assert [r["steps_done"] for r in rows] == [0] * len(t.PLAN) and "scenes-eqgan-s1" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="unknown run"):
        t.main(["--list", "no-such-run"])


def test_gpu_seeds_add_seed_2_beside_the_cpu_plan(bench_script, tmp_path, capsys):
    t = bench_script("spatial_train")
    assert t.GPU_TRAINING_SEEDS == (0, 1, 2) and {r.seed for r in t.PLAN if r.kind == "gan"} == {0, 1}
    assert sorted((r.role, r.seed) for r in t.GPU_RUNS) == [("baseline", 2), ("eqgan-sa", 2), ("sel-only", 2)]
    s2 = next(r for r in t.GPU_RUNS if r.name == "scenes-eqgan-s2")
    s0 = next(r for r in t.PLAN if r.name == "scenes-eqgan-s0")
    assert " ".join(s2.command(tmp_path)) == " ".join(s0.command(tmp_path)).replace("s0", "s2").replace(
        "--seed 0", "--seed 2")  # the plan's command, another seed and folder
    out = str(tmp_path / "none.json")
    assert [r["name"] for r in t.main(["--list", "--root", str(tmp_path), "--out", out])] == [r.name for r in t.PLAN]
    rows = t.main(["--list", "--gpu-seeds", "--root", str(tmp_path), "--out", out])
    assert [r["name"] for r in rows] == [r.name for r in (*t.PLAN, *t.GPU_RUNS)]
    assert [r["name"] for r in t.main(["--list", "scenes-gan-s2", "--out", out])] == ["scenes-gan-s2"]
    assert "scenes-sel-only-s2" in capsys.readouterr().out


def test_estimate_extrapolates_cpu_seconds(bench_script, monkeypatch, tmp_path):
    t = bench_script("spatial_train")
    calls = []

    def fake(args, *, threads, quiet=False):
        steps = int(args[args.index("--steps") + 1])
        calls.append(steps)
        return {"exit": 0, "wall_s": 1.0, "cpu_s": 5.0 + 0.5 * steps}

    monkeypatch.setattr(t, "timed", fake)
    out = t.main(["--estimate", "scenes-eqgan-s0", "scenes-eqgan-s1", "--out", str(tmp_path / "est.json")])
    k1, k2 = t.ESTIMATE_STEPS
    assert calls == [k1, k2]  # the two seeds of one arch share one timing
    row = out["runs"]["scenes-eqgan-s1"]
    assert row["cpu_s_per_step"] == 0.5 and row["timed_as"] == "scenes-eqgan-s0"
    assert row["cpu_hours"] == round((5.0 + 0.5 * t.GAN_STEPS) / 3600, 3)
    assert json.loads((tmp_path / "est.json").read_text())["estimate"]["runs"].keys() == {"scenes-eqgan-s0",
                                                                                         "scenes-eqgan-s1"}


def test_a_child_stopped_by_sigint_is_recorded_as_interrupted(bench_script, monkeypatch, tmp_path):
    t = bench_script("spatial_train")
    monkeypatch.setattr(t, "timed", lambda args, *, threads, quiet=False: {"exit": 130, "wall_s": 2.0, "cpu_s": 3.0})
    with pytest.raises(SystemExit, match="scenes-gan-s0 interrupted at step 0; run the same command again"):
        t.main(["scenes-gan-s0", "scenes-gan-s1", "--root", str(tmp_path), "--out", str(tmp_path / "train.json")])
    runs = json.loads((tmp_path / "train.json").read_text())["runs"]
    assert list(runs) == ["scenes-gan-s0"]  # the driver stops: the next run is not started
    assert runs["scenes-gan-s0"]["segments"][0]["interrupted"] and runs["scenes-gan-s0"]["cpu_hours"] == round(3 / 3600, 4)


@pytest.fixture(scope="module")
def smoke_root(tmp_path_factory):
    from tests.conftest import load_script

    t = load_script("bench/spatial_train")
    root = tmp_path_factory.mktemp("smoke")
    t.main(["--smoke", "--root", str(root), "--out", str(root / "train.json"), *SMOKE_RUNS])
    return root


@pytest.mark.timeout(600)
def test_smoke_training_records_cpu_hours_and_resumes(bench_script, smoke_root, capsys):
    t = bench_script("spatial_train")
    out = smoke_root / "train.json"
    first = json.loads(out.read_text())
    assert set(first["runs"]) == set(SMOKE_RUNS) and first["smoke"] is True
    for entry in first["runs"].values():
        assert entry["finished"] and entry["cpu_hours"] > 0 and len(entry["segments"]) == 1
    assert (smoke_root / "runs/diffusion/scenes-ddpm-layout/config.json").is_file()
    t.main(["--smoke", "--root", str(smoke_root), "--out", str(out), *SMOKE_RUNS])  # all finished: nothing to do
    assert json.loads(out.read_text())["runs"] == first["runs"] and "finished" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="must not write the real result file"):
        t.main(["--smoke", "scenes-gan-s0"])


@pytest.fixture(scope="module")
def tiny_locator(fmnist_test, tmp_path_factory):
    scenes = generate_scenes(SceneConfig(split="test", count=64), fmnist_test)
    model = train_locator(LocatorConfig(width=8), scenes, steps=2, batch=8)
    return save_locator(tmp_path_factory.mktemp("loc") / "tiny", model, command="test", metrics={}, threshold=0.3)


@pytest.mark.timeout(600)
def test_quick_comparison_on_the_smoke_runs(bench_script, smoke_root, tiny_locator, tmp_path):
    bench = bench_script("spatial")
    out = tmp_path / "spatial.json"
    bench.main(["--quick", "--locator", str(tiny_locator), "--features", "pooled-pixels", "--generator",
                "analytic-follow", "--sa-plan", str(smoke_root), "--out", str(out)])
    comp = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict constant {c}"))[
        "eqgan_sa_comparison"]
    assert [r["role"] for r in comp["rows"]] == ["eqgan-sa", "sel-only", "baseline", "floor"]
    for row in comp["rows"]:
        assert set(bench_script("spatial_compare").TABLE_STATS) <= set(row) and row["fid_vs_test"] > 0
        assert (row["di"] is None) == (row["role"] == "floor")
    (diff,) = comp["slope_difference"]
    assert diff["paired"] and diff["edits"] == len(bench.SEEDS) * bench.QUICK["n"]
    assert comp["verdict"].startswith("the heatmap") and comp["table"].count("\n") == len(comp["rows"]) + 1


def test_plan_runs_pair_eqgan_and_sel_only_by_seed(bench_script, tmp_path):
    bench = bench_script("spatial")
    for name in ("scenes-eqgan-s1", "scenes-sel-only-s0", "scenes-sel-only-s1", "scenes-gan-s0"):
        (tmp_path / "runs/spatial" / name / "model").mkdir(parents=True)
        (tmp_path / "runs/spatial" / name / "model/config.json").write_text("{}")
    got = [s.replace(str(tmp_path) + "/", "") for s in bench.plan_runs(tmp_path)]
    assert got == ["baseline:runs/spatial/scenes-gan-s0", "sel-only:runs/spatial/scenes-sel-only-s1",
                   "eqgan-sa:runs/spatial/scenes-eqgan-s1"]  # seed 0 has no EqGAN-SA run: its SEL-only is left out
