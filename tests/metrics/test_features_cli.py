"""``genlens metrics ... --features``: any classifier or Inception file as the extractor, recorded in the JSON."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image


def _rgb_folder(root, seed: int, n: int = 6, size: int = 32):
    rng = np.random.default_rng(seed)
    root.mkdir()
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)).save(root / f"{i}.png")
    return root


@pytest.fixture
def empty_hf_cache(monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo, filename, **_: None)


def test_fid_under_a_local_timm_model_names_it(cli, tmp_path, empty_hf_cache):
    import timm
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = timm.create_model("test_resnet", pretrained=False)
    weights = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    a, b = _rgb_folder(tmp_path / "a", 0), _rgb_folder(tmp_path / "b", 1, size=40)  # another size: resized
    spec = f"timm:test_resnet:{weights}"
    code, out, err = cli(["metrics", "fid", f"folder:{a}", f"folder:{b}", "--features", spec, "--json",
                          "--device", "cpu"])
    assert code == 0, err
    result = json.loads(out)
    assert result["extractor"] == spec and result["n_real"] == 6 and result["value"] >= 0


def test_kid_under_a_model_folder_names_the_folder(cli, tmp_path):
    from genlens.models.load import shipped_folder

    a, b = _rgb_folder(tmp_path / "a", 0, n=8), _rgb_folder(tmp_path / "b", 1, n=8)  # RGB -> the CNN's grey
    folder = str(shipped_folder("fmnist-cnn"))
    code, out, err = cli(["metrics", "kid", f"folder:{a}", f"folder:{b}", "--features", folder, "--subsets", "2",
                          "--subset-size", "4", "--json", "--device", "cpu"])
    assert code == 0, err
    assert json.loads(out)["extractor"] == folder


@pytest.mark.parametrize(("features", "words"), [
    ("timm:resnet18", "--allow-download"),
    ("inception", "genlens never downloads them"),
    ("no-such-thing", "timm:NAME[:FILE]"),
])
def test_unusable_features_fail_in_one_line_before_any_data(cli, tmp_path, monkeypatch, empty_hf_cache,
                                                            features, words):
    monkeypatch.delenv("GENLENS_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    code, out, err = cli(["metrics", "fid", "npz:/nonexistent.npz", "npz:/nonexistent.npz", "--features", features])
    assert code == 2 and out == "" and words in err and len(err.strip().splitlines()) == 1
