"""Per-class accuracy across an augmentation-strength or weight-decay sweep, over seeds (Balestriero, Bottou &
LeCun 2022, arXiv 2204.03632, fig. 1: augmentation and weight decay raise mean accuracy while some classes lose).

Each (strength, seed) trains the zoo model with the zoo's own trainer (``train_zoo_model``) and a short recipe
(``epochs``, optional ``weight_decay``), then scores every class on the test split. Across seeds, each
class's mean accuracy at each strength gets a Student-t 95 % interval (n seeds, n - 1 degrees of freedom).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch

from genlens.data.base import ImageData
from genlens.errors import GenlensError

Callback = Callable[[dict[str, Any]], None]

# what is swept (``--aug``) -> the zoo TrainConfig field each ``--strength`` value sets: a random-resized-crop
# strength, or the weight decay itself (no augmentation)
AUGMENTATIONS = {"random-crop": "random_crop", "weight-decay": "weight_decay"}
MIN_SEEDS = 2  # a Student-t interval needs n - 1 >= 1 degrees of freedom


@dataclass(frozen=True)
class SweepConfig:
    aug: str = "random-crop"
    strengths: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3)
    seeds: tuple[int, ...] = (0, 1, 2)
    weight_decay: float | None = None  # None: the zoo recipe's value
    epochs: int = 3
    model: str = "fmnist-cnn"
    limit_batches: int | None = None  # smoke tests

    def __post_init__(self) -> None:
        if self.aug not in AUGMENTATIONS:
            raise GenlensError(f"unknown sweep '{self.aug}'; choose --aug {' or '.join(AUGMENTATIONS)}")
        if not self.strengths or any(not 0.0 <= s < 1.0 for s in self.strengths):
            raise GenlensError(f"strengths must be in [0, 1), got {list(self.strengths)}; pass e.g. --strength 0,0.1,0.2")
        if len(set(self.strengths)) != len(self.strengths) or len(set(self.seeds)) != len(self.seeds):
            raise GenlensError(f"strengths {list(self.strengths)} or seeds {list(self.seeds)} repeat a value; "
                               "list each once, e.g. --strength 0,0.1,0.2 --seeds 0,1,2")
        if len(self.seeds) < MIN_SEEDS:
            raise GenlensError(f"the 95 % interval over seeds needs at least {MIN_SEEDS} seeds, got "
                               f"{len(self.seeds)}; pass --seeds 0,1,2 (3 or more recommended)")
        if self.epochs < 1:
            raise GenlensError(f"--epochs must be at least 1, got {self.epochs}")
        if self.aug == "weight-decay" and self.weight_decay is not None:
            raise GenlensError("--aug weight-decay sweeps the weight decay itself: give its values with --strength "
                               "(e.g. 0,5e-4,5e-3,0.05) and leave --weight-decay out")
        if self.weight_decay is not None and self.weight_decay < 0:
            raise GenlensError(f"weight decay must be >= 0, got {self.weight_decay}")


@dataclass
class SweepResult:
    config: SweepConfig
    class_names: tuple[str, ...]
    runs: list[dict[str, Any]]  # one per (strength, seed): per-class accuracy, top-1, seconds, cpu_seconds
    cpu_seconds: float

    def summary(self, level: float = 0.95) -> dict[str, Any]:
        """Per class and strength: mean accuracy over seeds and its Student-t interval."""
        from scipy.stats import t as student_t

        out: dict[str, Any] = {}
        for k, name in enumerate(self.class_names):
            rows = []
            for s in self.config.strengths:
                accs = torch.tensor([r["per_class"][k] for r in self.runs if r["strength"] == s], dtype=torch.float64)
                mean = float(accs.mean())
                if len(accs) > 1:
                    half = float(student_t.ppf(0.5 + level / 2, len(accs) - 1) * accs.std() / len(accs) ** 0.5)
                else:
                    half = float("nan")
                rows.append({"strength": s, "mean": mean, "ci": [mean - half, mean + half], "n_seeds": len(accs)})
            out[name] = rows
        return out

    def change(self, level: float = 0.95) -> dict[str, Any]:
        """Per class: accuracy at the last strength minus at the first, paired by seed (the same seed trained at
        both), with its Student-t interval over the seeds present at both; and the classes whose whole interval
        lies below (``losing``) or above (``gaining``) 0."""
        from scipy.stats import t as student_t

        s0, s1 = self.config.strengths[0], self.config.strengths[-1]
        at = {(r["strength"], r["seed"]): r for r in self.runs}
        seeds = [seed for seed in self.config.seeds if (s0, seed) in at and (s1, seed) in at]
        per_class: dict[str, Any] = {}
        for k, name in enumerate(self.class_names):
            d = torch.tensor([at[(s1, seed)]["per_class"][k] - at[(s0, seed)]["per_class"][k] for seed in seeds],
                             dtype=torch.float64)
            mean = float(d.mean()) if len(d) else float("nan")
            half = float(student_t.ppf(0.5 + level / 2, len(d) - 1) * d.std() / len(d) ** 0.5) if len(d) > 1 \
                else float("nan")
            per_class[name] = {"mean_change": mean, "ci": [mean - half, mean + half], "per_seed": d.tolist()}
        return {"from": s0, "to": s1, "seeds": seeds, "per_class": per_class,
                "losing": [n for n, c in per_class.items() if c["ci"][1] < 0],
                "gaining": [n for n, c in per_class.items() if c["ci"][0] > 0]}


def check_sweep_data(train: ImageData, config: SweepConfig) -> None:
    from genlens.models.zoo import get_spec

    spec = get_spec(config.model)
    if tuple(train.class_names) != tuple(spec.class_names):
        raise GenlensError(f"{config.model} is built for {len(spec.class_names)} Fashion-MNIST classes but "
                           f"{train.name} has {train.num_classes}; sweep on Fashion-MNIST")


def train_point(train: ImageData, test: ImageData, config: SweepConfig, *, strength: float, seed: int,
                device: torch.device) -> dict[str, Any]:
    """Train one model of the sweep (one strength, one seed) and score every class on ``test``."""
    from genlens.audit.classes import per_class_correct
    from genlens.models.zoo import get_spec
    from genlens.models.zoo.train import train_zoo_model

    check_sweep_data(train, config)
    cfg = replace(get_spec(config.model).train, epochs=config.epochs, seed=seed)
    if config.weight_decay is not None:
        cfg = replace(cfg, weight_decay=config.weight_decay)
    cfg = replace(cfg, **{AUGMENTATIONS[config.aug]: strength})
    t0, cs = time.perf_counter(), time.process_time()
    result = train_zoo_model(config.model, train, device=device, config=cfg, limit_batches=config.limit_batches)
    correct = per_class_correct(result.handle, test)
    per_class = [float(correct[test.labels == k].float().mean()) if (test.labels == k).any() else float("nan")
                 for k in range(test.num_classes)]
    return {"strength": strength, "seed": seed, "per_class": per_class, "top1": float(correct.float().mean()),
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - cs}


def run_sweep(train: ImageData, test: ImageData, config: SweepConfig, *, device: torch.device,
              callback: Callback | None = None) -> SweepResult:
    check_sweep_data(train, config)
    c0 = time.process_time()
    runs = []
    total = len(config.strengths) * len(config.seeds)
    for s in config.strengths:
        for seed in config.seeds:
            runs.append(train_point(train, test, config, strength=s, seed=seed, device=device))
            if callback is not None:
                callback({"step": len(runs), "total": total, "strength": s, "seed": seed})
    return SweepResult(config=config, class_names=tuple(test.class_names), runs=runs,
                       cpu_seconds=time.process_time() - c0)
