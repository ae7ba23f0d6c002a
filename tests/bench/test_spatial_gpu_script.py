"""scripts/train_spatial_gpu.sh (the one command for a lent GPU) on cpu with SMOKE=1: every part runs and lands in
the one tar; the deadline stops a run that would outlast the budget and keeps its checkpoint; and the packer keeps
weights by need under its size cap (scripts/spatial_gpu_outputs.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from tests.conftest import REPO, load_script


def smoke(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess, dict[str, tarfile.TarInfo], Path]:
    """Run the script with SMOKE=1 into tmp_path; (process, tar members by name, tar path)."""
    root = tmp_path / "root"
    full = {**os.environ, "SMOKE": "1", "OUT": str(tmp_path / "out"), "ROOT": str(root), "WORK": str(tmp_path / "w"),
            "PY": sys.executable, **env}
    proc = subprocess.run(["bash", "scripts/train_spatial_gpu.sh"], cwd=REPO, env=full, capture_output=True,
                          text=True, timeout=580)
    tar = tmp_path / "out" / "spatial_gpu.tar.gz"
    assert tar.is_file(), proc.stdout + proc.stderr
    with tarfile.open(tar) as t:
        members = {m.name: m for m in t.getmembers()}
    return proc, members, tar


def read(tar: Path, name: str) -> str:
    with tarfile.open(tar) as t:
        return t.extractfile(name).read().decode()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_smoke_runs_every_part_into_one_tar(fmnist_dir, tmp_path):
    proc, members, tar = smoke(tmp_path, RUNS="scenes-ddpm-layout scenes-eqgan-s2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    root = str(tmp_path / "root").lstrip("/")
    for name in ("spatial-gpu-logs/machine.txt", "spatial-gpu-logs/versions.txt", "spatial-gpu-logs/summary.txt",
                 "spatial-gpu-logs/left_out.txt", "spatial-gpu-logs/scenes-eqgan-s2.err",
                 "bench/results/spatial_gpu/train.json", "bench/results/spatial_gpu/colour64/sample/grid.png",
                 "bench/results/spatial_gpu/colour64/eval/samples.png",
                 f"{root}/runs/spatial/scenes-eqgan-s2/model/model.safetensors",  # the seed a GPU adds
                 f"{root}/runs/spatial/scenes-eqgan-s2/model/manifest.json",
                 f"{root}/runs/spatial/scenes-eqgan-s2/last/state.json",
                 f"{root}/runs/diffusion/scenes-ddpm-layout/model.safetensors",
                 f"{root}/runs/diffusion/scenes-ddpm-layout/checkpoints/last/optimizer.pt",
                 f"{root}/runs/diffusion/scenes-rgb-64/model.safetensors",
                 f"{root}/runs/diffusion/scenes-rgb-64/manifest.json"):
        assert name in members, name
    assert not [n for n in members if n.endswith(".npz")]  # exports are rebuilt, never shipped
    merged = json.loads(read(tar, "bench/results/spatial_gpu/train.json"))
    assert set(merged["runs"]) == {"scenes-ddpm-layout", "scenes-eqgan-s2"}
    assert merged["runs"]["scenes-eqgan-s2"]["seed"] == 2 and all(r["finished"] for r in merged["runs"].values())
    colour = merged["colour64"]
    assert colour["eval"]["fid"]["extractor"] == "genlens-eval" and colour["eval"]["n"] == 16
    assert colour["floor"]["metric"] == "fid" and colour["train"]["steps"] == 2
    config = json.loads(read(tar, f"{root}/runs/diffusion/scenes-rgb-64/config.json"))
    assert config["unet"]["sample_size"] == 64 and config["unet"]["in_channels"] == 3
    assert "colour 64 px: 2 steps, FID" in proc.stdout and "scenes-eqgan-s2" in proc.stdout


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_deadline_stops_a_run_and_keeps_its_checkpoint(fmnist_dir, tmp_path):
    proc, members, _ = smoke(tmp_path, RUNS="", STEPS64="100000", BUDGET_S="120")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # a stop at the deadline is not a failure
    assert "deadline after" in proc.stdout and "colour64: exit" in proc.stdout and "(stopped)" in proc.stdout
    colour = str(tmp_path / "root").lstrip("/") + "/runs/diffusion/scenes-rgb-64"
    assert f"{colour}/checkpoints/last/model.safetensors" in members  # what a later call resumes from
    assert f"{colour}/model.safetensors" not in members and "no model this call" in proc.stdout


def test_missing_data_is_one_line_and_exit_2(tmp_path):
    proc, members, _ = smoke(tmp_path, GENLENS_DATA=str(tmp_path / "nowhere"))
    assert proc.returncode == 2 and "Fashion-MNIST" in proc.stderr and "GENLENS_DATA" in proc.stderr
    assert "spatial-gpu-logs/prep.err" in members  # the logs still come back


def test_pack_keeps_weights_by_need_under_the_cap(tmp_path):
    out = load_script("scripts/spatial_gpu_outputs")
    root = tmp_path / "root"
    files = {  # path: bytes
        "runs/spatial/g-s0/model/model.safetensors": 1000,  # a finished GAN's generator: rank 0
        "runs/spatial/g-s0/model/discriminator.safetensors": 1000,  # rank 3
        "runs/spatial/g-s0/last/optimizer.pt": 1000,  # a finished run's checkpoint: rank 3
        "runs/diffusion/layout/checkpoints/last/model.safetensors": 1000,  # unfinished: rank 2
        "runs/diffusion/rgb/model.safetensors": 1000,  # a diffusion model: rank 1
        "runs/diffusion/rgb/manifest.json": 10,
        "data/scenes-rgb-train.npz": 5000,
    }
    for name, size in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x" * size)
    assert [out.rank(root / n) for n in list(files)[:5]] == [0, 3, 3, 2, 1]
    logs = tmp_path / "logs"
    logs.mkdir()
    tar = tmp_path / "t.tar.gz"
    total, dropped = out.pack(tar, [("logs", logs), ("r", root)], cap_mb=3100 / out.MIB, left_out=logs / "left.txt")
    with tarfile.open(tar) as t:
        names = set(t.getnames())
    assert {"r/runs/spatial/g-s0/model/model.safetensors", "r/runs/diffusion/rgb/model.safetensors",
            "r/runs/diffusion/layout/checkpoints/last/model.safetensors", "r/runs/diffusion/rgb/manifest.json",
            "logs/left.txt"} <= names
    assert len(dropped) == 2 and total == 3010 and not any(n.endswith(".npz") for n in names)
    assert "discriminator.safetensors" in (logs / "left.txt").read_text()
