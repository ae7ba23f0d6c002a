"""bench/audit.py below its smoke size: rows for planted and clean models, written after each model and each
sweep point so an interrupted run resumes where it stopped; a result file of another CONFIG is refused."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from genlens.errors import GenlensError


@pytest.fixture
def bench(bench_script):
    return bench_script("audit")


@pytest.fixture
def tiny(bench):
    return replace(bench.SMOKE, planted=bench.SMOKE.planted[:1], clean_seeds=(100,), plant_images=256,
                   plant_limit_batches=1, test_images=200, cleanse_steps=2, cleanse_images=10, pii_scale=0.01,
                   sweep=replace(bench.SMOKE.sweep, strengths=(0.0, 0.3), seeds=(0, 1), limit_batches=1),
                   sweep_test_images=200)


def test_config_is_preregistered(bench):
    cfg = bench.CONFIG
    assert len(cfg.planted) == 10 and len(cfg.clean_seeds) == 10
    assert len({j.target for j in cfg.planted}) == 10  # ten different targets
    assert {j.trigger for j in cfg.planted} == {"patch", "blend"}
    assert {j.size for j in cfg.planted if j.trigger == "patch"} == {3, 4, 5}
    assert len(cfg.sweep.seeds) >= 3
    ids = [i for i, _, _ in bench.jobs(cfg)]
    assert len(set(ids)) == 20


def test_confirmation_set_is_new_models_of_the_same_recipe(bench):
    """CONFIRM keeps every setting but the models: no fine-tuning seed, control seed or (seed, trigger, target)
    of CONFIG again, still ten different targets and both trigger kinds; --confirm runs its backdoor part only."""
    cfg, new = bench.CONFIG, bench.CONFIRM
    assert replace(new, planted=cfg.planted, clean_seeds=cfg.clean_seeds) == cfg
    assert not {j.seed for j in new.planted} & {j.seed for j in cfg.planted}
    assert not set(new.clean_seeds) & set(cfg.clean_seeds)
    assert len({j.target for j in new.planted}) == 10 and {j.trigger for j in new.planted} == {"patch", "blend"}
    with pytest.raises(SystemExit):
        bench.main(["--confirm", "--parts", "sweep"])


def test_backdoor_part_resumes_per_model(bench, tiny, tmp_path, fmnist_dir, monkeypatch):
    out = tmp_path / "audit.json"
    lines = []
    bench.run(tiny, out, ("backdoor",), smoke=True, fresh=False, log=lines.append)
    res = json.loads(out.read_text())
    assert res["config"] == json.loads(json.dumps(bench.asdict(tiny)))  # the pre-registered settings travel along
    part = res["backdoor"]
    assert [(r["id"], r["clean"]) for r in part["models"]] == [("planted-0", False), ("clean-0", True)]
    assert part["models"][0]["target"] == tiny.planted[0].target and part["models"][1]["target"] is None
    assert part["complete"] and res["sweep"] is None and len(lines) == 2
    for scale in ("l1", "log"):
        s = part["summary"][scale]
        assert s["backdoored"] == 1 and s["clean"] == 1
        assert s["backdoored_target_flagged"] == int(part["models"][0][f"correct_{scale}"])
    for r in part["models"]:
        assert (tmp_path / r["grid_png"]).is_file() and len(r["pii_trigger_success"]) == 10
    assert part["cpu_hours"] == pytest.approx(sum(r["cpu_seconds"] for r in part["models"]) / 3600)

    # interrupted after the first model: only the second one is computed again
    part["models"] = part["models"][:1]
    out.write_text(json.dumps(res))
    done = []
    real = bench.plant_and_audit
    monkeypatch.setattr(bench, "plant_and_audit", lambda *a, **k: done.append(a[3]) or real(*a, **k))
    bench.run(tiny, out, ("backdoor",), smoke=True, fresh=False, log=lambda m: None)
    assert len(done) == 1 and done[0].seed == tiny.clean_seeds[0]
    assert [r["id"] for r in json.loads(out.read_text())["backdoor"]["models"]] == ["planted-0", "clean-0"]

    with pytest.raises(GenlensError, match="another CONFIG"):
        bench.run(replace(tiny, rate=0.2), out, ("backdoor",), smoke=True, fresh=False, log=lambda m: None)


def test_sweep_part_resumes_per_point(bench, tiny, tmp_path, fmnist_dir, monkeypatch):
    out = tmp_path / "audit.json"
    calls = []
    real = bench.train_point
    monkeypatch.setattr(bench, "train_point", lambda *a, **k: calls.append((k["strength"], k["seed"])) or real(*a, **k))
    bench.run(tiny, out, ("sweep",), smoke=True, fresh=False, log=lambda m: None)
    res = json.loads(out.read_text())
    sw = res["sweep"]
    assert sw["complete"] and len(sw["runs"]) == 4 and res["backdoor"] is None
    assert set(sw["change_first_to_last"]) == set(res["class_names"])
    for rows in sw["summary"].values():
        assert all(r["n_seeds"] == 2 and r["ci"][0] <= r["mean"] + 1e-12 <= r["ci"][1] + 2e-12 for r in rows)
    assert res["cpu_hours"] == pytest.approx(sw["cpu_hours"])

    sw["runs"] = sw["runs"][:3]  # killed before the last point
    del sw["summary"]
    out.write_text(json.dumps(res))
    calls.clear()
    bench.run(tiny, out, ("sweep",), smoke=True, fresh=False, log=lambda m: None)
    assert calls == [(0.3, 1)]
    assert json.loads(out.read_text())["sweep"]["complete"]
