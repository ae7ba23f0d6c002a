"""bench/diffusion_autoguidance.py: the earlier phases it guides with come from git, checked against their sha256.
(The wrapper itself is genlens.diffusion.autoguidance, tested in tests/diffusion/test_autoguidance.py.)"""
from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _module():
    spec = importlib.util.spec_from_file_location("_bench_autoguidance", BENCH / "diffusion_autoguidance.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_phase_weights_come_from_git_with_their_recorded_sha(tmp_path):
    import subprocess

    import pytest

    mod = _module()
    commit = mod.PHASES["phase1"][0]
    if subprocess.run(["git", "-C", str(BENCH.parent), "cat-file", "-e", f"{commit}^{{commit}}"],
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
