"""``genlens metrics``: every image set is a data spec (npz:, folder:, NAME:split)."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image


def _npz(path, seed: int):
    rng = np.random.default_rng(seed)
    np.savez(path, images=rng.integers(0, 256, size=(16, 28, 28), dtype=np.uint8), labels=np.arange(16) % 10)
    return path


def test_fid_on_npz_specs_and_a_bare_path(cli, tmp_path):
    a, b = _npz(tmp_path / "a.npz", 0), _npz(tmp_path / "b.npz", 1)
    code, out, err = cli(["metrics", "fid", f"npz:{a}", str(b), "--json", "--device", "cpu"])
    assert code == 0, err
    result = json.loads(out)
    assert result["metric"] == "fid" and result["n_real"] == 16 and result["value"] > 0


def test_judge_on_a_folder_spec(cli, tmp_path):
    for cls in ("Sneaker", "Ankle_boot"):
        (tmp_path / cls).mkdir()
        Image.new("L", (28, 28), 0).save(tmp_path / cls / "0.png")
    code, out, err = cli(["metrics", "judge", f"folder:{tmp_path}", "--json", "--device", "cpu"])
    assert code == 0, err
    report = json.loads(out)
    assert report["n"] == 2 and report["per_class"]["Sneaker"]["n"] == 1
