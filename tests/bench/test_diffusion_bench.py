"""bench/diffusion.py: the --quick run writes a well-formed result, the table renders, the peer part skips cleanly."""
from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "bench"
HAS_PEER = all(importlib.util.find_spec(m) is not None for m in ("denoising_diffusion_pytorch", "ema_pytorch"))


def _peer(bench_script):
    """bench/ddpm_peer.py as bench/diffusion.py imports it (by name from bench/, so its dataclass resolves)."""
    import importlib

    bench_script("diffusion")  # puts bench/ on sys.path, as the benchmark runs
    return importlib.import_module("ddpm_peer")


def _finite_numbers(obj, where="result"):
    """Every int/float in a JSON tree (booleans aside) is finite."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            _finite_numbers(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _finite_numbers(v, f"{where}[{i}]")
    elif isinstance(obj, float):
        assert math.isfinite(obj), f"{where} is {obj}"


def _side(fid: float, **kw):
    return {"params": 700_000, "fid": fid, "kid": 0.01, "kid_std": 0.001, "steps": 100, "images_seen": 6400, "train_images_per_s": 40.0,
            "train_seconds": 160.0, "sample_seconds": 20.0, **kw}


def _result(peer_status: str = "ok"):
    peer = ({"status": "ok", "extractor": "genlens-fmnist", "n_fake": 2000, "n_real": 10000, "budget_s": 1800.0,
             "fid_real_train_vs_test": 0.5, "fid_test_halves": 0.3, "ours": _side(10.0), "peer": _side(20.0, package="ddp 2.3.4"),
             "fid_ratio_ours_over_peer": 0.5}
            if peer_status == "ok" else {"status": "skipped", "reason": "denoising-diffusion-pytorch is not installed"})
    overheads = {"plain_step_s": 1.0, "ema_update_s": 0.01, "grad_clip_s": 0.005, "to_model_space_s": 0.001}
    thr = {"status": "ok", "size": "small", "threads": 1,
           "by_cond": {"none": {"params": 686_769, "window_steps": 4, "ours": {"median": 48.0},
                                "plain": {"median": 47.0}, "ratio_ours_over_plain": 48 / 47,
                                "ratio_paired_median": 1.01, "overheads": overheads}}}
    return {"benchmark": "diffusion", "parts": {"peer": peer, "throughput": thr},
            "config": {"batch": 64, "sampling_steps": 50, "repeats": 5, "quick": False},
            "env": {"cpu": "test cpu", "torch": "2.x", "date": "2026-01-01T00:00:00", "load_average_start": [0.1]}}


def test_table_renders_both_parts(bench_script):
    table = bench_script("diffusion").diffusion_table(_result())
    assert "| ddp 2.3.4 | 0.70 M | 20 |" in table
    assert "| genlens (train_diffusion, --cond none) | 0.70 M | 10 | 0.01 |" in table
    assert "FID ours / peer = **0.50**" in table
    assert "| none | 0.69 M | 48 | 47 | **1.02** | 1.01 |" in table


def test_table_says_why_the_peer_was_skipped(bench_script):
    table = bench_script("diffusion").diffusion_table(_result("skipped"))
    assert "Peer comparison skipped: denoising-diffusion-pytorch is not installed" in table


def test_peer_part_skips_without_the_package(monkeypatch, tmp_path, bench_script):
    bench = bench_script("diffusion")
    monkeypatch.setattr(bench, "peer_available", lambda: False)
    args = bench.parse_args(["--quick"])
    part = bench.run_peer_part(args, train=None, test=None, png_dir=tmp_path, progress=lambda _m: None)
    assert part["status"] == "skipped" and "pip install denoising-diffusion-pytorch" in part["reason"]


def test_quick_defaults_are_small(bench_script):
    args = bench_script("diffusion").parse_args(["--quick"])
    assert args.size == "tiny" and args.budget_s <= 5 and args.n_fid <= 64 and args.conds == ["none"]
    full = bench_script("diffusion").parse_args([])
    assert full.budget_s == 1800 and full.n_fid == 2000 and full.sampling_steps == 50


@pytest.mark.slow  # ~0.1 s itself, but the first import of diffusers in a session takes 3-20 s
def test_plain_diffusers_step_trains_the_same_unet(bench_script):
    peer = _peer(bench_script)
    from genlens.diffusion import UNetConfig

    images = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8)
    step = peer.PlainDiffusersStep(UNetConfig.tiny("class"), images, torch.arange(8) % 10, batch=4)
    before = [p.detach().clone() for p in step.unet.parameters()]
    loss = step()
    assert math.isfinite(loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, step.unet.parameters()))


def test_budget_guard_stops_our_run_and_keeps_the_ema_weights(bench_script):
    bench = bench_script("diffusion")
    args = bench.parse_args(["--quick", "--budget-s", "1e-6", "--calibration-steps", "2"])
    images = torch.randint(0, 256, (32, 1, 28, 28), dtype=torch.uint8)
    model, config, facts = bench.train_ours(args, images, torch.arange(32) % 10, progress=lambda _m: None)
    assert facts["stopped_by_budget_guard"] and facts["steps"] == 1 < facts["planned_steps"]
    assert facts["images_seen"] == args.batch and facts["params"] == sum(p.numel() for p in model.parameters())
    x = bench.sample_ours(model, config, 2, steps=2, batch=2, seed=0)
    assert x.shape == (2, 1, 28, 28) and torch.isfinite(x).all()


@pytest.mark.skipif(not HAS_PEER, reason="denoising-diffusion-pytorch is not installed")
def test_peer_trains_and_samples_28px_images(bench_script):
    peer = _peer(bench_script)
    dim, n = peer.peer_dim_for(1)
    assert dim == 8 and n > 0
    model = peer.build_peer(dim, sampling_steps=2, seed=0)
    images = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8)
    run = peer.train_peer(model, images, batch=4, budget_s=1e-3, seed=0)
    assert run.steps >= 1 and run.images_seen == 4 * run.steps and math.isfinite(run.losses[-1])
    x = peer.sample_peer(run.ema_model, 3, batch=2, seed=0)
    assert x.shape == (3, 1, 28, 28) and 0 <= float(x.min()) and float(x.max()) <= 1


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_quick_run_writes_json(tmp_path):
    out = tmp_path / "diffusion.json"
    cmd = [sys.executable, str(BENCH / "diffusion.py"), "--quick", "--threads", "1", "--out", str(out)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=230)
    assert proc.returncode == 0, proc.stderr[-2000:]

    result = json.loads(out.read_text())
    _finite_numbers(result)
    assert result["benchmark"] == "diffusion" and result["config"]["quick"] is True
    for key in ("torch", "cpu", "torch_threads", "date"):
        assert key in result["env"]

    peer = result["parts"]["peer"]
    if HAS_PEER:
        assert peer["status"] == "ok" and peer["extractor"] == "genlens-fmnist"
        assert peer["n_fake"] == result["config"]["n_fid"]
        for side in ("ours", "peer"):
            s = peer[side]
            assert s["params"] > 0 and s["steps"] >= 1 and s["images_seen"] == s["steps"] * result["config"]["batch"]
            assert s["fid"] >= 0 and "kid" in s and s["train_images_per_s"] > 0 and s["train_seconds"] > 0
            assert Path(peer["pngs"][side]).is_file()
        assert peer["fid_ratio_ours_over_peer"] > 0
    else:
        assert peer["status"] == "skipped"

    thr = result["parts"]["throughput"]["by_cond"]["none"]
    assert thr["ours"]["median"] > 0 and thr["plain"]["median"] > 0 and thr["ratio_ours_over_plain"] > 0
    assert len(thr["ours"]["samples"]) == result["config"]["repeats"]
    assert len(thr["plain"]["samples"]) == result["config"]["repeats"] + 1
    assert "| none |" in proc.stdout
