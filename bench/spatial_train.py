"""Pre-registered training runs of issue 27 on fashion-scenes, trained through the ``genlens`` CLI, resumably, with the
CPU-hours each took (issue 27, "Targets": "say the CPU-hours each took").

The runs, fixed before any result: the layout diffusion model (``scenes-ddpm-layout``) and, for the EqGAN-SA
comparison, the StyleGAN2-style baseline, SEL-only and EqGAN-SA with two training seeds each, ~80 kimg (1250 steps
of batch 64) at the ``half`` widths the shipped CPU GANs use. Each run is one CLI command with ``--resume``: a run
whose folder holds a checkpoint continues it exactly, a finished one is left alone (the CLI exits 0 and says so), so
the driver can be stopped at any time and started again in a later session. Each segment's CPU seconds (user + system
of the child process, from ``getrusage``) and wall seconds are added to the run's entry in the result file.

    python bench/spatial_train.py --list                      # the plan, each run's state and CPU-hours so far
    python bench/spatial_train.py --estimate                  # time a few steps of each, extrapolate CPU-hours
    python bench/spatial_train.py scenes-eqgan-s0 scenes-sel-only-s0      # train (or resume) these runs
    python bench/spatial_train.py --smoke --root /tmp/smoke --out /tmp/smoke/train.json   # tiny, seconds
    python bench/spatial_train.py --gpu-seeds --device cuda --root runs/gpu   # where a GPU is lent: three seeds

Where a GPU is lent the issue asks for three training seeds: ``GPU_TRAINING_SEEDS`` adds the runs of seed 2
(``scenes-gan-s2``, ``scenes-sel-only-s2``, ``scenes-eqgan-s2``: ``GPU_RUNS``, the same commands with another seed).
They are selected by name or all together by ``--gpu-seeds``; the CPU plan (``PLAN``, the default) is unchanged.
``scripts/train_spatial_gpu.sh`` trains every run of both at once on one GPU within a wall budget.

The GAN run dirs are what ``bench/spatial.py --sa ROLE:RUN_DIR`` compares (``--sa-plan`` takes them all from here).
Writes bench/results/spatial_train.json.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, load_average, write_json

HERE = Path(__file__).resolve().parent

# --- pre-registered plan (issue 27): change only with a note in docs/spatial.md ----------------------------
KIMG = 80
GAN_BATCH = 64
GAN_STEPS = KIMG * 1000 // GAN_BATCH  # 1250 steps of 64 = 80 kimg
GAN_SIZE = "half"  # the shipped CPU-trained GANs' widths
TRAINING_SEEDS = (0, 1)  # two per EqGAN-SA comparison variant on CPU
GPU_TRAINING_SEEDS = (0, 1, 2)  # three where a GPU is lent; the extra seeds' runs are GPU_RUNS (--gpu-seeds)
ROLE_OF_ARCH = {"stylegan2": "baseline", "sel-only": "sel-only", "eqgan-sa": "eqgan-sa"}
NAME_OF_ARCH = {"stylegan2": "scenes-gan", "sel-only": "scenes-sel-only", "eqgan-sa": "scenes-eqgan"}
DIFFUSION_STEPS, DIFFUSION_BATCH = 30000, 64
THREADS = 1  # one thread per run: two runs share the 2-core machine (bench/gan_scenes.py times it this way)
# --estimate: two short fresh runs per arch; a GAN measures DI every max(steps // 20, 1) steps, so 20 and 40 steps
# both measure it 20 times and their difference is 20 plain training steps (5 of them with lazy R1, as in the runs)
ESTIMATE_STEPS = (20, 40)
SMOKE = {"steps": 2, "batch": 8, "limit": 16}


@dataclass(frozen=True)
class Run:  # (no `from __future__ import annotations`: tests load this script outside sys.modules)
    name: str
    kind: str  # "gan" | "diffusion"
    arch: str  # GAN arch, or the diffusion condition
    seed: int
    steps: int
    batch: int
    folder: str  # relative to --root: the GAN run dir (model in FOLDER/model) or the diffusion model folder

    @property
    def kimg(self) -> float:
        return self.steps * self.batch / 1000

    @property
    def role(self) -> str | None:
        return ROLE_OF_ARCH.get(self.arch) if self.kind == "gan" else None

    def command(self, root: Path, *, smoke: bool = False, steps: int | None = None, folder: Path | None = None,
                device: str = "cpu") -> list[str]:
        """The ``genlens`` arguments (after ``genlens``) that train or resume this run."""
        where = folder if folder is not None else root / self.folder
        steps = steps or (SMOKE["steps"] if smoke else self.steps)
        batch = SMOKE["batch"] if smoke else self.batch
        tail = ["--limit", str(SMOKE["limit"])] if smoke else []
        if self.kind == "gan":
            return ["gan", "train", "--arch", self.arch, "--data", "fashion-scenes",
                    *(["--tiny"] if smoke else ["--size", GAN_SIZE]), "--batch", str(batch), "--steps", str(steps),
                    "--seed", str(self.seed), "--run-dir", str(where), "--out", str(where / "model"),
                    "--checkpoint-every", "1" if smoke else "50", "--device", device, "--resume", *tail]
        return ["diffusion", "train", "--data", "fashion-scenes", "--cond", self.arch,
                *(["--tiny"] if smoke else ["--size", "small"]), "--steps", str(steps), "--batch", str(batch),
                "--checkpoint-every", "1" if smoke else "1000", "--out", str(where), "--seed", str(self.seed),
                "--device", device, "--resume", *tail]

    def checkpoint_dir(self, root: Path) -> Path:
        return root / self.folder / ("checkpoints" if self.kind == "diffusion" else "")


def gan_runs(seeds: tuple[int, ...]) -> tuple[Run, ...]:
    """The comparison's GAN runs (baseline, SEL-only, EqGAN-SA) for each training seed of ``seeds``."""
    return tuple(Run(f"{NAME_OF_ARCH[arch]}-s{seed}", "gan", arch, seed, GAN_STEPS, GAN_BATCH,
                     f"runs/spatial/{NAME_OF_ARCH[arch]}-s{seed}")
                 for arch in ("stylegan2", "sel-only", "eqgan-sa") for seed in seeds)


PLAN: tuple[Run, ...] = (
    Run("scenes-ddpm-layout", "diffusion", "layout", 0, DIFFUSION_STEPS, DIFFUSION_BATCH,
        "runs/diffusion/scenes-ddpm-layout"),
    *gan_runs(TRAINING_SEEDS),
)
GPU_RUNS: tuple[Run, ...] = gan_runs(tuple(s for s in GPU_TRAINING_SEEDS if s not in TRAINING_SEEDS))


def steps_done(run: Run, root: Path) -> int:
    """The step of the run's last intact checkpoint (0 when none)."""
    from genlens.training.checkpoint import find_checkpoint, read_checkpoint_state

    folder = run.checkpoint_dir(root)
    return int(read_checkpoint_state(folder)["step"]) if find_checkpoint(folder) is not None else 0


def select(names: list[str], *, gpu_seeds: bool = False) -> list[Run]:
    """The runs named (any of PLAN and GPU_RUNS); none named: PLAN, plus GPU_RUNS with ``gpu_seeds``."""
    known = {r.name: r for r in (*PLAN, *GPU_RUNS)}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"spatial_train.py: unknown run {', '.join(unknown)}; choose from {', '.join(known)}")
    return [known[n] for n in names] if names else [*PLAN, *(GPU_RUNS if gpu_seeds else ())]


def child_env(threads: int) -> dict[str, str]:
    src = str(HERE.parent / "src")
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
            "PYTHONPATH": src + (os.pathsep + path if path else "")}


class Interrupted(Exception):
    """Ctrl-C during a run: the child checkpointed and stopped; ``segment`` holds the time it took."""

    def __init__(self, segment: dict[str, Any]) -> None:
        super().__init__("interrupted")
        self.segment = segment


def timed(args: list[str], *, threads: int, quiet: bool = False) -> dict[str, Any]:
    """Run ``genlens ARGS`` in a child process: exit code, CPU seconds (user + system) and wall seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    sink = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen([sys.executable, "-m", "genlens.cli", *args], env=child_env(threads), stdout=sink,
                            stderr=sink)
    interrupted = False
    try:
        proc.wait()
    except KeyboardInterrupt:  # Ctrl-C reaches the child too (it checkpoints and stops): count its time, then stop
        interrupted = True
        proc.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    segment = {"exit": proc.returncode, "wall_s": round(time.perf_counter() - t0, 2),
               "cpu_s": round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 2)}
    if interrupted:
        raise Interrupted(segment)
    return segment


def read_results(out: Path) -> dict[str, Any]:
    return json.loads(out.read_text()) if out.is_file() else {}


def record(out: Path, run: Run, root: Path, segment: dict[str, Any], *, smoke: bool) -> dict[str, Any]:
    """Add one training segment to the run's entry and write the result file (after every segment)."""
    data = read_results(out)
    runs = data.setdefault("runs", {})
    entry = runs.setdefault(run.name, {"kind": run.kind, "arch": run.arch, "seed": run.seed, "steps": run.steps,
                                       "batch": run.batch, "kimg": run.kimg, "folder": str(root / run.folder),
                                       "role": run.role, "segments": []})
    entry["segments"].append(segment)
    entry["cpu_hours"] = round(sum(s["cpu_s"] for s in entry["segments"]) / 3600, 4)
    entry["wall_hours"] = round(sum(s["wall_s"] for s in entry["segments"]) / 3600, 4)
    entry["steps_done"] = steps_done(run, root)
    entry["finished"] = entry["steps_done"] >= (SMOKE["steps"] if smoke else run.steps)
    data.update({"benchmark": "spatial_train", "smoke": smoke, "threads": segment["threads"],
                 "cpu_hours": "user + system CPU seconds of each training process / 3600, summed over its segments",
                 "env": {**environment(torch.device("cpu")), "load_average": load_average()}})
    write_json(out, data)
    return entry


def train(runs: list[Run], *, root: Path, out: Path, threads: int, smoke: bool, device: str) -> dict[str, Any]:
    for run in runs:
        args = run.command(root, smoke=smoke, device=device)
        start = steps_done(run, root)
        if start >= (SMOKE["steps"] if smoke else run.steps):
            print(f"{run.name}: finished ({start} steps)", flush=True)
            continue
        print(f"{run.name}: from step {start}: genlens {' '.join(args)}", flush=True)
        try:
            seg = timed(args, threads=threads)
        except Interrupted as stop:
            record(out, run, root, {**stop.segment, "from_step": start, "threads": threads, "interrupted": True},
                   smoke=smoke)
            raise SystemExit(f"spatial_train.py: {run.name} interrupted; run the same command again to resume") from None
        # 130: the child was stopped by SIGINT sent to it alone (a driver started in the background ignores SIGINT,
        # so `kill -INT <child>` is how such a run is paused); it checkpointed like a Ctrl-C
        stopped = seg["exit"] == 130
        entry = record(out, run, root, {**seg, "from_step": start, "threads": threads,
                                        **({"interrupted": True} if stopped else {})}, smoke=smoke)
        if stopped:
            raise SystemExit(f"spatial_train.py: {run.name} interrupted at step {entry['steps_done']}; run the same "
                             "command again to resume")
        if seg["exit"] != 0:
            raise SystemExit(f"spatial_train.py: {run.name} stopped with exit code {seg['exit']} at step "
                             f"{entry['steps_done']}; fix the cause and run it again (it resumes)")
        print(f"{run.name}: step {entry['steps_done']}, {entry['cpu_hours']} CPU-h so far", flush=True)
    return read_results(out)


def estimate(runs: list[Run], *, threads: int, device: str, smoke: bool = False) -> dict[str, Any]:
    """CPU-hours of each run: c1 + (steps - k1) * (c2 - c1) / (k2 - k1), from the CPU seconds c1, c2 of two short
    fresh runs of k1, k2 = ESTIMATE_STEPS steps (start-up and DI paid alike; the seeds of one arch share a timing)."""
    rows: dict[str, Any] = {}
    timings: dict[tuple[str, str], tuple[list[float], str]] = {}
    k1, k2 = ESTIMATE_STEPS
    for run in runs:
        key = (run.kind, run.arch)
        if key not in timings:
            cpu = []
            for steps in (k1, k2):
                with tempfile.TemporaryDirectory() as tmp:
                    seg = timed(run.command(Path(tmp), smoke=smoke, steps=steps, folder=Path(tmp) / "run",
                                            device=device), threads=threads, quiet=True)
                if seg["exit"] != 0:
                    raise SystemExit(f"spatial_train.py: estimating {run.name} failed (exit {seg['exit']})")
                cpu.append(seg["cpu_s"])
            timings[key] = (cpu, run.name)
        cpu, timed_as = timings[key]
        per_step = (cpu[1] - cpu[0]) / (k2 - k1)
        steps = SMOKE["steps"] if smoke else run.steps
        total = cpu[0] + per_step * max(0, steps - k1)
        rows[run.name] = {"cpu_s_per_step": round(per_step, 3), "steps": steps, "cpu_s_short_runs": cpu,
                          "timed_as": timed_as, "cpu_hours": round(total / 3600, 3)}
        print(f"{run.name}: {per_step:.2f} CPU-s/step -> {rows[run.name]['cpu_hours']} CPU-h", flush=True)
    return {"runs": rows, "threads": threads, "smoke": smoke, "method": f"c1 + (steps - {k1}) * (c2 - c1) / "
            f"{k2 - k1}, c1 and c2 the CPU seconds of fresh {k1}- and {k2}-step runs of the same command"}


def listing(runs: list[Run], *, root: Path, out: Path) -> list[dict[str, Any]]:
    done = read_results(out).get("runs", {})
    rows = []
    for run in runs:
        row = {"name": run.name, "kind": run.kind, "arch": run.arch, "seed": run.seed, "steps": run.steps,
               "batch": run.batch, "kimg": run.kimg, "folder": str(root / run.folder), "steps_done": steps_done(run, root),
               "cpu_hours": done.get(run.name, {}).get("cpu_hours", 0.0),
               "command": "genlens " + " ".join(run.command(root))}
        rows.append(row)
        print(f"{row['name']:22s} {row['kind']:9s} {row['arch']:9s} seed {row['seed']}  {row['kimg']:g} kimg  "
              f"step {row['steps_done']}/{row['steps']}  {row['cpu_hours']} CPU-h\n    {row['command']}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> Any:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="*", help="run names (default: every run of the plan)")
    ap.add_argument("--list", action="store_true", help="print the plan, each run's step and CPU-hours; train nothing")
    ap.add_argument("--estimate", action="store_true", help="time short fresh runs and extrapolate CPU-hours")
    ap.add_argument("--smoke", action="store_true", help=f"tiny networks, {SMOKE} (seconds)")
    ap.add_argument("--gpu-seeds", action="store_true", help=f"with no run named: also the runs of the training seeds "
                    f"a lent GPU adds ({', '.join(r.name for r in GPU_RUNS)})")
    ap.add_argument("--root", default=".", help="folder the run folders are relative to (default: the current one)")
    ap.add_argument("--threads", type=int, default=THREADS, help="OMP threads of each training process")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(HERE / "results" / "spatial_train.json"))
    args = ap.parse_args(argv)
    runs, root, out = select(args.runs, gpu_seeds=args.gpu_seeds), Path(args.root), Path(args.out)
    if args.smoke and out.resolve() == (HERE / "results" / "spatial_train.json").resolve():
        raise SystemExit("spatial_train.py: --smoke must not write the real result file; pass --out")
    if args.list:
        return listing(runs, root=root, out=out)
    if args.estimate:
        result = estimate(runs, threads=args.threads, device=args.device, smoke=args.smoke)
        data = read_results(out)
        data["estimate"] = result
        write_json(out, data)
        return result
    return train(runs, root=root, out=out, threads=args.threads, smoke=args.smoke, device=args.device)


if __name__ == "__main__":
    main()
