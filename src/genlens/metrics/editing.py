"""The editing measurement (issue 27, item 5): does an object follow its blob when the layout moves it?

One procedure for every generator that takes layouts or heatmaps, through the :class:`SpatialGenerator`
protocol (adapters live beside each generator family; the analytic ones in the tests show the contract):

1. sample a latent and a layout (the ground-truth layouts of real test scenes, :func:`scene_layouts`);
2. pick one item and move it by d: a uniform random direction and a length uniform in [0, ``max_move``]
   of the canvas, shortened to the room the item has (its centre stays at least half its size inside
   the canvas); how many moves were shortened is reported;
3. render before and after from the same latent, and find the objects with the locator;
4. the object before = the detection nearest the blob's centre before the move (any class; heatmap
   generators carry no class), within ``radius`` of it; the object after = the same object tracked
   without using d: before and after detections are paired one-to-one (Hungarian on distance, within
   ``radius``); if the object's pair survived it is the object after (it stayed, or moved less than the
   radius), otherwise the object after is the unpaired after-detection nearest the blob's new centre
   (none left: the object was lost). So an object that ignores the layout shows displacement 0, not d;
5. report, each with a percentile-bootstrap 95 % interval over edits (:mod:`genlens.metrics.edit_stats`):
   the slope of the displacement against d (least squares through the origin, x and y pooled) and R^2,
   the median placement error (object after to the blob's new centre, px), how often the object keeps its
   class (and, for class-aware generators, has the layout's class), how often the scene keeps its object
   count (and has the layout's count), how often the object was found before and after, and the FID of
   edited against unedited samples with a pluggable extractor.

Edits whose object was not found before or after are left out of the slope, error and class (NaN), and
counted in ``object_found``.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import torch

from genlens.data.layout import Layout, default_size, scene_layouts
from genlens.errors import GenlensError
from genlens.metrics.edit_stats import bootstrap, mean_of, median_of, slope_r2
from genlens.metrics.fid import fid_from_features
from genlens.metrics.locator import Detection, Locator, locate
from genlens.metrics.locator_eval import match

Finder = Callable[[torch.Tensor], list[list[Detection]]]


@runtime_checkable
class SpatialGenerator(Protocol):
    """What the measurement needs from a generator that takes layouts (or class-free heatmaps)."""

    name: str
    canvas: int  # image side in pixels
    class_aware: bool  # False: the layout's classes do not condition it (heatmaps without classes)

    def latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` latents (noise, z, ...) drawn from ``generator``; sampling them twice gives the same images."""
        ...

    def sample(self, latents: torch.Tensor, layouts: Sequence[Layout]) -> torch.Tensor:
        """Images (B, C, canvas, canvas) in [0, 1], one per latent and layout."""
        ...


@dataclasses.dataclass(frozen=True)
class EditingConfig:
    n: int = 2000  # edits; also the samples on each side of the FID
    max_move: float = 1 / 3  # longest move, as a fraction of the canvas side
    radius: float = 0.1  # how near (fraction of the canvas) a detection must be to count as the object
    threshold: float = 0.3  # locator score threshold
    batch: int = 250
    resamples: int = 1000  # bootstrap resamples for every statistic but the FID
    fid_resamples: int = 200  # the FID's (each one is a matrix square root)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n < 2:
            raise GenlensError(f"the editing measurement needs at least 2 edits, got n={self.n}")
        if not 0 < self.max_move <= 1:
            raise GenlensError(f"max_move {self.max_move} must be in (0, 1]; the default is 1/3 of the canvas")
        if not 0 < self.radius <= 1:
            raise GenlensError(f"radius {self.radius} must be in (0, 1]; the default is 0.1 of the canvas")
        if self.batch < 1 or self.resamples < 1 or self.fid_resamples < 0:
            raise GenlensError("batch and resamples must be >= 1 and fid_resamples >= 0")


@dataclasses.dataclass(frozen=True)
class EditRecord:
    """One edit, in pixels. NaN where the object was not found (see the module docstring)."""

    move: tuple[float, float]  # d
    shift: tuple[float, float]  # the object's displacement
    error: float  # object after to the blob's new centre
    class_kept: float  # 1/0: the object after has the class of the object before
    class_right: float  # 1/0: ... the layout item's class (NaN for generators without classes)
    count_kept: float  # 1/0: as many detections after as before
    count_right: float  # 1/0: as many detections after as layout items
    found: float  # 1/0: found before and after


def draw_moves(layouts: Sequence[Layout], *, max_move: float, generator: torch.Generator
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per layout: the item to move (N,), its move d (N, 2) in canvas units, and whether d was shortened (N,)
    to keep the item's centre at least half its size inside the canvas."""
    n = len(layouts)
    pick = torch.tensor([int(torch.randint(0, max(1, len(lay)), (1,), generator=generator)) for lay in layouts],
                        dtype=torch.long)
    theta = torch.rand(n, generator=generator, dtype=torch.float64) * 2 * math.pi
    length = torch.rand(n, generator=generator, dtype=torch.float64) * max_move
    moves = torch.zeros(n, 2, dtype=torch.float64)
    short = torch.zeros(n, dtype=torch.bool)
    for i, lay in enumerate(layouts):
        if len(lay) == 0:
            raise GenlensError(f"layout {i} has no items to move; give layouts with at least one item")
        it = lay.items[int(pick[i])]
        half = 0.5 * (it.size if it.size is not None else default_size(len(lay)))
        u = (math.cos(float(theta[i])), math.sin(float(theta[i])))
        room = math.inf
        for c, ui in zip((it.x, it.y), u):
            if ui > 1e-12:
                room = min(room, (1 - half - c) / ui)
            elif ui < -1e-12:
                room = min(room, (half - c) / ui)
        room = max(0.0, room)
        if length[i] > room:
            length[i], short[i] = room, True
        moves[i] = torch.tensor(u, dtype=torch.float64) * length[i]
    return pick, moves, short


def _nearest(dets: Sequence[Detection], x: float, y: float, canvas: int, limit: float = math.inf) -> int | None:
    best, best_d = None, limit
    for k, d in enumerate(dets):
        dist = math.hypot(d.x * canvas - x, d.y * canvas - y)
        if dist <= best_d:
            best, best_d = k, dist
    return best


def score_edit(before: Sequence[Detection], after: Sequence[Detection], *, blob_px: tuple[float, float],
               move_px: tuple[float, float], cls: int, items: int, canvas: int, radius_px: float,
               class_aware: bool) -> EditRecord:
    """Score one edit from its detections (module docstring, steps 4 and 5); ``blob_px`` is the blob's
    centre before the move, ``move_px`` the move d, both in pixels."""
    nan = math.nan
    count_kept, count_right = float(len(after) == len(before)), float(len(after) == items)
    lost = EditRecord(move_px, (nan, nan), nan, nan, nan, count_kept, count_right, 0.0)
    j = _nearest(before, *blob_px, canvas, radius_px)
    if j is None:
        return lost
    pairs = match(after, [d.cls for d in before], [(d.x * canvas, d.y * canvas) for d in before],
                  canvas=canvas, radius=radius_px)
    paired = {b: a for a, b, _ in pairs}
    if j in paired:
        k: int | None = paired[j]
    else:
        taken = {a for a, _, _ in pairs}
        free = [a for a in range(len(after)) if a not in taken]
        target = (blob_px[0] + move_px[0], blob_px[1] + move_px[1])
        pick = _nearest([after[a] for a in free], *target, canvas)
        k = None if pick is None else free[pick]
    if k is None:
        return lost
    b0, a1 = before[j], after[k]
    shift = ((a1.x - b0.x) * canvas, (a1.y - b0.y) * canvas)
    error = math.hypot(a1.x * canvas - blob_px[0] - move_px[0], a1.y * canvas - blob_px[1] - move_px[1])
    return EditRecord(move_px, shift, error, float(a1.cls == b0.cls), float(a1.cls == cls) if class_aware else nan,
                      count_kept, count_right, 1.0)


def locator_finder(model: Locator, *, threshold: float = 0.3) -> Finder:
    """The locator as the measurement's object finder."""
    return lambda images: locate(model, images, threshold)


def run_edits(generator: SpatialGenerator, find: Finder, layouts: Sequence[Layout], *, config: EditingConfig,
              features: Callable[[torch.Tensor], torch.Tensor] | None = None,
              callback: Callable[[dict[str, Any]], None] | None = None
              ) -> tuple[list[EditRecord], torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Edit ``config.n`` samples (layouts cycled in order); returns the records, the shortened flags and, with
    ``features``, the features of the unedited and edited images (N, D)."""
    if not layouts:
        raise GenlensError("the editing measurement needs layouts; pass the ground-truth layouts of test scenes")
    g = torch.Generator().manual_seed(config.seed)
    chosen = [layouts[i % len(layouts)] for i in range(config.n)]
    pick, moves, short = draw_moves(chosen, max_move=config.max_move, generator=g)
    canvas = generator.canvas
    records: list[EditRecord] = []
    f_before: list[torch.Tensor] = []
    f_after: list[torch.Tensor] = []
    for s in range(0, config.n, config.batch):
        idx = range(s, min(config.n, s + config.batch))
        lays = [chosen[i] for i in idx]
        moved = [chosen[i].moved(int(pick[i]), float(moves[i, 0]), float(moves[i, 1])) for i in idx]
        z = generator.latents(len(lays), g)
        before, after = generator.sample(z, lays), generator.sample(z, moved)
        if tuple(before.shape[-2:]) != (canvas, canvas):
            raise GenlensError(f"generator '{generator.name}' says canvas {canvas} but made "
                               f"{before.shape[-2]}x{before.shape[-1]} images; fix its adapter")
        dets_b, dets_a = find(before), find(after)
        for r, i in enumerate(idx):
            it = chosen[i].items[int(pick[i])]
            records.append(score_edit(dets_b[r], dets_a[r], blob_px=(it.x * canvas, it.y * canvas),
                                      move_px=(float(moves[i, 0]) * canvas, float(moves[i, 1]) * canvas),
                                      cls=it.cls, items=len(chosen[i]), canvas=canvas,
                                      radius_px=config.radius * canvas, class_aware=generator.class_aware))
        if features is not None:
            f_before.append(features(before).double().cpu())
            f_after.append(features(after).double().cpu())
        if callback is not None:
            callback({"stage": "edit", "done": idx[-1] + 1, "total": config.n})
    fb = torch.cat(f_before) if f_before else None
    fa = torch.cat(f_after) if f_after else None
    return records, short, fb, fa


def summarize(records: Sequence[EditRecord], *, resamples: int = 1000, seed: int = 0,
              f_before: torch.Tensor | None = None, f_after: torch.Tensor | None = None,
              fid_resamples: int = 200) -> dict[str, Any]:
    """The statistics of :func:`run_edits`' records, each ``{"value", "low", "high"}`` (95 % percentile
    bootstrap over edits, ``resamples`` draws); the FID of edited against unedited features when given."""
    n = len(records)
    moves = torch.tensor([r.move for r in records], dtype=torch.float64).reshape(n, 2)
    shifts = torch.tensor([r.shift for r in records], dtype=torch.float64).reshape(n, 2)
    ok = ~shifts.isnan().any(1)

    def fit(k: int) -> Callable[[torch.Tensor], float]:
        def stat(idx: torch.Tensor) -> float:
            keep = idx[ok[idx]]
            return slope_r2(moves[keep], shifts[keep])[k]

        return stat

    def column(name: str) -> torch.Tensor:
        return torch.tensor([getattr(r, name) for r in records], dtype=torch.float64)

    def boot(stat: Callable[[torch.Tensor], float], draws: int = resamples) -> dict[str, float]:
        return bootstrap(stat, n, resamples=draws, generator=torch.Generator().manual_seed(seed))

    out: dict[str, Any] = {
        "edits": n,
        "slope": boot(fit(0)),
        "r2": boot(fit(1)),
        "median_error_px": boot(median_of(column("error"))),
        "class_kept": boot(mean_of(column("class_kept"))),
        "class_right": boot(mean_of(column("class_right"))),
        "count_kept": boot(mean_of(column("count_kept"))),
        "count_right": boot(mean_of(column("count_right"))),
        "object_found": boot(mean_of(column("found"))),
        "mean_move_px": float(moves.norm(dim=1).mean()) if n else math.nan,
    }
    if f_before is not None and f_after is not None:
        def fid(idx: torch.Tensor) -> float:
            return fid_from_features(f_before[idx], f_after[idx])

        out["fid_edited_vs_unedited"] = (boot(fid, fid_resamples) if fid_resamples
                                         else {"value": fid(torch.arange(n)), "low": math.nan, "high": math.nan})
    return out


def real_test_scenes(locator: Locator, *, data_dir: Any = None) -> Any:
    """The real fashion-scenes test split at the locator's canvas and channels: the scenes whose layouts the
    measurement edits (generated from Fashion-MNIST's test items in ``data_dir`` on first use, then cached)."""
    from genlens.data.scenes import SceneConfig, load_scenes

    cfg = locator.config
    return load_scenes(SceneConfig(split="test", canvas=cfg.canvas, rgb=cfg.channels == 3), data_dir=data_dir)


def editing_layouts(scenes: Any, *, n: int, class_aware: bool, seed: int = 0) -> list[Layout]:
    """``n`` ground-truth layouts of real scenes (:class:`~genlens.data.scenes.SceneData`) in a fresh permutation
    drawn from ``seed``; generators whose heatmaps carry no class steer one blob, so they get only the one-item
    scenes. Fewer scenes than ``n``: all of them (the measurement cycles through them)."""
    pool = (torch.arange(len(scenes)) if class_aware
            else ((scenes.classes >= 0).sum(1) == 1).nonzero().squeeze(1))
    if not len(pool):
        raise GenlensError("these scenes hold no one-item scene to measure a heatmap generator on; pass more "
                           "fashion-scenes test scenes")
    idx = pool[torch.randperm(len(pool), generator=torch.Generator().manual_seed(int(seed)))[:n]]
    return scene_layouts(scenes, idx)


def measure_editing(generator: SpatialGenerator, find: Finder | Locator, layouts: Sequence[Layout], *,
                    config: EditingConfig | None = None, extractor: Any = None,
                    callback: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """The whole measurement (module docstring): ``find`` is a :class:`Locator` or any function from images to
    per-image detections; ``extractor`` anything with ``features(images) -> (N, D)`` (and a ``name``) for
    the FID, or None to skip it. Returns a JSON-ready dict."""
    config = config or EditingConfig()
    if isinstance(find, Locator):
        if find.config.canvas != generator.canvas:
            raise GenlensError(f"the locator was trained on {find.config.canvas}-px scenes but generator "
                               f"'{generator.name}' makes {generator.canvas}-px images; use a locator for that canvas")
        find = locator_finder(find, threshold=config.threshold)
    records, short, fb, fa = run_edits(generator, find, layouts, config=config,
                                       features=None if extractor is None else extractor.features, callback=callback)
    stats = summarize(records, resamples=config.resamples, seed=config.seed, f_before=fb, f_after=fa,
                      fid_resamples=config.fid_resamples)
    return {
        "generator": generator.name,
        "class_aware": generator.class_aware,
        "canvas": generator.canvas,
        **stats,
        "shortened": int(short.sum()),
        "fit": "least squares through the origin, x and y components pooled; R^2 with the centred total sum",
        "interval": f"95 % percentile bootstrap over edits ({config.resamples} resamples; FID {config.fid_resamples})",
        "extractor": None if extractor is None else getattr(extractor, "name", type(extractor).__name__),
        "fid_samples": config.n if extractor is not None else 0,
        "config": dataclasses.asdict(config),
    }
