"""experiments/diffusion_autoguidance.py: the earlier phases it guides with come from git, checked against their
sha256, and its run specs parse. (The wrapper itself is genlens.diffusion.autoguidance, tested in
tests/diffusion/test_autoguidance.py.) tests/conftest.py's bench_script loads bench/ only, so this loads by path."""
from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _module():
    spec = importlib.util.spec_from_file_location("experiment_diffusion_autoguidance",
                                                  REPO / "experiments" / "diffusion_autoguidance.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_phase_weights_come_from_git_with_their_recorded_sha(tmp_path):
    import subprocess

    import pytest

    mod = _module()
    commit = mod.PHASES["phase1"][0]
    if subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{commit}^{{commit}}"],
                      capture_output=True).returncode != 0:
        pytest.skip(f"commit {commit} is not in this clone (shallow?)")
    folder = mod.phase_folder("phase1", tmp_path)
    from genlens.diffusion.io import load_diffusion

    assert load_diffusion(folder).model.cond_kind == "class"  # verifies the phase's own manifest sha256 too


def test_run_specs_old_and_key_value_forms():
    mod = _module()
    old = mod.parse_spec("phase1:1.5", guidance=3.0, interval="150-600")
    assert old == {"good": mod.WEIGHTS, "bad": "phase1", "w": 1.5, "s": 3.0, "iv": (150, 600), "ag": None,
                   "sampler": "ddim", "sp": "leading"}
    new = mod.parse_spec("good=runs/soup,bad=runs/x,w=2,s=2,iv=none,ag=0-600,sampler=dpm++,sp=power:1.5", guidance=3.0,
                         interval="150-600")
    assert new == {"good": "runs/soup", "bad": "runs/x", "w": 2.0, "s": 2.0, "iv": None, "ag": (0, 600),
                   "sampler": "dpm++", "sp": "power:1.5"}
    import pytest

    with pytest.raises(SystemExit, match="unknown keys"):
        mod.parse_spec("bad=phase2,cfg=3", guidance=3.0, interval="150-600")


def test_interval_guide_acts_only_inside_its_interval():
    import torch

    from genlens.diffusion import Denoiser, UNetConfig

    mod = _module()
    good, bad = (torch.manual_seed(s) and Denoiser(UNetConfig.tiny("class", num_classes=2)).eval() for s in (0, 1))
    g = torch.Generator().manual_seed(0)
    x, labels, t = torch.randn(3, 1, 32, 32, generator=g), torch.tensor([0, 1, 0]), torch.tensor([100, 400, 900])
    net = mod.interval_guided(good, bad, 2.0, (150, 600))
    with torch.no_grad():
        out, gd, bd = net(x, t, labels), good(x, t, labels), bad(x, t, labels)
        torch.testing.assert_close(out[[0, 2]], gd[[0, 2]])  # outside: the good model alone
        torch.testing.assert_close(out[1], (bd + 2.0 * (gd - bd))[1])
        torch.testing.assert_close(net(x, 50, labels), good(x, 50, labels))
        assert not torch.allclose(gd, bd)  # the two networks differ, so the checks above mean something
