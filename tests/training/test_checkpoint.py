import json
import os

import pytest
import torch
from torch import nn

from genlens.errors import GenlensError
from genlens.training import (
    capture_rng_state,
    check_same_config,
    find_checkpoint,
    load_checkpoint,
    read_checkpoint_state,
    save_checkpoint,
)
from genlens.training.checkpoint import OPTIM_FILE
from genlens.utils.io import atomic_write


def _trained(tiny, steps: int = 3):
    parts = tiny.parts()
    x, y = tiny.data()
    for _ in range(steps):
        tiny.loss(parts.model.train(), (x[:8], y[:8])).backward()
        parts.optimizer.step()
        parts.scheduler.step()
        parts.optimizer.zero_grad()
        parts.ema.update(parts.model)
    return parts


def _save(run_dir, parts, step=3, **kw):
    return save_checkpoint(run_dir, step=step, model=parts.model, optimizer=parts.optimizer,
                           scheduler=parts.scheduler, ema=parts.ema, config={"lr": 0.01, "arch": "mlp"}, **kw)


def test_round_trip(tiny, tmp_path):
    parts = _trained(tiny)
    rng = capture_rng_state()
    path = _save(tmp_path, parts, state={"rng": [rng], "epoch": 2})
    assert sorted(os.listdir(path)) == [
        "config.json", "ema.safetensors", "model.safetensors", "optimizer.pt", "state.json"]
    assert json.loads((path / "config.json").read_text()) == {"arch": "mlp", "lr": 0.01}
    saved = torch.load(path / OPTIM_FILE, weights_only=True)  # the only way we ever read it
    assert set(saved) == {"optimizer", "scheduler"}

    fresh = tiny.parts(seed=1)
    state = load_checkpoint(tmp_path, model=fresh.model, optimizer=fresh.optimizer, scheduler=fresh.scheduler,
                            ema=fresh.ema, config={"arch": "mlp", "lr": 0.01})
    assert state["step"] == 3 and state["epoch"] == 2 and state["rng"] == [rng]
    tiny.assert_same_state(fresh.model.state_dict(), parts.model.state_dict())
    tiny.assert_same_state(fresh.ema.ema_model.state_dict(), parts.ema.ema_model.state_dict())
    assert fresh.ema.num_updates == 3
    assert fresh.scheduler.state_dict() == parts.scheduler.state_dict()
    a, b = fresh.optimizer.state_dict(), parts.optimizer.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for i in b["state"]:
        tiny.assert_same_state(a["state"][i], b["state"][i])


def test_tied_weights_survive(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 5, bias=False))
    model[1].weight = model[0].weight
    save_checkpoint(tmp_path, step=1, model=model)
    torch.manual_seed(1)
    other = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 5, bias=False))
    other[1].weight = other[0].weight
    load_checkpoint(tmp_path, model=other)
    assert torch.equal(other[0].weight, model[0].weight) and other[1].weight is other[0].weight


def test_config_mismatch_names_every_differing_field(tiny, tmp_path):
    parts = _trained(tiny, steps=1)
    _save(tmp_path, parts)
    with pytest.raises(GenlensError) as err:
        load_checkpoint(tmp_path, model=tiny.parts().model, config={"lr": 0.002, "arch": "b"})
    msg = str(err.value)
    assert "lr (0.01 in checkpoint vs 0.002 now)" in msg
    assert "arch ('mlp' in checkpoint vs 'b' now)" in msg
    assert "new run dir" in msg and "\n" not in msg


def test_config_diff_nested_missing_and_ignored():
    stored = {"train": {"seed": 1, "steps": 10}, "run": {"width": 8}}
    check_same_config(stored, {"train": {"seed": 1, "steps": 10}, "run": {"width": 8}})
    check_same_config(stored, {"train": {"seed": 2, "steps": 10}, "run": {"width": 8}}, ignore=["train.seed"])
    with pytest.raises(GenlensError) as err:
        check_same_config(stored, {"train": {"seed": 1, "steps": 10}, "run": {"depth": 2, "width": 8}})
    assert "run.depth (<missing> in checkpoint vs 2 now)" in str(err.value)
    assert "seed" not in str(err.value)


def test_atomic_write_leaves_nothing_when_the_writer_fails(tmp_path):
    target = tmp_path / "file.json"
    target.write_text("old")

    def writer(path):
        path.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, writer)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["file.json"]


def test_failed_save_keeps_the_previous_checkpoint(tiny, tmp_path, monkeypatch):
    parts = _trained(tiny, steps=1)
    _save(tmp_path, parts, step=1)
    before = (tmp_path / "last" / "model.safetensors").read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)  # fails after the weights were already written
    with pytest.raises(OSError):
        _save(tmp_path, _trained(tiny, steps=2), step=2, keep_step=True)
    assert sorted(os.listdir(tmp_path)) == ["last"]
    assert read_checkpoint_state(tmp_path)["step"] == 1
    assert (tmp_path / "last" / "model.safetensors").read_bytes() == before


def test_unsafe_optimizer_state_is_refused_before_writing(tiny, tmp_path):
    class Odd:
        def state_dict(self):
            return {"fn": print}

    with pytest.raises(GenlensError, match=r"optimizer.pt.scheduler.fn"):
        save_checkpoint(tmp_path, step=1, model=tiny.parts().model, scheduler=Odd())
    assert find_checkpoint(tmp_path) is None and os.listdir(tmp_path) == []


def test_crash_between_renames_and_stale_temps_are_recovered(tiny, tmp_path):
    parts = _trained(tiny, steps=1)
    _save(tmp_path, parts, step=1)
    # a crash after "last" was moved aside but before the new one took its place
    os.rename(tmp_path / "last", tmp_path / ".last.old")
    (tmp_path / ".tmp-ckpt-dead").mkdir()
    (tmp_path / ".tmp-ckpt-dead" / "model.safetensors").write_bytes(b"partial")
    assert find_checkpoint(tmp_path) == tmp_path / ".last.old"
    assert load_checkpoint(tmp_path, model=tiny.parts().model)["step"] == 1
    _save(tmp_path, parts, step=2)
    assert sorted(os.listdir(tmp_path)) == ["last"]
    assert read_checkpoint_state(tmp_path)["step"] == 2


def test_step_folders_are_kept(tiny, tmp_path):
    parts = _trained(tiny, steps=1)
    _save(tmp_path, parts, step=5, keep_step=True)
    _save(tmp_path, parts, step=6)
    assert sorted(os.listdir(tmp_path)) == ["last", "step-000005"]
    assert read_checkpoint_state(tmp_path / "step-000005")["step"] == 5
    assert read_checkpoint_state(tmp_path)["step"] == 6


def test_missing_checkpoint_says_where_it_looked(tmp_path):
    with pytest.raises(GenlensError, match="no checkpoint.*expected"):
        load_checkpoint(tmp_path, model=nn.Linear(1, 1))
