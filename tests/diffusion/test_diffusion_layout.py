"""Layout conditioning (Make-A-Scene style): the denoiser sees per-class blob channels beside x_t, the empty
layout is the null condition of classifier-free guidance, training takes scenes' ground-truth layouts and resumes
exactly, and old config files (no layout keys) still load."""
from __future__ import annotations

import json

import pytest
import torch

from genlens.data.layout import Layout, LayoutItem
from genlens.diffusion import Denoiser, DiffusionTrainConfig, GuidedDenoiser, UNetConfig, load_diffusion
from genlens.diffusion.layout import layout_channels
from genlens.diffusion.train import legacy_run_config, train_diffusion
from genlens.errors import GenlensError
from genlens.training import read_checkpoint_state
from genlens.utils.config_io import to_dict


def tiny_layout(**kw) -> UNetConfig:
    return UNetConfig.tiny("layout", num_classes=10, max_items=3, pad=0, **kw)


def test_layout_channels_are_extra_unet_inputs_and_the_empty_layout_is_the_null_condition():
    torch.manual_seed(0)
    m = Denoiser(tiny_layout()).eval()
    assert m.unet.config.in_channels == 1 + 10 and m.unet.config.out_channels == 1
    lay = layout_channels([Layout((LayoutItem(3, 0.3, 0.6),))], m.config).expand(2, -1, -1, -1)
    assert lay.shape == (2, 10, 32, 32) and lay[:, 3].max() > 0.9 and lay[:, :3].max() == 0
    x, t = torch.randn(2, 1, 32, 32), torch.tensor([10, 500])
    with torch.no_grad():
        dropped = m(x, t, lay, drop=torch.tensor([True, False]))
        empty = m(x, t, torch.zeros_like(lay))
        cond = m(x, t, lay)
    torch.testing.assert_close(dropped[0], empty[0])
    torch.testing.assert_close(dropped[1], cond[1])
    assert not torch.allclose(cond, empty)  # the layout reaches the output


def test_guidance_over_the_layout_is_eps_null_plus_s_times_the_difference():
    torch.manual_seed(1)
    m = Denoiser(tiny_layout()).eval()
    lay = layout_channels([Layout((LayoutItem(7, 0.7, 0.2),))] * 2, m.config)
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        guided = GuidedDenoiser(m, 3.0)(x, 400, lay)
        e_c, e_u = m(x, 400, lay), m(x, 400, torch.zeros_like(lay))
    torch.testing.assert_close(guided, e_u + 3.0 * (e_c - e_u), rtol=1e-4, atol=1e-5)


def test_rgb_variant_predicts_three_channels():
    m = Denoiser(tiny_layout(in_channels=3))
    assert m.unet.config.in_channels == 13
    lay = torch.zeros(1, 10, 32, 32)
    assert m(torch.randn(1, 3, 32, 32), 5, lay).shape == (1, 3, 32, 32)


def test_layout_config_checks():
    with pytest.raises(GenlensError, match="max_items"):
        UNetConfig.tiny("layout", num_classes=10, pad=0)
    with pytest.raises(GenlensError, match="layout_mode"):
        tiny_layout(layout_mode="boxes")


def _config(steps: int, **kw) -> DiffusionTrainConfig:
    return DiffusionTrainConfig(unet=tiny_layout(**kw), steps=steps, batch_size=8, warmup_steps=1, seed=0,
                                data="fashion-scenes")


def test_layout_training_uses_scene_ground_truth_and_resumes_exactly(tmp_path, toy):
    data = toy.scenes()
    cfg = _config(steps=4)
    full = train_diffusion(data.images, data.labels, config=cfg, scenes=data, device="cpu")
    train_diffusion(data.images, data.labels, config=cfg, scenes=data, device="cpu", run_dir=tmp_path,
                    stop_at_step=2)
    assert read_checkpoint_state(tmp_path)["step"] == 2
    resumed = train_diffusion(data.images, data.labels, config=cfg, scenes=data, device="cpu", run_dir=tmp_path,
                              resume=True)
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in full.history[2:]]
    a, b = full.model.state_dict(), resumed.model.state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_rgb_scenes_train(toy):
    data = toy.scenes(rgb=True)
    res = train_diffusion(data.images, data.labels, config=_config(steps=1, in_channels=3), scenes=data, device="cpu")
    assert res.model.config.in_channels == 3


def test_layout_training_without_scenes_or_with_too_few_slots_is_one_line(toy):
    data = toy.scenes()
    with pytest.raises(GenlensError, match="fashion-scenes"):
        train_diffusion(data.images, data.labels, config=_config(steps=1), device="cpu")
    small = DiffusionTrainConfig(unet=UNetConfig.tiny("layout", num_classes=10, max_items=1, pad=0), steps=1)
    if int(data.counts.max()) > 1:
        with pytest.raises(GenlensError, match="objects"):
            train_diffusion(data.images, data.labels, config=small, scenes=data, device="cpu")


def test_class_runs_keep_their_identity_and_old_configs_load(tmp_path, model_folder):
    """Keys added for layouts stay out of a class run's identity (so runs started before them resume), and a
    config.json without them (every shipped model's) loads with the legacy values."""
    cfg = DiffusionTrainConfig(unet=UNetConfig.tiny("class", num_classes=2), steps=1)
    run = legacy_run_config(cfg)
    assert "data" not in run and not {"pad", "max_items", "layout_mode"} & set(run["unet"])
    assert {"data", "pad", "max_items"} <= set(to_dict(cfg)) | set(to_dict(cfg.unet))
    folder = model_folder("class")
    meta = json.loads((folder / "config.json").read_text())
    for key in ("pad", "max_items", "layout_mode"):
        meta["unet"].pop(key)
    meta["train"].pop("data")
    old = tmp_path / "old"
    old.mkdir()
    for f in folder.iterdir():
        (old / f.name).write_bytes(f.read_bytes())
    (old / "config.json").write_text(json.dumps(meta))
    bundle = load_diffusion(old)
    assert bundle.model.config.pad == 2 and bundle.model.config.cond == "class"
