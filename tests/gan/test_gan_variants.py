"""experiments/gan_variants.py: the official code's variants as injected parts, and a quick run of one."""
from __future__ import annotations

import json
import pickle

import pytest
import torch

from genlens.gan import GanConfig


@pytest.fixture(scope="module")
def variants(script):
    return script("experiments/gan_variants")


def test_each_variant_builds_what_it_names_and_pickles(variants):
    cfg = GanConfig.tiny("eqgan-sa")
    torch.manual_seed(0)
    layer = variants.VARIANTS["sel_layer"].make_generator(cfg)
    assert layer.blocks[-1].sel_rgb is not None
    encoded = variants.VARIANTS["heat_encoder"].make_generator(cfg)
    assert [c.weight.shape[1] for c in encoded.heat_encoder.conv0] == [1, 2, 4]
    assert encoded.sample_heatmaps(400, generator=torch.Generator().manual_seed(0)).sigmas[3].max() > 0.25
    logits = torch.tensor([[1.0], [-2.0]])
    assert variants.real_logit(logits).item() == -1.0
    for name in ("sel_layer", "heat_encoder"):  # what crosses into spawned workers (align_real: its __main__)
        assert pickle.loads(pickle.dumps(variants.VARIANTS[name])).name == name


@pytest.mark.slow
def test_quick_run_records_the_variant(variants, tiny_fmnist, tmp_path):
    out = tmp_path / "v.json"
    argv = ["sel_layer", "--quick", "--archs", "eqgan-sa", "--seeds", "0", "--kimg", "0.016", "--evals", "1",
            "--fid-n", "16", "--final-fid-n", "16", "--coverage-n", "20", "--di-n", "8", "--edits", "4", "--curve-edits", "4",
            "--render-repeats", "2", "--data-dir", str(tiny_fmnist(64, 40)), "--run-root", str(tmp_path / "runs"),
            "--out", str(out)]
    assert variants.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["config"]["variant"] == "sel_layer" and result["runs"][0]["variant"] == "sel_layer"
    assert result["command"].startswith("python3 experiments/gan_variants.py sel_layer --quick")
