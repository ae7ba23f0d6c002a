import dataclasses
import math
import os
import signal

import pytest
import torch

from genlens.errors import GenlensError
from genlens.training import TrainConfig, read_checkpoint_state, train

CONFIG = TrainConfig(total_steps=20, batch_size=8, device="cpu", seed=11, checkpoint_every=4)
RUN = {"lr": 1e-2, "arch": "mlp-16"}


def _train(tiny, run_dir=None, *, parts=None, loss_fn=None, config=CONFIG, run_config=RUN, **kw):
    parts = parts or tiny.parts()
    history = train(model=parts.model, optimizer=parts.optimizer, loss_fn=loss_fn or tiny.loss,
                    data=tiny.data(), config=config, scheduler=parts.scheduler, ema=parts.ema,
                    run_dir=run_dir, run_config=run_config, **kw)
    return parts, history


@pytest.fixture(scope="module")
def reference(tiny, tmp_path_factory):
    """20 uninterrupted steps (with checkpoints, so saving is part of the timeline it is compared to)."""
    return _train(tiny, tmp_path_factory.mktemp("reference"))


def _assert_same_run(tiny, reference, parts, history):
    ref_parts, ref_history = reference
    assert [r["step"] for r in history] == list(range(1, 21))
    assert [r["loss"] for r in history] == [r["loss"] for r in ref_history]
    assert [r["lr"] for r in history] == [r["lr"] for r in ref_history]
    tiny.assert_same_state(parts.model.state_dict(), ref_parts.model.state_dict())
    tiny.assert_same_state(parts.ema.ema_model.state_dict(), ref_parts.ema.ema_model.state_dict())
    ref_opt = ref_parts.optimizer.state_dict()["state"]
    for i, s in parts.optimizer.state_dict()["state"].items():
        tiny.assert_same_state(s, ref_opt[i])


def test_history_records(reference):
    _, history = reference
    assert set(history[0]) == {"step", "loss", "lr", "images_per_s", "grad_norm"}
    assert history[0]["lr"] == pytest.approx(1e-2 / 3)  # first warm-up step
    assert history[-1]["lr"] < history[3]["lr"] == pytest.approx(1e-2)


def test_stop_and_resume_is_exact(tiny, reference, tmp_path):
    _, first = _train(tiny, tmp_path, stop_at_step=10)
    assert read_checkpoint_state(tmp_path)["step"] == 10
    parts, rest = _train(tiny, tmp_path, resume=True)  # fresh objects, as after a restart
    _assert_same_run(tiny, reference, parts, first + rest)


def test_ctrl_c_finishes_the_step_saves_and_resumes_exactly(tiny, reference, tmp_path):
    calls = []

    def loss_with_sigint(model, batch):
        calls.append(1)
        if len(calls) == 7:
            os.kill(os.getpid(), signal.SIGINT)
        return tiny.loss(model, batch)

    seen = []
    with pytest.raises(KeyboardInterrupt):
        _train(tiny, tmp_path, loss_fn=loss_with_sigint, callback=seen.append)
    assert read_checkpoint_state(tmp_path)["step"] == 7
    parts, rest = _train(tiny, tmp_path, resume=True)
    _assert_same_run(tiny, reference, parts, seen + rest)


def test_interrupt_between_steps_saves_mid_step_does_not(tiny, reference, tmp_path):
    def stop_after_6(record):
        if record["step"] == 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(tiny, tmp_path / "a", callback=stop_after_6)
    assert read_checkpoint_state(tmp_path / "a")["step"] == 6

    calls = []

    def interrupted_loss(model, batch):
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt  # inside step 7: weights may be half-updated, so no save
        return tiny.loss(model, batch)

    with pytest.raises(KeyboardInterrupt):
        _train(tiny, tmp_path / "b", loss_fn=interrupted_loss)
    assert read_checkpoint_state(tmp_path / "b")["step"] == 4  # the last periodic checkpoint
    parts, rest = _train(tiny, tmp_path / "b", resume=True)
    assert [r["step"] for r in rest] == list(range(5, 21))
    _assert_same_run(tiny, reference, parts, reference[1][:4] + rest)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny, tmp_path):
    calls = []

    def nan_at_step_7(model, batch):
        calls.append(1)
        loss = tiny.loss(model, batch)
        return loss * float("nan") if len(calls) == 7 else loss

    parts = tiny.parts()
    with pytest.raises(GenlensError, match=r"loss is nan at step 7.*last \(step 4\) is kept"):
        _train(tiny, tmp_path, parts=parts, loss_fn=nan_at_step_7)
    assert read_checkpoint_state(tmp_path)["step"] == 4
    assert all(torch.isfinite(p).all() for p in parts.model.parameters())


def test_resume_refuses_a_different_config(tiny, tmp_path):
    _train(tiny, tmp_path, stop_at_step=2)
    with pytest.raises(GenlensError) as err:
        _train(tiny, tmp_path, resume=True, run_config={"lr": 2e-2, "arch": "mlp-32"},
               config=dataclasses.replace(CONFIG, batch_size=4, checkpoint_every=1))
    msg = str(err.value)
    assert "run.lr (0.01 in checkpoint vs 0.02 now)" in msg
    assert "run.arch ('mlp-16' in checkpoint vs 'mlp-32' now)" in msg
    assert "train.batch_size (8 in checkpoint vs 4 now)" in msg
    assert "checkpoint_every" not in msg  # run-control fields may change between calls
    with pytest.raises(GenlensError, match="resume=True"):
        _train(tiny, tmp_path)


def test_bf16_runs_and_restores_forward(tiny):
    parts, history = _train(tiny, config=dataclasses.replace(CONFIG, total_steps=3, mixed_precision="bf16"))
    assert all(math.isfinite(r["loss"]) for r in history)
    assert parts.model(torch.randn(4, 6)).dtype == torch.float32
    assert "forward" not in vars(parts.model)  # accelerate's autocast wrapper was removed


def test_bad_config_is_rejected():
    with pytest.raises(GenlensError, match="mixed_precision"):
        TrainConfig(total_steps=1, batch_size=1, mixed_precision="fp8")


def test_dict_data_and_non_scalar_loss(tiny):
    x, y = tiny.data()
    parts = tiny.parts()
    config = dataclasses.replace(CONFIG, total_steps=2)

    def loss(model, batch):
        return torch.nn.functional.mse_loss(model(batch["x"]), batch["y"])

    history = train(model=parts.model, optimizer=parts.optimizer, loss_fn=loss, data={"x": x, "y": y},
                    config=config)
    assert [r["step"] for r in history] == [1, 2]
    with pytest.raises(GenlensError, match="scalar"):
        train(model=parts.model, optimizer=parts.optimizer, loss_fn=lambda m, b: m(b["x"]),
              data={"x": x, "y": y}, config=config)
