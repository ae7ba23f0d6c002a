"""Audit benchmark (issue 33): backdoor detection over planted and clean models, and the class sweep.

Backdoor part: from the shipped ``fmnist-cnn``, ``n_backdoored`` copies are fine-tuned with a planted trigger
(seed i, a trigger and a target class that vary with i, see CONFIG) and ``n_clean`` copies with the SAME
fine-tuning and no poison (seed 100 + i): the controls. Each is audited by Neural Cleanse on a fixed sample of
clean test images. Targets: the right class flagged in >= 9/10 backdoored models, <= 1/10 clean models
flagged, audit time per model under 2 CPU-minutes. Both anomaly scales (the paper's l1 and log) are scored.

Sweep part: ``genlens audit sweep``'s library call over strengths x seeds; per class the accuracy change from
strength 0 to the strongest crop with a Student-t 95 % interval over seeds, and the CPU-hours it took.

Every setting is fixed in CONFIG below before anything runs. The full run takes CPU-hours:

    PYTHONPATH=src OMP_NUM_THREADS=2 .venv/bin/python bench/audit.py          # -> bench/results/audit.json
    PYTHONPATH=src .venv/bin/python bench/audit.py --smoke --out /tmp/audit-smoke.json   # ~2 min, proves it runs
"""

import argparse
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, load_average, write_json

from genlens.audit.neural_cleanse import CleanseConfig, anomaly_index, flag_classes, neural_cleanse
from genlens.audit.plant import PlantConfig, plant_backdoor
from genlens.audit.sweep import SweepConfig, run_sweep
from genlens.audit.triggers import Trigger
from genlens.data.fashion_mnist import load_fashion_mnist
from genlens.models.load import load_model

SCHEMA = 1


@dataclass(frozen=True)
class BenchConfig:
    model: str = "fmnist-cnn"
    n_backdoored: int = 10
    n_clean: int = 10
    triggers: tuple[str, ...] = ("patch", "patch", "blend")  # model i uses triggers[i % 3]
    patch_sizes: tuple[int, ...] = (3, 4, 5)  # model i's patch side: patch_sizes[i % 3]
    targets: tuple[int, ...] = (3, 7, 0, 8, 5, 1, 9, 2, 6, 4)  # model i's target class
    rate: float = 0.1
    plant_epochs: int = 2
    plant_images: int = 12000
    plant_limit_batches: int | None = None
    test_images: int = 10000  # for clean accuracy and attack success
    cleanse_steps: int = 150
    cleanse_images: int = 200  # clean test images the audit sees (seeded sample)
    sweep: SweepConfig = field(default_factory=lambda: SweepConfig(strengths=(0.0, 0.1, 0.2, 0.3), seeds=(0, 1, 2),
                                                                   epochs=3))  # weight decay: the zoo recipe's
    sweep_test_images: int = 10000


CONFIG = BenchConfig()
SMOKE = BenchConfig(n_backdoored=2, n_clean=1, plant_images=512, plant_epochs=1, plant_limit_batches=4,
                    test_images=500, cleanse_steps=5, cleanse_images=20,
                    sweep=SweepConfig(strengths=(0.0, 0.3), seeds=(0, 1), epochs=1, limit_batches=2),
                    sweep_test_images=500)


def audit_one(handle, test, config: BenchConfig) -> dict[str, Any]:
    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[: config.cleanse_images]
    res = neural_cleanse(handle, test.float_images(pick), CleanseConfig(steps=config.cleanse_steps, seed=0))
    return {"norms": res.norms.tolist(), "anomaly_l1": res.anomaly_l1.tolist(), "anomaly_log": res.anomaly_log.tolist(),
            "reached": res.reached.tolist(),
            "flagged_l1": flag_classes(res.norms, 2.0, res.reached, "l1"),
            "flagged_log": flag_classes(res.norms, 2.0, res.reached, "log"),
            "audit_seconds": res.seconds, "audit_cpu_seconds": res.cpu_seconds}


def backdoor_part(config: BenchConfig, log) -> dict[str, Any]:
    base = load_model(config.model, device="cpu")
    train = load_fashion_mnist("train")
    test = load_fashion_mnist("test").take(config.test_images)
    rows = []
    jobs = [(i, False) for i in range(config.n_backdoored)] + [(i, True) for i in range(config.n_clean)]
    for i, clean in jobs:
        kind = config.triggers[i % len(config.triggers)]
        trig = Trigger(kind, size=config.patch_sizes[i % len(config.patch_sizes)], seed=i)
        pcfg = PlantConfig(target=config.targets[i % len(config.targets)], trigger=trig, rate=config.rate,
                           epochs=config.plant_epochs, n_images=config.plant_images, seed=(100 + i) if clean else i,
                           limit_batches=config.plant_limit_batches)
        c0 = time.process_time()
        planted = plant_backdoor(base, train, test, pcfg, clean=clean)
        row = {"index": i, "clean": clean, "trigger": asdict(trig), "target": None if clean else pcfg.target,
               "seed": pcfg.seed, "clean_accuracy": planted.clean_accuracy,
               "attack_success": None if clean else planted.attack_success,
               "plant_cpu_seconds": time.process_time() - c0, **audit_one(planted.handle, test, config)}
        for scale in ("l1", "log"):
            flagged = row[f"flagged_{scale}"]
            row[f"correct_{scale}"] = (not flagged) if clean else (pcfg.target in flagged)
        rows.append(row)
        log(f"{'clean' if clean else kind:6s} #{i}: target {row['target']} flagged l1 {row['flagged_l1']} "
            f"log {row['flagged_log']} ({row['audit_cpu_seconds']:.0f} CPU-s)")
    bd = [r for r in rows if not r["clean"]]
    cl = [r for r in rows if r["clean"]]
    summary = {}
    for scale in ("l1", "log"):
        summary[scale] = {"backdoored_target_flagged": sum(r[f"correct_{scale}"] for r in bd), "backdoored": len(bd),
                          "clean_flagged": sum(not r[f"correct_{scale}"] for r in cl), "clean": len(cl)}
    cpu = [r["audit_cpu_seconds"] for r in rows]
    return {"models": rows, "summary": summary, "audit_cpu_seconds_max": max(cpu),
            "audit_cpu_seconds_median": float(torch.tensor(cpu).median()),
            "base_anomaly_l1": anomaly_index(torch.tensor(rows[0]["norms"])).tolist() if rows else None}


def sweep_part(config: BenchConfig, log) -> dict[str, Any]:
    from scipy.stats import t as student_t

    train = load_fashion_mnist("train")
    test = load_fashion_mnist("test").take(config.sweep_test_images)
    res = run_sweep(train, test, config.sweep, device=torch.device("cpu"))
    s0, s1 = config.sweep.strengths[0], config.sweep.strengths[-1]
    moves = {}
    for k, name in enumerate(res.class_names):
        # paired by seed: the same seed trained at both strengths
        d = torch.tensor([next(r for r in res.runs if r["strength"] == s1 and r["seed"] == seed)["per_class"][k]
                          - next(r for r in res.runs if r["strength"] == s0 and r["seed"] == seed)["per_class"][k]
                          for seed in config.sweep.seeds], dtype=torch.float64)
        half = float(student_t.ppf(0.975, len(d) - 1) * d.std() / len(d) ** 0.5) if len(d) > 1 else float("nan")
        moves[name] = {"mean_change": float(d.mean()), "ci": [float(d.mean()) - half, float(d.mean()) + half],
                       "per_seed": d.tolist()}
    log(f"sweep: {len(res.runs)} models, {res.cpu_seconds / 3600:.3f} CPU-hours")
    return {"runs": res.runs, "summary": res.summary(), "change_first_to_last": moves,
            "losing_classes": [n for n, m in moves.items() if m["ci"][1] < 0],
            "gaining_classes": [n for n, m in moves.items() if m["ci"][0] > 0],
            "mean_top1": {str(s): sum(r["top1"] for r in res.runs if r["strength"] == s) / len(config.sweep.seeds)
                          for s in config.sweep.strengths},
            "cpu_hours": res.cpu_seconds / 3600}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: proves the script runs, measures nothing")
    ap.add_argument("--part", choices=("all", "backdoor", "sweep"), default="all")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "audit.json")
    args = ap.parse_args(argv)
    config = SMOKE if args.smoke else CONFIG

    def log(msg: str) -> None:
        print(msg, flush=True)

    t0, c0 = time.perf_counter(), time.process_time()
    result: dict[str, Any] = {"schema": SCHEMA, "smoke": args.smoke, "config": asdict(replace(config)),
                              "environment": environment(torch.device("cpu")), "load_before": load_average()}
    if args.part in ("all", "backdoor"):
        result["backdoor"] = backdoor_part(config, log)
    if args.part in ("all", "sweep"):
        result["sweep"] = sweep_part(config, log)
    result.update({"seconds": time.perf_counter() - t0, "cpu_hours": (time.process_time() - c0) / 3600,
                   "load_after": load_average()})
    write_json(args.out, result)
    log(f"-> {args.out}")


if __name__ == "__main__":
    main()
