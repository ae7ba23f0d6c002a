"""A short CPU training of the object locator on fashion-scenes, scored on the real test scenes (issue 27).

The detection threshold is chosen on 2,000 held-out *train* scenes (best F1 of recall and precision), never
on the test scenes. The model folder goes to ``out/`` (ignored by git); only the result JSON is kept.
``--eval FOLDER`` scores a saved locator again with both peak rules (across classes, per class).

    OMP_NUM_THREADS=1 PYTHONPATH=src python experiments/locator_train.py --budget-s 600 --width 16
    OMP_NUM_THREADS=1 PYTHONPATH=src python experiments/locator_train.py --eval out/locator/locator_w16_s1
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from genlens.data.scenes import SceneConfig, load_scenes
from genlens.metrics.locator import LocatorConfig, decode, load_locator, predict, save_locator
from genlens.metrics.locator_eval import evaluate_locator, score_detections
from genlens.metrics.locator_train import train_locator

THRESHOLDS = (0.2, 0.3, 0.4, 0.5)


def assess(model, held, test, *, per_class: bool) -> dict:
    """Threshold by best F1 on the held-out train scenes, then the scores on the test scenes."""
    cfg = model.config
    heat, off = predict(model, held.images)
    val = {t: score_detections(decode(heat, off, stride=cfg.stride, canvas=cfg.canvas, threshold=t, per_class=per_class),
                               held.classes, held.centres_px, canvas=held.canvas, radius=0.1 * held.canvas)
           for t in THRESHOLDS}
    f1 = {t: 2 * v["recall"] * v["precision"] / max(1e-9, v["recall"] + v["precision"]) for t, v in val.items()}
    best = max(THRESHOLDS, key=lambda t: f1[t])
    return {"peaks": "per class (paper)" if per_class else "across classes", "threshold": best,
            "threshold_chosen_on": "2,000 held-out train scenes (best F1)",
            "validation": {str(t): v for t, v in val.items()},
            "test": evaluate_locator(model, test, threshold=best, per_class=per_class)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=0, help="0: as many as fit in --budget-s (timed on 10 steps)")
    ap.add_argument("--budget-s", type=float, default=600.0, help="CPU seconds for the training steps")
    ap.add_argument("--rgb", action="store_true")
    ap.add_argument("--out", default="experiments/results")
    ap.add_argument("--save", default="out/locator", help="model folder (not committed)")
    ap.add_argument("--eval", default="", help="only score this saved locator folder (both peak rules)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0, c0 = time.perf_counter(), time.process_time()
    train_all = load_scenes(SceneConfig(split="train", rgb=args.rgb))
    test = load_scenes(SceneConfig(split="test", rgb=args.rgb))
    train, held = train_all.subset(torch.arange(58000)), train_all.subset(torch.arange(58000, 60000))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.eval:
        model = load_locator(args.eval)
        saved = json.loads((Path(args.eval) / "config.json").read_text())
        result = {"what": "a saved locator scored again with both peak rules", "folder": args.eval,
                  "locator": saved.get("locator", {}), "train": saved.get("train", {}),
                  "decodes": [assess(model, held, test, per_class=p) for p in (False, True)],
                  "cpu_seconds": round(time.process_time() - c0, 1)}
        (Path(args.out) / f"{Path(args.eval).name}_decodes.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps([d["test"] for d in result["decodes"]]), flush=True)
        return

    config = LocatorConfig(width=args.width, stride=args.stride, channels=3 if args.rgb else 1)
    steps = args.steps
    if not steps:
        c = time.process_time()
        train_locator(config, train, steps=10, batch=args.batch, lr=args.lr)
        steps = max(10, int(args.budget_s / ((time.process_time() - c) / 10)))
    log: list[dict] = []

    def progress(e: dict) -> None:
        if e["step"] % 100 == 0 or e["step"] == e["steps"]:
            log.append({k: round(v, 4) if isinstance(v, float) else v for k, v in e.items()})
            print(json.dumps(log[-1]), flush=True)

    c_train = time.process_time()
    model = train_locator(config, train, steps=steps, batch=args.batch, lr=args.lr,
                          generator=torch.Generator().manual_seed(args.seed), callback=progress)
    train_cpu = time.process_time() - c_train
    scores = assess(model, held, test, per_class=False)
    result = {
        "what": "object locator (CenterNet-style) on fashion-scenes, scored on the 10,000 real test scenes",
        "data": "fashion-scenes-rgb" if args.rgb else "fashion-scenes",
        "locator": {"width": args.width, "stride": args.stride, "params": sum(p.numel() for p in model.parameters())},
        "train": {"steps": steps, "batch": args.batch, "lr": args.lr, "seed": args.seed, "scenes": len(train),
                  "cpu_seconds": round(train_cpu, 1), "threads": 1, "cpu": platform.processor() or platform.machine()},
        **scores,
        "targets": {"median_centre_error_px": "<= 1", "class_accuracy": ">= 0.90", "recall": ">= 0.95"},
        "total_cpu_seconds": round(time.process_time() - c0, 1),
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "log": log,
    }
    name = f"locator_w{args.width}_s{args.stride}{'_rgb' if args.rgb else ''}"
    (Path(args.out) / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    save_locator(Path(args.save) / name, model, command="experiments/locator_train.py", metrics=result["test"],
                 train=result["train"])
    print(json.dumps(result["test"]), flush=True)


if __name__ == "__main__":
    main()
