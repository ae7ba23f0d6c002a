"""`genlens zoo train ARCH --data SPEC`: zoo architectures and timm models sized for the user's data, and the
trained folder used by path like a shipped name (eval, dead, Grad-CAM, inversion)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from genlens.errors import GenlensError
from genlens.models.load import load_model
from genlens.models.zoo.train_arch import arch_spec, build_spec, holdout_split, patch_size


def _images(n=8, c=3, s=64, classes=2):
    from genlens.data.base import ImageData

    x = torch.randint(0, 255, (n, c, s, s), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return ImageData(x, torch.arange(n) % classes, tuple(f"c{i}" for i in range(classes)), name="toy")


@pytest.mark.parametrize("arch", ["cnn", "vit", "mixer", "resmlp", "timm:test_resnet"])
def test_every_arch_is_sized_for_the_data(arch):
    spec = arch_spec(arch, _images(), hflip=True)
    model = build_spec(spec).eval()
    assert spec.input_size == (3, 64, 64) and spec.class_names == ("c0", "c1") and spec.train.hflip
    assert len(spec.mean) == 3 and model(torch.zeros(1, 3, 64, 64)).shape == (1, 2)


def test_patch_keeps_an_8x8_grid_and_bad_sizes_are_one_line():
    assert [patch_size(s) for s in (28, 32, 64, 128)] == [4, 4, 8, 16]
    with pytest.raises(GenlensError, match="not a multiple of the vit's 8-px patch; use --resolution 64"):
        arch_spec("vit", _images(s=68), hflip=False)
    with pytest.raises(GenlensError, match="has one class; a classifier needs labels of 2\\+ classes"):
        arch_spec("cnn", _images(classes=1), hflip=False)


def test_holdout_is_fixed_and_disjoint():
    data = _images(n=20)
    train, test = holdout_split(data)
    again = holdout_split(data)[1]
    assert len(train) == 18 and len(test) == 2 and torch.equal(test.images, again.images)


def test_trained_folder_is_a_first_class_model(png_folder, tmp_path, cli):
    root = png_folder(classes=2, per_class=6)
    out = tmp_path / "vit"
    code, stdout, err = cli(["zoo", "train", "vit", "--data", f"folder:{root}", "--resolution", "64", "--channels",
                             "3", "--hflip", "--epochs", "1", "--batch", "4", "--out", out, "--json"])
    assert code == 0, err
    assert json.loads(stdout)["name"] == "vit"
    config = json.loads((out / "config.json").read_text())
    assert config["data"] == {"spec": f"folder:{root}", "resolution": 64, "channels": 3, "hflip": True}
    handle = load_model(out)
    assert handle.input_size == (3, 64, 64) and handle.class_names == ("class_0", "class_1")
    code, stdout, err = cli(["zoo", "eval", out, "--out", tmp_path / "e", "--json"])  # its held-out images
    assert code == 0 and json.loads(stdout)["n"] == 1, err
    code, _, err = cli(["zoo", "eval", out, "--data", "fashion-mnist:test", "--limit", "4", "--out", tmp_path / "e"])
    assert code == 2 and "trained on 64x64 images but fashion-mnist:test holds 28x28" in err
    code, stdout, err = cli(["dead", out, "--out", tmp_path / "d", "--json"])
    assert code == 0 and json.loads(stdout)["total_units"] > 0, err
    code, stdout, err = cli(["cam", out, root / "class_1" / "0.png", "--class", "class_1", "--out", tmp_path / "c",
                             "--json"])
    assert code == 0 and json.loads(stdout)["target"]["name"] == "class_1", err
    code, stdout, err = cli(["invert", out, "--class", "class_0", "--steps-scale", "0.01", "--out", tmp_path / "i",
                             "--json"])
    assert code == 0, err
    from PIL import Image

    assert Image.open(tmp_path / "i" / "class_0" / "0.png").size[0] >= 64


def test_npz_and_timm_train(tmp_path, cli):
    npz = tmp_path / "x.npz"
    rng = np.random.default_rng(0)
    np.savez(npz, images=rng.integers(0, 255, (12, 32, 32), dtype=np.uint8), labels=np.arange(12) % 3)
    code, _, err = cli(["zoo", "train", "timm:test_resnet", "--data", f"npz:{npz}", "--epochs", "1", "--batch", "4",
                        "--out", tmp_path / "t", "--json"])
    assert code == 0, err
    handle = load_model(tmp_path / "t")
    assert handle.input_size == (1, 32, 32) and handle.num_classes == 3


def test_zoo_names_and_arch_misuse_are_one_line(png_folder, tmp_path, cli):
    code, _, err = cli(["zoo", "train", "cnn", "--data", "fashion-mnist"])
    assert code == 2 and "needs --out DIR" in err
    code, _, err = cli(["zoo", "train", "fmnist-cnn", "--data", f"folder:{png_folder(classes=2, per_class=6)}",
                        "--resolution", "64", "--channels", "3", "--out", tmp_path / "z"])
    assert code == 2 and "train an architecture for it: genlens zoo train cnn" in " ".join(err.split())
