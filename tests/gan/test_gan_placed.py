"""experiments/gan_placed.py: the placed-object data and a --quick run on a tiny synthetic Fashion-MNIST."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="module")
def mod(script):
    return script("experiments/gan_placed")


def test_placed_items_keep_their_size_and_move_around(mod):
    images = torch.full((200, 1, 32, 32), -1.0)
    images[:, :, 2:30, 2:30] = 1.0  # a white 28x28 item in the padded frame
    out = mod.placed(images, torch.Generator().manual_seed(0))
    assert out.shape == (200, 1, 32, 32) and out.min() == -1.0
    lit = out[:, 0] > 0
    assert (lit.sum(dim=(1, 2)) == mod.ITEM ** 2).all()  # the whole item, nothing cut at the border
    rows = lit.any(dim=2).float().argmax(dim=1)
    cols = lit.any(dim=1).float().argmax(dim=1)
    assert rows.min() == 0 and cols.min() == 0 and rows.max() == 12 and cols.max() == 12


def test_quick_run_writes_the_editing_scores(mod, tiny_fmnist, tmp_path):
    out = tmp_path / "placed.json"
    argv = ["--quick", "--data-dir", str(tiny_fmnist(64, 16)), "--run-root", str(tmp_path / "runs"), "--seeds", "0", "1", "--out", str(out),
            "--edit-latents", "2"]
    assert mod.main(argv) == 0
    result = json.loads(out.read_text())
    assert [r["steps"] for r in result["runs"]] == [4, 4] and result["runs"][0]["editing"]["latents"] == 2
    assert result["editing_correlation"]["per_seed"] == [r["editing"]["correlation"] for r in result["runs"]]
    assert all(-1.0 <= r <= 1.0 for r in result["editing_correlation"]["per_seed"])
    assert len(result["editing_untrained"]["correlation"]) == 3 and (tmp_path / "runs" / "eqgan-sa-s1").is_dir()
    assert Path(result["png"]).is_file()


def test_quick_centred_run_compares_sigma_sets(mod, tiny_fmnist, tmp_path):
    out = tmp_path / "sigmas.json"
    argv = ["--quick", "--data", "centred", "--heat-sigmas", "narrow", "official", "--fid-n", "32",
            "--data-dir", str(tiny_fmnist(64, 40)), "--run-root", str(tmp_path / "runs"), "--seeds", "0",
            "--out", str(out), "--edit-latents", "2"]
    assert mod.main(argv) == 0
    result = json.loads(out.read_text())
    assert [r["heat_sigmas"] for r in result["runs"]] == ["narrow", "official"]
    assert set(result["editing_by_heat_sigmas"]) == {"narrow", "official"}
    assert all(r["fid"] > 0 and r["fid_n"] == 32 and isinstance(r["di"], float) for r in result["runs"])
    assert (tmp_path / "runs" / "eqgan-sa-centred-official-s0").is_dir() and "centred" in result["data"]
    with pytest.raises(SystemExit, match="use it with --data centred"):
        mod.main(["--quick", "--fid-n", "8", "--data-dir", str(tiny_fmnist(64, 40)), "--run-root", str(tmp_path / "r2")])
