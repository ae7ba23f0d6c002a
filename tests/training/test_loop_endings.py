"""Runs that end well: SIGTERM saves like Ctrl-C, a corrupt checkpoint falls back to an intact one (and
says so), a finished run stays untouched, and every checkpoint keeps the whole run's history."""
from __future__ import annotations

import dataclasses
import os
import signal

import pytest

from genlens.errors import GenlensError
from genlens.training import TrainConfig, read_checkpoint_state, train
from genlens.training.checkpoint import checkpoint_problem, find_intact_checkpoint
from genlens.training.loop import RunFinished

CONFIG = TrainConfig(total_steps=12, batch_size=8, device="cpu", seed=3, checkpoint_every=4, keep_every=4)


def _train(tiny, run_dir, **kw):
    parts = tiny.parts()
    history = train(model=parts.model, optimizer=parts.optimizer, loss_fn=kw.pop("loss_fn", tiny.loss),
                    data=tiny.data(), config=kw.pop("config", CONFIG), scheduler=parts.scheduler, ema=parts.ema,
                    run_dir=run_dir, run_config={"arch": "mlp"}, **kw)
    return parts, history


@pytest.fixture(scope="module")
def reference(tiny, tmp_path_factory):
    return _train(tiny, tmp_path_factory.mktemp("ref"))


def test_sigterm_saves_at_the_step_boundary_and_resumes_exactly(tiny, reference, tmp_path):
    before = signal.getsignal(signal.SIGTERM)  # whatever an earlier in-process caller left installed
    calls = []

    def loss_with_sigterm(model, batch):
        calls.append(1)
        if len(calls) == 6:
            os.kill(os.getpid(), signal.SIGTERM)
        return tiny.loss(model, batch)

    seen = []
    with pytest.raises(KeyboardInterrupt):
        _train(tiny, tmp_path, loss_fn=loss_with_sigterm, callback=seen.append)
    assert read_checkpoint_state(tmp_path)["step"] == 6
    parts, rest = _train(tiny, tmp_path, resume=True)
    assert [r["loss"] for r in seen + rest] == [r["loss"] for r in reference[1]]
    tiny.assert_same_state(parts.model.state_dict(), reference[0].model.state_dict())
    assert signal.getsignal(signal.SIGTERM) == before  # handler restored


def test_corrupt_last_falls_back_to_the_newest_intact_and_says_so(tiny, reference, tmp_path):
    _train(tiny, tmp_path, stop_at_step=10)  # last = step 10, kept: step-000004, step-000008
    weights = tmp_path / "last" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated
    assert "sha256" in checkpoint_problem(tmp_path / "last")
    found, notes = find_intact_checkpoint(tmp_path)
    assert found.name == "step-000008" and len(notes) == 1 and "resuming from step-000008" in notes[0]
    seen = []
    parts, rest = _train(tiny, tmp_path, resume=True, callback=seen.append)
    assert "note" in seen[0] and "last" in seen[0]["note"]
    assert [r["step"] for r in rest] == [9, 10, 11, 12]
    tiny.assert_same_state(parts.model.state_dict(), reference[0].model.state_dict())


def test_no_intact_checkpoint_is_one_line(tiny, tmp_path):
    _train(tiny, tmp_path, stop_at_step=2, config=dataclasses.replace(CONFIG, keep_every=0))
    (tmp_path / "last" / "state.json").write_text("{not json")
    with pytest.raises(GenlensError, match="no intact checkpoint.*not valid JSON"):
        _train(tiny, tmp_path, resume=True)


def test_resuming_a_finished_run_changes_nothing(tiny, reference, tmp_path):
    _train(tiny, tmp_path)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    with pytest.raises(RunFinished, match="already finished \\(step 12 of 12\\)") as err:
        _train(tiny, tmp_path, resume=True)
    assert err.value.exit_code == 0
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_history_survives_resumes(tiny, reference, tmp_path):
    _train(tiny, tmp_path, stop_at_step=5)
    _train(tiny, tmp_path, resume=True, stop_at_step=9)
    _train(tiny, tmp_path, resume=True)
    rows = read_checkpoint_state(tmp_path)["history"]
    assert [r[0] for r in rows] == list(range(1, 13))
    assert [r[1] for r in rows] == [r["loss"] for r in reference[1]]
