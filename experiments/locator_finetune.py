"""Continue training a saved locator, for the class-accuracy target (issue 27: >= 90 % on real test scenes).

The short run (experiments/results/locator_w16_s1.json) found centres well (0.04 px, recall 0.99) but named
the class of only 77 % of them. Two changes are measured here, neither a library option:

- more steps, continuing from the saved model (cosine learning rate from ``--lr`` to zero), and
- an extra class loss: cross-entropy over the class logits at each object's centre cell (weight ``--ce``),
  a direct class signal beside the focal loss, whose per-class sigmoids learn the class only indirectly;
- horizontal flips of whole scenes (centres mirrored: x -> canvas - x), since garments are mirror-symmetric.

The threshold is chosen on the 2,000 held-out train scenes (best F1), never on test (``assess`` of
locator_train.py). Training stops at ``--budget-wall-s`` seconds of wall clock (the machine is shared).

    OMP_NUM_THREADS=1 PYTHONPATH=src nice -n 10 python experiments/locator_finetune.py \
        --init runs/locator/locator_w16_s1 --budget-wall-s 1200
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from locator_train import assess  # experiments/ is on sys.path when run as a script

from genlens.data.scenes import SceneConfig, load_scenes
from genlens.metrics.locator import check_images, load_locator, save_locator
from genlens.metrics.locator_train import focal_loss, make_targets


def batch_targets(data, idx, config, flip: torch.Tensor):
    boxes = data.boxes[idx].float()
    sides = torch.maximum(boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1])
    centres = data.centres_px[idx].clone()
    centres[..., 0] = torch.where(flip[:, None], data.canvas - centres[..., 0], centres[..., 0])
    return make_targets(data.classes[idx], centres, sides, config), centres


def class_ce(logits: torch.Tensor, classes: torch.Tensor, centres: torch.Tensor, stride: int) -> torch.Tensor:
    """Cross-entropy of the class logits at each present object's centre cell."""
    n = logits.shape[-1]
    cell = (centres / stride).floor().long().clamp(0, n - 1)  # (B, K, 2)
    b, k = classes.shape
    rows = torch.arange(b)[:, None].expand(b, k)
    present = classes >= 0
    picked = logits[rows[present], :, cell[..., 1][present], cell[..., 0][present]]  # (P, classes)
    return F.cross_entropy(picked, classes[present]) if picked.numel() else logits.sum() * 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--init", required=True)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--ce", type=float, default=0.5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--budget-wall-s", type=float, default=1200.0)
    ap.add_argument("--name", default="")
    ap.add_argument("--out", default="experiments/results")
    ap.add_argument("--save", default="runs/locator")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0, c0 = time.perf_counter(), time.process_time()
    train_all = load_scenes(SceneConfig(split="train"))
    test = load_scenes(SceneConfig(split="test"))
    train, held = train_all.subset(torch.arange(58000)), train_all.subset(torch.arange(58000, 60000))
    model = load_locator(args.init).train()
    config = model.config
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    g = torch.Generator().manual_seed(args.seed)
    log, step, start = [], 0, time.perf_counter()
    # steps are unknown in advance (shared CPU): the cosine runs over the wall budget instead of steps
    while (frac := (time.perf_counter() - start) / args.budget_wall_s) < 1.0:
        for group in opt.param_groups:
            group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * frac))
        idx = torch.randint(0, len(train), (args.batch,), generator=g)
        flip = torch.rand(args.batch, generator=g) < 0.5
        images = check_images(model, train.images[idx])
        images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        targets, centres = batch_targets(train, idx, config, flip)
        heat_t, off_t, mask = targets
        logits, off = model(images)  # one forward for both losses (locator_train.locator_loss's terms)
        focal = focal_loss(logits, heat_t)
        l1 = ((off - off_t).abs() * mask).sum() / mask.sum().clamp(min=1.0)
        ce = class_ce(logits, train.classes[idx], centres, config.stride)
        loss = focal + l1 + args.ce * ce
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            log.append({"step": step, "loss": round(loss.item(), 4), "ce": round(ce.item(), 4),
                        "wall_s": round(time.perf_counter() - start, 1)})
            print(json.dumps(log[-1]), flush=True)
    model.eval()
    train_cpu = time.process_time() - c0
    scores = assess(model, held, test, per_class=False)
    init_train = json.loads((Path(args.init) / "config.json").read_text()).get("train", {})
    name = args.name or f"{Path(args.init).name}_ft"
    result = {
        "what": "a saved locator trained further (class cross-entropy at centre cells, horizontal flips), "
                "scored on the 10,000 real test scenes",
        "init": args.init, "init_train": init_train,
        "finetune": {"steps": step, "batch": args.batch, "lr": args.lr, "ce_weight": args.ce, "seed": args.seed,
                     "flips": True, "cpu_seconds": round(train_cpu, 1), "threads": 1},
        **scores,
        "targets": {"median_centre_error_px": "<= 1", "class_accuracy": ">= 0.90", "recall": ">= 0.95"},
        "total_cpu_seconds": round(time.process_time() - c0, 1),
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "log": log,
    }
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    train_info = {**init_train, "finetune": result["finetune"]}
    save_locator(Path(args.save) / name, model, command="experiments/locator_finetune.py", metrics=result["test"],
                 train=train_info, threshold=scores["threshold"])
    print(json.dumps(result["test"]), flush=True)


if __name__ == "__main__":
    main()
