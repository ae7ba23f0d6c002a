"""Tiny training runs: every arch, exact resume, NaN stop, config mismatch on resume."""
from __future__ import annotations

import math

import pytest
import torch

import genlens.gan.train as gan_train
from genlens.errors import GenlensError
from genlens.gan import ARCHS, GanConfig, GanTrainConfig, train_gan


@pytest.mark.parametrize("arch", ARCHS)
def test_twenty_steps_no_nan(arch, images, tiny_train):
    seen = []
    run = train_gan(model_config=GanConfig.tiny(arch), config=tiny_train(20), data=images, held_out=images[:8],
                    callback=seen.append)
    assert run.step == 20 and len(seen) == 20
    for r in run.history:
        assert all(math.isfinite(r[k]) for k in ("loss_d", "loss_g", "d_real", "d_fake"))
    assert ("align" in run.history[0]) == (arch == "eqgan-sa")
    assert "r1" in run.history[0] and "r1" not in run.history[1]  # lazy R1 every 2 steps
    assert math.isfinite(run.history[-1]["di"])
    assert all(torch.isfinite(p).all() for p in run.G_ema.parameters())


def _state(run):
    return {**{f"pair.{k}": v for k, v in run.pair.state_dict().items()},
            **{f"ema.{k}": v for k, v in run.G_ema.state_dict().items()}}


def test_exact_resume(images, tmp_path, tiny_train):
    cfg, tc = GanConfig.tiny("eqgan-sa"), tiny_train(6)
    full = train_gan(model_config=cfg, config=tc, data=images, run_dir=tmp_path / "a")
    first = train_gan(model_config=cfg, config=tc, data=images, run_dir=tmp_path / "b", stop_at_step=3)
    assert first.step == 3
    rest = train_gan(model_config=cfg, config=tc, data=images, run_dir=tmp_path / "b", resume=True)
    assert rest.step == 6 and [r["step"] for r in rest.history] == [4, 5, 6]
    for a, b in zip(full.history, first.history + rest.history, strict=True):
        assert a["loss_d"] == b["loss_d"] and a["loss_g"] == b["loss_g"]
    sa, sb = _state(full), _state(rest)
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_extend_a_finished_run_to_more_steps(images, tmp_path, tiny_train):
    """Constant learning rates: a 3-step run resumed with total_steps=6 equals a 6-step run."""
    cfg = GanConfig.tiny("eqgan-sa")
    full = train_gan(model_config=cfg, config=tiny_train(6), data=images, run_dir=tmp_path / "a")
    short = train_gan(model_config=cfg, config=tiny_train(3), data=images, run_dir=tmp_path / "b")
    longer = train_gan(model_config=cfg, config=tiny_train(6), data=images, run_dir=tmp_path / "b", resume=True)
    assert short.step == 3 and [r["step"] for r in longer.history] == [4, 5, 6]
    for a, b in zip(full.history, short.history + longer.history, strict=True):
        assert a["loss_d"] == b["loss_d"] and a["loss_g"] == b["loss_g"]
    sa, sb = _state(full), _state(longer)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    with pytest.raises(GenlensError, match=r"already at step 6, past the 4 steps asked for; pass --steps 6"):
        train_gan(model_config=cfg, config=tiny_train(4), data=images, run_dir=tmp_path / "b", resume=True)


def test_resume_with_other_arch_names_the_field(images, tmp_path, tiny_train):
    tc = tiny_train(2)
    train_gan(model_config=GanConfig.tiny("stylegan2"), config=tc, data=images, run_dir=tmp_path)
    with pytest.raises(GenlensError) as err:
        train_gan(model_config=GanConfig.tiny("eqgan-sa"), config=tc, data=images, run_dir=tmp_path, resume=True)
    msg = str(err.value)
    assert "\n" not in msg and "model.arch ('stylegan2' in checkpoint vs 'eqgan-sa' now)" in msg
    with pytest.raises(GenlensError, match="already holds a checkpoint"):
        train_gan(model_config=GanConfig.tiny("stylegan2"), config=tc, data=images, run_dir=tmp_path)


def test_nan_stops_and_keeps_last_checkpoint(images, tmp_path, monkeypatch, tiny_train):
    calls = {"n": 0}
    real_d_loss = gan_train.d_loss

    def flaky(r, f):
        calls["n"] += 1
        out = real_d_loss(r, f)
        return out * float("nan") if calls["n"] == 3 else out

    monkeypatch.setattr(gan_train, "d_loss", flaky)
    tc = tiny_train(5, checkpoint_every=2)
    with pytest.raises(GenlensError, match=r"D loss is nan at step 3; .*last \(step 2\) is kept"):
        train_gan(model_config=GanConfig.tiny("stylegan2"), config=tc, data=images, run_dir=tmp_path)
    from genlens.training import read_checkpoint_state

    assert read_checkpoint_state(tmp_path)["step"] == 2


def test_bad_data_shape(tiny_train):
    with pytest.raises(GenlensError, match="pad Fashion-MNIST 28 -> 32"):
        train_gan(model_config=GanConfig.tiny(), config=tiny_train(1), data=torch.zeros(8, 1, 28, 28))


def test_checkpoint_with_removed_options_resumes_only_at_their_shipped_value(images, tmp_path, tiny_train):
    """Run dirs written while heat_sigmas & co. were config fields resume when they hold the shipped value;
    another value names the option that left."""
    import json

    train_gan(model_config=GanConfig.tiny("eqgan-sa"), config=tiny_train(2), data=images, run_dir=tmp_path)
    state_file = tmp_path / "last" / "state.json"
    state = json.loads(state_file.read_text())
    state["config"]["model"] |= {"heat_sigmas": "narrow", "heat_encoder": "mean", "heat_features": 32,
                                 "sel_placement": "block"}  # as the genlens before issue 28 wrote it
    state["config"]["train"]["align_cam"] = "g-loss"
    del state["config"]["parts"]  # recorded since issue 28: older runs used the shipped parts
    for key in ("class_names", "max_items"):  # layout GAN fields since issue 27
        del state["config"]["model"][key]
    state_file.write_text(json.dumps(state))
    run = train_gan(model_config=GanConfig.tiny("eqgan-sa"), config=tiny_train(3), data=images, run_dir=tmp_path,
                    resume=True)
    assert run.step == 3
    state = json.loads(state_file.read_text())
    state["config"]["model"]["sel_placement"] = "layer"
    state_file.write_text(json.dumps(state))
    with pytest.raises(GenlensError, match="'sel_placement' = 'layer', an option genlens no longer has"):
        train_gan(model_config=GanConfig.tiny("eqgan-sa"), config=tiny_train(4), data=images, run_dir=tmp_path,
                  resume=True)


@pytest.mark.parametrize("name", ["fmnist-gan", "fmnist-sel-only", "fmnist-eqgan"])
def test_shipped_config_files_load_and_round_trip(name, shipped_dir):
    """The shipped config.json (never rewritten) reads through config_io, and writing it back gives the same."""
    from genlens.utils.config_io import read_json_file, to_dict

    data = read_json_file(shipped_dir(name) / "config.json")
    model, train = GanConfig.from_dict(data["gan"]), GanTrainConfig.from_dict(data["train"])
    layout_fields = {"class_names": [], "max_items": 0}  # added by the layout GAN (issue 27), unused here
    assert to_dict(model) == data["gan"] | layout_fields
    assert train.identity() == data["train"] | {"hflip": False}  # --hflip came later; the shipped runs never flipped
    with pytest.raises(GenlensError, match="'align_cam' = 'real', an option genlens no longer has"):
        GanTrainConfig.from_dict(data["train"] | {"align_cam": "real"})


def test_resume_with_other_injected_parts_is_refused(images, tmp_path, tiny_train):
    from functools import partial

    from genlens.gan import Generator, sample_official_heatmaps

    train_gan(model_config=GanConfig.tiny("eqgan-sa"), config=tiny_train(2), data=images, run_dir=tmp_path)
    wider = partial(Generator, heat_sampler=sample_official_heatmaps)
    with pytest.raises(GenlensError, match=r"parts.heat_sampler \('sample_heatmaps' in checkpoint vs "
                                           r"'sample_official_heatmaps' now\)"):
        train_gan(model_config=GanConfig.tiny("eqgan-sa"), config=tiny_train(3), data=images, run_dir=tmp_path,
                  resume=True, make_generator=wider)
