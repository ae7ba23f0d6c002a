"""Weight averages ("soups") of diffusion models: the exact weighted mean, provenance in the manifest, and
one-line errors for inputs that cannot be averaged."""
from __future__ import annotations

import json
import shlex

import pytest
import torch
from safetensors.torch import save_file

from genlens.diffusion import DiffusionTrainConfig, UNetConfig, save_diffusion
from genlens.diffusion.average import average_states
from genlens.diffusion.io import load_diffusion
from genlens.errors import GenlensError
from genlens.utils.io import sha256_file


def _folder(tmp_path, toy, name, seed, *, classes=None):
    names = classes or toy.class_names
    cfg = DiffusionTrainConfig(unet=UNetConfig.tiny("class", num_classes=len(names)), steps=1)
    torch.manual_seed(seed)
    from genlens.diffusion import Denoiser

    model = Denoiser(cfg.unet)
    return save_diffusion(tmp_path / name, model, config=cfg, class_names=tuple(names), command=f"make {name}",
                          metrics={})


def test_average_states_is_the_weighted_mean():
    a = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor([3])}
    b = {"w": torch.tensor([4.0, 8.0]), "n": torch.tensor([3])}
    out = average_states([a, b], [1, 2])
    torch.testing.assert_close(out["w"], torch.tensor([3.0, 6.0]))  # (1·1 + 2·4)/3, (1·2 + 2·8)/3
    assert torch.equal(out["n"], a["n"])
    torch.testing.assert_close(average_states([a, b])["w"], torch.tensor([2.5, 5.0]))
    for bad, msg in [(([a], None), "at least two"), (([a, b], [1]), "one weight per model"),
                     (([a, b], [0, 0]), ">= 0 and not all zero"),
                     (([a, {"w": b["w"], "n": torch.tensor([4])}], None), "non-float tensor n")]:
        with pytest.raises(GenlensError, match=msg):
            average_states(*bad)


def test_average_command_writes_a_loadable_soup(run, toy, tmp_path):
    a, b = _folder(tmp_path, toy, "a", 0), _folder(tmp_path, toy, "b", 1)
    snap = tmp_path / "ema.safetensors"  # a bare EMA snapshot of the same architecture
    third = _folder(tmp_path, toy, "c", 2)
    save_file(load_diffusion(third).model.state_dict(), str(snap))
    out = tmp_path / "soup"
    code, stdout, err = run(["average", a, b, snap, "--weights", "1,1,2", "--out", out, "--json"])
    assert code == 0, err
    soup = load_diffusion(out)  # the manifest verifies
    sa, sb, sc = (load_diffusion(f).model.state_dict() for f in (a, b, third))
    for k, v in soup.model.state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(v, (sa[k] + sb[k] + 2 * sc[k]) / 4)
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["sha256"] for s in manifest["soup"]] == [sha256_file(a / "model.safetensors"),
                                                       sha256_file(b / "model.safetensors"), sha256_file(snap)]
    assert [s["weight"] for s in manifest["soup"]] == [0.25, 0.25, 0.5]
    assert manifest["soup"][0]["command"] == "make a"
    assert manifest["command"] == shlex.join(["genlens", "diffusion", "average", str(a), str(b), str(snap), "--weights",
                                              "1,1,2", "--out", str(out), "--json"])
    assert json.loads(stdout)["out"] == str(out)


def test_average_refuses_what_cannot_be_averaged(run, toy, tmp_path):
    a = _folder(tmp_path, toy, "a", 0)
    other = _folder(tmp_path, toy, "other", 1, classes=("X", "Y", "Z"))
    cases = [
        (["average", a, other, "--out", tmp_path / "o1"], "differs from"),
        (["average", a, "--out", tmp_path / "o2"], "at least two inputs"),
        (["average", a, a, "--weights", "1", "--out", tmp_path / "o3"], "one per input"),
        (["average", a, a, "--weights", "x,1", "--out", tmp_path / "o4"], "comma-separated"),
        (["average", a, tmp_path / "nothing", "--out", tmp_path / "o5"], "does not exist"),
        (["average", a, a, "--out", a], "is one of the inputs"),
    ]
    for args, msg in cases:
        code, _, err = run(args)
        assert code != 0 and msg in err, (args, err)
        assert not (tmp_path / "o1").exists()
