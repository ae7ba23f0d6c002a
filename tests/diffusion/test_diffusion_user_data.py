"""Diffusion on the user's data: colour folders with and without classes and .npz through the CLI, presets
sized by the resolution, flips that resume exactly, and sampling and scoring the trained folder."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image

from genlens.diffusion import DiffusionTrainConfig, UNetConfig, load_diffusion, train_diffusion
from genlens.diffusion.config import size_for
from genlens.errors import GenlensError


def test_presets_follow_the_resolution_and_check_it():
    assert [size_for(s) for s in (28, 32, 64, 128)] == ["base", "base", "64", "128"]
    assert UNetConfig.preset("32") == UNetConfig.preset("base")
    assert UNetConfig.preset("64", in_channels=3, sample_size=64, pad=0).sample_size == 64
    with pytest.raises(GenlensError, match=r"--resolution 60 does not fit the denoiser's 3 downsamplings; use a "
                                           r"multiple of 8 \(e.g. --resolution 64\)"):
        UNetConfig.preset("64", sample_size=60, pad=0)


def test_hflip_resumes_exactly(toy, tmp_path):
    images, labels = toy.data(16)
    cfg = DiffusionTrainConfig(unet=UNetConfig.tiny("class", num_classes=2), steps=2, batch_size=4, warmup_steps=1,
                               seed=1, hflip=True)
    full = train_diffusion(images, labels, config=cfg, device="cpu")
    train_diffusion(images, labels, config=cfg, device="cpu", run_dir=tmp_path, stop_at_step=1)
    rest = train_diffusion(images, labels, config=cfg, device="cpu", run_dir=tmp_path, resume=True)
    assert [h["loss"] for h in rest.history] == [h["loss"] for h in full.history[1:]]
    for a, b in zip(full.model.parameters(), rest.model.parameters(), strict=True):
        assert torch.equal(a, b)


def _train(cli, data, out, *extra):
    return cli(["diffusion", "train", "--data", data, "--tiny", "--steps", "2", "--batch", "4", "--out", out,
                "--checkpoint-every", "0", "--device", "cpu", "--json", *extra])


def test_class_folder_trains_samples_and_scores(png_folder, tmp_path, cli):
    root = png_folder(classes=2, per_class=6)
    code, out, err = _train(cli, f"folder:{root}", tmp_path / "m", "--resolution", "64", "--channels", "3",
                            "--hflip")
    assert code == 0, err
    assert json.loads(out)["cond"] == "class"  # two sub-folders: class-conditional without --cond
    bundle = load_diffusion(tmp_path / "m")
    assert bundle.class_names == ("class_0", "class_1") and bundle.model.config.in_channels == 3
    assert dataclasses.astuple(bundle.data) == (f"folder:{root}", 64, 3, True)
    code, _, err = cli(["diffusion", "sample", tmp_path / "m", "--all-classes", "--n", "1", "--steps", "2",
                        "--out", tmp_path / "s", "--json"])
    assert code == 0, err
    img = Image.open(tmp_path / "s" / "class_1" / "0.png")
    assert img.size == (64, 64) and img.mode == "RGB"
    code, _, err = cli(["zoo", "train", "cnn", "--data", f"folder:{root}", "--resolution", "64", "--channels", "3",
                        "--epochs", "1", "--batch", "4", "--out", tmp_path / "cnn", "--json"])
    assert code == 0, err
    code, out, err = cli(["diffusion", "eval", tmp_path / "m", "--n", "4", "--steps", "2", "--features",
                          tmp_path / "cnn", "--out", tmp_path / "e", "--json"])
    assert code == 0, err
    result = json.loads(out)
    assert result["data"] == f"folder:{root}" and result["fid"]["extractor"] == str(tmp_path / "cnn") and result["fid"]["n_fake"] == 4
    code, _, err = cli(["diffusion", "eval", tmp_path / "m", "--n", "4", "--features", tmp_path / "cnn", "--data",
                        "fashion-mnist:test"])
    assert code == 2 and "trained on 64x64 images but fashion-mnist:test holds 28x28" in err


def test_flat_folder_and_npz_train_unconditionally(png_folder, tmp_path, cli):
    code, out, err = _train(cli, f"folder:{png_folder(classes=1, per_class=4)}", tmp_path / "flat",
                            "--resolution", "32", "--channels", "3")
    assert code == 0 and json.loads(out)["cond"] == "none"
    assert "one class (no labels); training an unconditional denoiser (--cond none)" in " ".join(err.split())
    code, _, err = cli(["diffusion", "sample", tmp_path / "flat", "--n", "2", "--steps", "2", "--out", tmp_path / "s"])
    assert code == 0 and Image.open(tmp_path / "s" / "samples" / "1.png").size == (32, 32)
    npz = tmp_path / "x.npz"
    rng = np.random.default_rng(0)
    np.savez(npz, images=rng.integers(0, 255, (8, 16, 16, 3), dtype=np.uint8), labels=np.arange(8) % 2)
    code, out, err = _train(cli, f"npz:{npz}", tmp_path / "npz")
    assert code == 0 and json.loads(out)["cond"] == "class", err
    assert load_diffusion(tmp_path / "npz").data.resolution == 16


def test_bad_resolution_fails_before_reading_data(tmp_path, cli):
    code, _, err = cli(["diffusion", "train", "--data", f"folder:{tmp_path / 'absent'}", "--resolution", "60",
                        "--out", tmp_path / "m"])
    assert code == 2 and "use a multiple of 8 (e.g. --resolution 64)" in err
    code, _, err = _train(cli, f"folder:{tmp_path}", tmp_path / "m2", "--cond", "class", "--resolution", "32")
    assert code == 2 and ("no images" in err or "one" in err)


def test_old_folders_read_as_fashion_mnist(shipped_dir):
    bundle = load_diffusion(shipped_dir("fmnist-ddpm"))
    assert dataclasses.astuple(bundle.data) == ("fashion-mnist", 28, 1, False)
    assert torch.is_tensor(next(bundle.model.parameters()))


def test_preset_table_matches_the_measurement_and_the_networks(cli):
    """--help reads genlens.utils.preset_costs, copied from experiments/presets.json; the parameter counts there
    are the presets' own."""
    from pathlib import Path

    from genlens.diffusion.unet import Denoiser
    from genlens.utils.preset_costs import COSTS

    rows = json.loads((Path(__file__).parents[2] / "experiments" / "presets.json").read_text())["rows"]
    measured = {r["size"]: (r["canvas"], r["batch"], r["params_grey"], r["params_colour"], r["s_per_step_grey"],
                            r["s_per_step_colour"]) for r in rows if r["family"] == "diffusion"}
    assert COSTS["diffusion"] == measured
    for size, (px, *_rest) in measured.items():
        unet = UNetConfig.preset(size, "class", num_classes=10, sample_size=px, pad=0)
        assert sum(p.numel() for p in Denoiser(unet).parameters()) == measured[size][2]
    code, out, _ = cli(["diffusion", "train", "--help"])
    assert code == 0 and "64 (64 px" in " ".join(out.split())
