"""Every ``genlens ... train`` command under ``accelerate launch --multi_gpu --num_processes 2`` (gloo, CPU).

One launch runs all trainers one after another (:mod:`cli_worker`), so the start-up is paid once. What
each process trained and wrote is recorded; the tests read those records.

Semantics checked (docs/scaling.md): trainers on the shared loop (diffusion, zoo) are data-parallel, so
both processes end with bit-identical weights; ``clip train`` and ``locator train`` have their own loops,
data-parallel too: each process trains on its half of every global batch (the global batches one process
would train on) and both end with bit-identical weights; ``gan train`` is data-parallel without DDP
(gradients all-reduced after each phase's backward, since R1 and Grad-CAM take a double backward): both
processes end with bit-identical G, D and EMA, a run stopped after step 1 and resumed equals the straight
run, and a global batch that does not divide by 2 is refused with one line.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed
from safetensors.torch import load_file

from genlens.utils.io import sha256_file

WORKER = Path(__file__).with_name("cli_worker.py")
TRAINERS = ("diffusion", "diffusion-bf16", "zoo", "clip", "locator")
LOCAL_STATS = ("running_mean", "running_var")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="needs the gloo backend")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _plan(out: Path, fmnist: Path) -> list[dict]:
    data = ["--data-dir", str(fmnist), "--device", "cpu"]
    diffusion = ["diffusion", "train", "--tiny", "--steps", "2", "--batch", "4", "--limit", "16",
                 "--checkpoint-every", "0", "--json", *data]
    return [
        {"name": "diffusion", "argv": [*diffusion, "--out", str(out / "diffusion")]},
        {"name": "diffusion-bf16", "argv": [*diffusion, "--mixed-precision", "bf16",
                                            "--out", str(out / "diffusion-bf16")]},
        {"name": "zoo", "argv": ["zoo", "train", "fmnist-cnn", "--epochs", "1", "--limit-batches", "2", "--limit",
                                 "50", "--json", "--out", str(out / "zoo"), *data]},
        {"name": "clip", "argv": ["clip", "train", "--epochs", "1", "--batch", "16", "--limit-images", "32",
                                  "--captions-per-class", "2", "--limit", "50", "--json", "--out", str(out / "clip"),
                                  *data]},
        {"name": "locator", "scenes_from": str(fmnist),
         "argv": ["locator", "train", "--size", "8", "--steps", "2", "--batch", "8", "--held-out", "16", "--json",
                  "--out", str(out / "locator"), "--device", "cpu"]},
        *_gan_plan(out, data),
        {"name": "noise", "argv": []},
        {"name": "grads", "argv": []},
    ]


def _gan_plan(out: Path, data: list[str]) -> list[dict]:
    """``gan train`` for 2 steps straight; for 1 step, then resumed to 2; EqGAN-SA (Grad-CAM alignment loss, a
    double backward in G's phase); with a global batch of 5 (refused)."""
    def gan(steps: int, run: str, model: str, *extra: str, arch: str = "stylegan2") -> list[str]:
        return ["gan", "train", "--arch", arch, "--tiny", "--steps", str(steps), "--batch", "4", "--limit", "16",
                "--json", "--run-dir", str(out / run), "--out", str(out / model), *extra, *data]
    return [
        {"name": "gan", "argv": gan(2, "gan-run", "gan")},
        {"name": "gan-eqgan", "argv": gan(2, "gan-eqgan-run", "gan-eqgan", arch="eqgan-sa")},
        {"name": "gan-step1", "argv": gan(1, "gan-resumed-run", "gan-step1")},
        {"name": "gan-resumed", "argv": gan(2, "gan-resumed-run", "gan-resumed", "--resume")},
        {"name": "gan-odd-batch", "argv": [*gan(1, "gan-odd-run", "gan-odd"), "--batch", "5"]},
    ]


@pytest.fixture(scope="module")
def launched(tmp_path_factory, fmnist_dir) -> Path:
    out = tmp_path_factory.mktemp("accelerate")
    plan = out / "plan.json"
    plan.write_text(json.dumps(_plan(out, fmnist_dir)))
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_ip", "127.0.0.1", "--main_process_port", str(_free_port()), str(WORKER), str(out), str(plan)]
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "XDG_CACHE_HOME": str(out / "cache"),
           "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-8000:]
    return out


def _record(out: Path, rank: int, name: str) -> Path:
    return out / f"rank{rank}" / name


@pytest.mark.parametrize("name", TRAINERS)
def test_trainer_runs_data_parallel_or_alike(launched, name):
    """Both processes finish, end with the same weights, and the model folder is complete and verified."""
    for rank in (0, 1):
        assert (_record(launched, rank, name) / "exit").read_text() == "0", (rank, name)
    mine, theirs = (load_file(_record(launched, r, name) / "trained.safetensors") for r in (0, 1))
    assert mine.keys() == theirs.keys() and mine
    for key, value in mine.items():
        if key.endswith(LOCAL_STATS):  # DDP: each process's BatchNorm statistics are its own slice's
            continue
        torch.testing.assert_close(theirs[key], value, rtol=0, atol=0, msg=key)  # DDP / same seed: bit-equal
    folder = launched / name
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["sha256"]["model.safetensors"] == sha256_file(folder / "model.safetensors")
    assert (folder / "config.json").is_file() and (folder / "run.json").is_file()
    printed = [line for line in _record(launched, 0, name).joinpath("stdout.txt").read_text().splitlines() if line]
    assert len(printed) == 1 and isinstance(json.loads(printed[0]), dict)  # --json: one object


def test_diffusion_bf16_autocast_trains_apart_from_fp32(launched):
    """--mixed-precision bf16 runs on CPU (torch's CPU autocast) and changes the numbers, so it is really on."""
    fp32, bf16 = (load_file(_record(launched, 0, n) / "trained.safetensors") for n in ("diffusion", "diffusion-bf16"))
    assert any(not torch.equal(fp32[k], bf16[k]) for k in fp32 if k.startswith("model."))
    config = json.loads((launched / "diffusion-bf16" / "run.json").read_text())["config"]
    assert config["mixed_precision"] == "bf16"


def _gan_weights(out: Path, name: str, rank: int = 0) -> dict[str, torch.Tensor]:
    return load_file(_record(out, rank, name) / "trained.safetensors")


@pytest.mark.parametrize("name", ["gan", "gan-step1", "gan-resumed", "gan-eqgan"])
def test_gan_trains_data_parallel(launched, name):
    """Gradients averaged after each phase (no DDP): both processes hold bit-identical G, D and EMA; only the
    main process wrote the model folder, the checkpoints and the one --json line."""
    for rank in (0, 1):
        assert (_record(launched, rank, name) / "exit").read_text() == "0", \
            (rank, name, (_record(launched, rank, name) / "stderr.txt").read_text()[-2000:])
    mine, theirs = _gan_weights(launched, name, 0), _gan_weights(launched, name, 1)
    assert mine.keys() == theirs.keys() and {k.split(".")[0] for k in mine} == {"G", "D", "ema"}
    for key, value in mine.items():
        torch.testing.assert_close(theirs[key], value, rtol=0, atol=0, msg=key)
    folder = launched / name
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["sha256"]["model.safetensors"] == sha256_file(folder / "model.safetensors")
    printed = [line for line in _record(launched, 0, name).joinpath("stdout.txt").read_text().splitlines() if line]
    assert len(printed) == 1 and json.loads(printed[0])["steps"] == (1 if name == "gan-step1" else 2)
    written = _record(launched, 1, name) / "writes.txt"
    assert not written.is_file() and _record(launched, 1, name).joinpath("stdout.txt").read_text() == ""


def test_gan_trained_and_resumes_exactly(launched):
    """Step 2 changed every network (it trained), and a run stopped after step 1 and resumed with the same two
    processes (per-process RNG streams, Adam, EMA and data position from the checkpoint) equals the straight
    run bit for bit."""
    straight, step1, resumed = (_gan_weights(launched, n) for n in ("gan", "gan-step1", "gan-resumed"))
    for part in ("G", "D", "ema"):
        assert any(not torch.equal(straight[k], step1[k]) for k in straight if k.startswith(f"{part}.")), part
    for key, value in straight.items():
        torch.testing.assert_close(resumed[key], value, rtol=0, atol=0, msg=key)
    state = json.loads((launched / "gan-resumed-run" / "last" / "state.json").read_text())
    assert state["num_processes"] == 2 and len(state["rng"]) == 2 and state["rng"][0] != state["rng"][1]


def test_gan_resumes_in_one_process(launched, tmp_path, fmnist_dir):
    """The 2-process checkpoint continues in one process (as the shared loop: same data position, RNG streams
    re-seeded from the seed and the step), and its history keeps the earlier steps."""
    from genlens.cli.main import main

    run = tmp_path / "run"
    shutil.copytree(launched / "gan-resumed-run", run)
    with pytest.raises(SystemExit) as done:
        main(["gan", "train", "--arch", "stylegan2", "--tiny", "--steps", "3", "--batch", "4", "--limit", "16",
              "--resume", "--json", "--run-dir", str(run), "--out", str(tmp_path / "model"), "--data-dir",
              str(fmnist_dir), "--device", "cpu"])
    assert done.value.code in (0, None)
    state = json.loads((run / "last" / "state.json").read_text())
    assert state["step"] == 3 and state["num_processes"] == 1 and len(state["rng"]) == 1
    assert [r["step"] for r in state["history"]] == [1, 2, 3]


def test_gan_refuses_a_batch_not_divisible_by_the_processes(launched):
    for rank in (0, 1):
        record = _record(launched, rank, "gan-odd-batch")
        assert (record / "exit").read_text() == "2"
        lines = [line for line in (record / "stderr.txt").read_text().splitlines() if line.strip()]
        assert len(lines) == 1 and "not divisible by the 2 processes" in lines[0], lines
    assert not (launched / "gan-odd" / "model.safetensors").exists()


def test_processes_draw_their_own_noise(launched):
    """The shared loop re-seeds the caller's generators per process: slices of a global batch never share
    their noise (rank 0 keeps the stream a single process would start with)."""
    draws = [load_file(_record(launched, r, "noise") / "draws.safetensors")["draws"] for r in (0, 1)]
    assert draws[0].shape == draws[1].shape == (2, 3)  # 1 step x local batch 2
    assert not torch.isclose(draws[0], draws[1]).any()
    assert torch.equal(draws[0], torch.randn((2, 3), generator=torch.Generator().manual_seed(5)))


def _worker():
    spec = importlib.util.spec_from_file_location("genlens_cli_worker", WORKER)
    worker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker)
    return worker


def _halves(out: Path, name: str) -> list[torch.Tensor]:
    """What each process's own loop trained on: (steps, local batch) item indices per rank."""
    return [load_file(_record(out, r, name) / "indices.safetensors")["indices"] for r in (0, 1)]


def test_clip_processes_split_every_global_batch(launched):
    """32 images, global batch 16, one epoch: 2 steps x 2 processes x 8 images; together the processes see
    every image exactly once, so each trained on its own, disjoint half of every global batch."""
    halves = _halves(launched, "clip")
    assert halves[0].shape == halves[1].shape == (2, 8)
    assert torch.equal(torch.cat(halves).flatten().sort().values, torch.arange(32))


def test_locator_processes_split_every_global_batch(launched, fmnist_dir, tmp_path, monkeypatch):
    """The locator draws its batches with replacement: rank 0's and rank 1's halves of each step, joined, are
    the global batch that one process (no launcher, the same command) trains on at that step."""
    import genlens.cli.locator as locator_cli
    import genlens.metrics.locator_train as locator_train
    from genlens.cli.main import main as genlens_main

    worker, alone = _worker(), []
    monkeypatch.setattr(locator_train, "scene_targets", worker.recording_indices(locator_train.scene_targets, alone))
    monkeypatch.setattr(locator_cli, "_scenes", worker.small_scenes(str(fmnist_dir)))
    argv = next(e["argv"] for e in _plan(launched, fmnist_dir) if e["name"] == "locator")
    argv[argv.index("--out") + 1] = str(tmp_path / "alone")
    with pytest.raises(SystemExit) as done:
        genlens_main(argv)
    assert done.value.code in (0, None)
    halves = _halves(launched, "locator")
    assert halves[0].shape == halves[1].shape == (2, 4)  # 2 steps, global batch 8
    assert torch.equal(torch.cat(halves, dim=1), torch.stack(alone))


def test_own_losses_give_one_process_gradient(launched):
    """clip's loss over features gathered with their gradient, and the locator's loss with global normalisers:
    two processes holding halves of a global batch end (after DDP's mean) with one process's gradient."""
    alone = _worker().own_loss_grads()
    for rank in (0, 1):
        two = load_file(_record(launched, rank, "grads") / "grads.safetensors")
        assert two.keys() == alone.keys() and any(k.startswith("clip.") for k in two)
        for key, value in alone.items():
            torch.testing.assert_close(two[key], value, rtol=0, atol=1e-6, msg=key)


def test_resuming_in_another_process_count_reseeds_from_seed_and_step(launched):
    """The 2-process run stopped after step 1; one process resumes it: the saved streams (one per process) do
    not map, so the caller's generator restarts from (its seed, rank 0, step 1), never from step 0's draws."""
    worker = _worker()
    draws = worker.noise_run(launched / "noise-run", stop_at=None)
    assert len(draws) == 1 and draws[0].shape == (4, 3)  # step 2 only, the whole global batch
    expected = torch.randn((4, 3), generator=torch.Generator().manual_seed(5 + 1_000_003))
    assert torch.equal(draws[0], expected)


@pytest.mark.parametrize("name", TRAINERS)
def test_only_the_main_process_writes(launched, name):
    written = _record(launched, 1, name) / "writes.txt"
    others = written.read_text().splitlines() if written.is_file() else []
    # caches (the sentence encoder's) may be filled by any process: each write is atomic and the content the same
    others = [p for p in others if f"{os.sep}cache{os.sep}" not in p]
    assert others == [] and _record(launched, 1, name).joinpath("stdout.txt").read_text() == ""
