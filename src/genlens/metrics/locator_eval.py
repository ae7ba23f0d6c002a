"""Scoring the object locator (or anything that returns detections) against scenes' ground truth.

Matching: per image, detections and true objects are paired one-to-one by the Hungarian algorithm on
centre distance (class ignored, so class accuracy is measured on the pairs), and a pair counts only when
its distance is at most ``radius`` pixels. Recall = matched / objects, precision = matched / detections,
class accuracy = matched pairs of the right class / matched pairs, centre error = pixel distance of
matched pairs (median and 90th percentile), count accuracy = images with as many detections as objects;
recall and class accuracy are also given by the number of objects in the scene.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from scipy.optimize import linear_sum_assignment

from genlens.metrics.locator import Detection, Locator, decode, locate, predict


def match(detections: Sequence[Detection], classes: Sequence[int], centres_px: Sequence[tuple[float, float]],
          *, canvas: int, radius: float) -> list[tuple[int, int, float]]:
    """One-to-one pairs (detection index, object index, distance in pixels) within ``radius`` pixels, chosen
    to minimise the total distance (Hungarian); ``classes``/``centres_px`` describe the true objects."""
    if not detections or not classes:
        return []
    det = torch.tensor([[d.x * canvas, d.y * canvas] for d in detections], dtype=torch.float64)
    gt = torch.tensor([list(c) for c in centres_px], dtype=torch.float64)
    dist = torch.cdist(det, gt)  # (D, G)
    big = dist.masked_fill(dist > radius, 1e6)  # pairs beyond the radius are allowed but never kept
    rows, cols = linear_sum_assignment(big.numpy())
    return [(int(r), int(c), float(dist[r, c])) for r, c in zip(rows, cols) if dist[r, c] <= radius]


def score_detections(detections: Sequence[Sequence[Detection]], classes: torch.Tensor, centres_px: torch.Tensor, *,
                     canvas: int, radius: float) -> dict[str, Any]:
    """Scores of per-image detections against ground truth classes (N, K) (-1 absent) and centres (N, K, 2)."""
    errors: list[float] = []
    right = n_det = n_obj = count_ok = 0
    by_count: dict[int, list[int]] = {}  # objects per scene -> [objects, matched, right class]
    for i, dets in enumerate(detections):
        present = (classes[i] >= 0).nonzero().squeeze(1).tolist()
        gt_cls = [int(classes[i, k]) for k in present]
        gt_xy = [tuple(centres_px[i, k].tolist()) for k in present]
        pairs = match(dets, gt_cls, gt_xy, canvas=canvas, radius=radius)
        errors += [d for _, _, d in pairs]
        ok = sum(dets[a].cls == gt_cls[b] for a, b, _ in pairs)
        right += ok
        n_det += len(dets)
        n_obj += len(gt_cls)
        count_ok += len(dets) == len(gt_cls)
        tally = by_count.setdefault(len(gt_cls), [0, 0, 0])
        tally[0], tally[1], tally[2] = tally[0] + len(gt_cls), tally[1] + len(pairs), tally[2] + ok
    err = torch.tensor(errors, dtype=torch.float64)
    nan = math.nan
    return {
        "median_centre_error_px": float(err.quantile(0.5)) if err.numel() else nan,
        "p90_centre_error_px": float(err.quantile(0.9)) if err.numel() else nan,
        "class_accuracy": right / len(errors) if errors else nan,
        "recall": len(errors) / n_obj if n_obj else nan,
        "precision": len(errors) / n_det if n_det else nan,
        "count_accuracy": count_ok / len(detections) if len(detections) else nan,
        "objects": n_obj,
        "detections": n_det,
        "images": len(detections),
        "radius_px": radius,
        "by_count": {str(c): {"objects": t[0], "recall": t[1] / t[0] if t[0] else math.nan,
                              "class_accuracy": t[2] / t[1] if t[1] else math.nan}
                     for c, t in sorted(by_count.items())},
    }


def evaluate_locator(model: Locator, scenes: Any, *, threshold: float = 0.3, radius: float | None = None,
                     batch: int = 256, per_class: bool = False) -> dict[str, Any]:
    """The locator's scores on scenes (:class:`~genlens.data.scenes.SceneData`); ``radius`` defaults to 10 %
    of the canvas side (3.2 px on 32 px). Refuses scenes of another canvas size (one-line error)."""
    radius = 0.1 * scenes.canvas if radius is None else radius
    dets = locate(model, scenes.images, threshold, batch=batch, per_class=per_class)
    out = score_detections(dets, scenes.classes, scenes.centres_px, canvas=scenes.canvas, radius=radius)
    return {**out, "threshold": threshold}


THRESHOLDS = (0.2, 0.3, 0.4, 0.5)


def choose_threshold(model: Locator, held: Any, *, thresholds: Sequence[float] = THRESHOLDS,
                     batch: int = 256) -> tuple[float, dict[str, Any]]:
    """The threshold with the best F1 of recall and precision on ``held`` (held-out *train* scenes: never
    choose it on test scenes), and the scores at every threshold."""
    cfg = model.config
    heat, off = predict(model, held.images, batch=batch)
    radius = 0.1 * held.canvas
    scores = {t: score_detections(decode(heat, off, stride=cfg.stride, canvas=cfg.canvas, threshold=t),
                                  held.classes, held.centres_px, canvas=held.canvas, radius=radius)
              for t in thresholds}

    def f1(v: dict[str, Any]) -> float:
        r, p = v["recall"], v["precision"]
        return 0.0 if math.isnan(r) or math.isnan(p) or r + p == 0 else 2 * r * p / (r + p)

    best = max(thresholds, key=lambda t: f1(scores[t]))
    return best, {str(t): v for t, v in scores.items()}
