"""GANs on the user's data: 64 and 128-px networks, colour folders and .npz through the CLI, flips that resume
exactly, sampling and scoring a trained folder, and one-line errors for sizes that do not fit."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from genlens.errors import GenlensError
from genlens.gan import GanConfig, train_gan
from genlens.gan.networks import Discriminator, Generator


@pytest.mark.parametrize("canvas", [64, 128])
def test_bigger_canvases_draw_and_judge_their_size(canvas):
    cfg = GanConfig.tiny("eqgan-sa", canvas=canvas, img_channels=3)
    G, D = Generator(cfg).eval(), Discriminator(cfg)
    x = G(torch.randn(2, cfg.z_dim), generator=torch.Generator().manual_seed(0))
    assert cfg.resolution == canvas and x.shape == (2, 3, canvas, canvas)
    assert D(x).shape == (2, 1) and D.BLOCKS[0] == f"b{canvas}" and D.BLOCKS[-3:] == ("b32", "b16", "b8")


def test_32px_networks_keep_their_weight_names():
    """The shipped 32-px folders load strictly, so the 32-px D must keep exactly its old block names."""
    names = {k.split(".")[0] for k in Discriminator(GanConfig.tiny()).state_dict()}
    assert names == {"fromrgb", "b32", "b16", "b8", "conv", "fc", "out"}


def test_a_size_for_another_canvas_is_one_line():
    with pytest.raises(GenlensError, match="draws 32-px images but the data is 64 px; use --size 64"):
        GanConfig.sized("stylegan2", "half", canvas=64)
    assert GanConfig.sized("stylegan2", "64").resolution == 64 and GanConfig.sized("stylegan2", "32").resolution == 32


def test_hflip_resumes_exactly(images, tmp_path, tiny_train):
    """Flips come from the run's checkpointed generator: a run stopped and resumed equals one run."""
    cfg, tc = GanConfig.tiny("stylegan2"), tiny_train(3, hflip=True)
    full = train_gan(model_config=cfg, config=tc, data=images)
    train_gan(model_config=cfg, config=tc, data=images, run_dir=tmp_path, stop_at_step=1)
    rest = train_gan(model_config=cfg, config=tc, data=images, run_dir=tmp_path, resume=True)
    assert [r["loss_d"] for r in full.history[1:]] == [r["loss_d"] for r in rest.history]
    for a, b in zip(full.G_ema.parameters(), rest.G_ema.parameters(), strict=True):
        assert torch.equal(a, b)
    plain = train_gan(model_config=cfg, config=tiny_train(3), data=images)
    assert [r["loss_d"] for r in plain.history] != [r["loss_d"] for r in full.history]  # flips change the run


def test_train_sample_and_score_a_colour_folder(png_folder, tmp_path, cli):
    root = png_folder(classes=2, per_class=6)
    run = tmp_path / "run"
    code, out, err = cli(["gan", "train", "--data", f"folder:{root}", "--resolution", "64", "--channels", "3",
                          "--hflip", "--size", "tiny", "--arch", "stylegan2", "--steps", "2", "--batch", "4",
                          "--run-dir", run, "--device", "cpu", "--json"])
    assert code == 0, err
    folder = json.loads(out)["model_folder"]
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["data"] == {"spec": f"folder:{root}", "resolution": 64, "channels": 3, "hflip": True}
    assert config["gan"]["img_channels"] == 3 and len(config["gan"]["g_channels"]) == 5
    assert config["gan"]["class_names"] == ["class_0", "class_1"]  # labelled sub-folders: class-conditional
    code, _, err = cli(["gan", "sample", folder, "--n", "2", "--out", tmp_path / "s"])
    assert code == 2 and "class-conditional; pass --class NAME or --all-classes" in err
    code, out, err = cli(["gan", "sample", folder, "--all-classes", "--n", "2", "--out", tmp_path / "s", "--json"])
    assert code == 0 and json.loads(out)["classes"] == ["class_0", "class_1"], err
    assert Image.open(tmp_path / "s" / "class_1" / "1.png").size == (128, 128)  # 64 px, enlarged 2x
    # scored against its own data under a classifier's features (here a tiny one trained on that data)
    code, _, err = cli(["zoo", "train", "cnn", "--data", f"folder:{root}", "--resolution", "64", "--channels", "3",
                        "--epochs", "1", "--batch", "4", "--out", tmp_path / "cnn", "--json"])
    assert code == 0, err
    code, out, err = cli(["gan", "eval", folder, "--n", "10", "--features", tmp_path / "cnn", "--json"])
    assert code == 0, err
    result = json.loads(out)
    assert result["fid"]["extractor"] == str(tmp_path / "cnn") and result["fid"]["n_real"] == 12 and result["kid"]["n_fake"] == 10
    code, _, err = cli(["gan", "eval", folder, "--n", "10", "--features", tmp_path / "cnn", "--data",
                        f"folder:{root}", "--resolution", "32"])
    assert code == 2 and "trained on 64x64 images but" in err and "32x32" in err and len(err.strip().splitlines()) == 1


def test_class_conditional_networks_follow_their_labels():
    cfg = GanConfig.tiny("stylegan2", class_names=("a", "b", "c"))
    G, D = Generator(cfg).eval(), Discriminator(cfg)
    z = torch.randn(2, cfg.z_dim, generator=torch.Generator().manual_seed(0))
    a, b = (G(z, labels=torch.tensor([k, k]), noise_mode="const") for k in (0, 2))
    assert cfg.num_classes == 3 and not torch.allclose(a, b)
    assert not torch.allclose(D(a, labels=torch.tensor([0, 0])), D(a, labels=torch.tensor([1, 1])))
    assert G(z, noise_mode="const").shape == a.shape  # no labels: the class-agnostic mean embedding
    assert GanConfig.tiny("stylegan2").num_classes == 0  # the shipped GANs stay unconditional


def test_flat_folder_and_npz_train_grey(png_folder, tmp_path, cli):
    flat = png_folder(classes=1, per_class=6)
    code, _, err = cli(["gan", "train", "--data", f"folder:{flat}", "--size", "tiny", "--cond", "class",
                        "--run-dir", tmp_path / "c"])
    assert code == 2 and "--cond class needs labels of 2+ classes" in err
    code, _, err = cli(["gan", "train", "--data", f"folder:{flat}", "--size", "tiny",
                        "--steps", "1", "--batch", "4", "--run-dir", tmp_path / "flat", "--device", "cpu", "--json"])
    assert code == 0 and "one class (no labels); training an unconditional GAN" in err
    npz = tmp_path / "x.npz"
    np.savez(npz, images=np.random.default_rng(0).integers(0, 255, (8, 32, 32), dtype=np.uint8))
    code, _, err = cli(["gan", "train", "--data", f"npz:{npz}", "--size", "tiny", "--steps", "1", "--batch", "4",
                          "--run-dir", tmp_path / "npz", "--device", "cpu", "--json"])
    assert code == 0, err
    assert json.loads((tmp_path / "npz" / "model" / "config.json").read_text())["data"]["resolution"] == 32


def test_a_resolution_off_the_canvases_fails_before_reading_data(tmp_path, cli):
    code, _, err = cli(["gan", "train", "--data", f"folder:{tmp_path / 'absent'}", "--resolution", "48",
                        "--run-dir", tmp_path / "r"])
    assert code == 2 and "--resolution 48 is not a GAN canvas; use --resolution 32, 64 or 128" in err


def test_size_table_matches_the_measurement_and_the_networks():
    """--help reads genlens.utils.preset_costs, copied from experiments/presets.json (G and D parameters)."""
    from pathlib import Path

    from genlens.gan.train import GanPair
    from genlens.utils.preset_costs import COSTS

    rows = json.loads((Path(__file__).parents[2] / "experiments" / "presets.json").read_text())["rows"]
    measured = {r["size"]: (r["canvas"], r["batch"], r["params_grey"], r["params_colour"], r["s_per_step_grey"],
                            r["s_per_step_colour"]) for r in rows if r["family"] == "gan"}
    assert COSTS["gan"] == measured
    for size, row in measured.items():
        cfg = GanConfig.sized("eqgan-sa", size)
        assert cfg.resolution == row[0] and sum(p.numel() for p in GanPair(cfg).parameters()) == row[2]
