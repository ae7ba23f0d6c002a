"""EqGAN-SA on fashion-scenes against SEL-only, the StyleGAN2-style baseline and the untrained floor (issue 27,
"Targets"): one table of the editing statistics, the FID against real test scenes and the disequilibrium
indicator (DI) per training run, and, per training seed, the slope difference EqGAN-SA minus SEL-only.

Each run is a ``genlens gan train`` run dir (checkpoint in RUN_DIR/last, EMA generator in RUN_DIR/model, as
``bench/spatial_train.py`` writes them). EqGAN-SA and SEL-only are steered through their heatmaps (adapter
``heatmap-gan``: the object is the detection nearest the level-1 blob before the move, any class, since their
heatmaps carry none); the baseline has no heatmap and ignores the layout (``free-gan``: slope 0 by construction).

Slope difference: within an evaluation seed both models see the same layouts, moves and latents (the same seeded
draws and the same latent shape), so edit i of one is paired with edit i of the other; the interval is a paired
percentile bootstrap over edits (Efron & Tibshirani 1993, ch. 13), edits of the evaluation seeds pooled, each
draw refitting both slopes (least squares through the origin) on the same resampled edits. The verdict is "the
heatmap steers objects" only when every training seed's interval lies above 0.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from genlens.errors import GenlensError
from genlens.metrics.edit_stats import percentile_interval, slope_r2
from genlens.metrics.editing import EditingConfig, EditRecord, editing_layouts, run_edits, summarize
from genlens.metrics.spatial_generators import load_adapter

ROLES = {"eqgan-sa": "heatmap-gan", "sel-only": "heatmap-gan", "baseline": "free-gan"}  # role -> adapter
TABLE_STATS = ("slope", "r2", "median_error_px", "class_kept", "count_kept", "object_found", "fid_edited_vs_unedited")
DI_N = 1024  # held-out real test scenes (and fresh fakes) for the DI
STEERS = "the heatmap steers objects"


def parse_runs(specs: Sequence[str]) -> dict[str, list[Path]]:
    """``ROLE:RUN_DIR`` items -> {role: [run dirs in the order given]} (order = training-seed pairing)."""
    runs: dict[str, list[Path]] = {role: [] for role in ROLES}
    for spec in specs:
        role, _, folder = spec.partition(":")
        if role not in ROLES or not folder:
            raise GenlensError(f"--sa '{spec}' is not ROLE:RUN_DIR with ROLE one of {', '.join(ROLES)}; e.g. "
                               "--sa eqgan-sa:runs/spatial/scenes-eqgan-sa-s0")
        runs[role].append(Path(folder))
    if not runs["eqgan-sa"]:
        raise GenlensError("the EqGAN-SA comparison needs at least one --sa eqgan-sa:RUN_DIR")
    return runs


def model_folder(run_dir: Path) -> Path:
    """The EMA generator of a run dir (RUN_DIR/model), or the folder itself when it is a model folder."""
    return run_dir / "model" if (run_dir / "model" / "config.json").is_file() else run_dir


def edit_seeds(gen: Any, find: Any, test: Any, *, seeds: Sequence[int], config: EditingConfig,
               extractor: Any = None) -> tuple[dict[str, dict[str, Any]], list[list[EditRecord]]]:
    """The editing measurement of ``gen`` per evaluation seed: ({seed: summary}, [records per seed])."""
    per_seed, records = {}, []
    for seed in seeds:
        cfg = replace(config, seed=seed)
        layouts = editing_layouts(test, n=cfg.n, class_aware=gen.class_aware, seed=seed)
        recs, short, fb, fa = run_edits(gen, find, layouts, config=cfg,
                                        features=None if extractor is None else extractor.features)
        per_seed[str(seed)] = {**summarize(recs, resamples=cfg.resamples, seed=seed, f_before=fb, f_after=fa,
                                           fid_resamples=cfg.fid_resamples), "shortened": int(short.sum())}
        records.append(recs)
    return per_seed, records


def _arrays(records: Sequence[EditRecord]) -> tuple[torch.Tensor, torch.Tensor]:
    n = len(records)
    moves = torch.tensor([r.move for r in records], dtype=torch.float64).reshape(n, 2)
    shifts = torch.tensor([r.shift for r in records], dtype=torch.float64).reshape(n, 2)
    return moves, shifts


def slope_difference(a: Sequence[Sequence[EditRecord]], b: Sequence[Sequence[EditRecord]], *, resamples: int,
                     seed: int = 0) -> dict[str, Any]:
    """Slope of ``a`` minus slope of ``b`` (per evaluation seed, lists of records), edits of all seeds pooled,
    with its paired percentile-bootstrap 95 % interval; paired when both saw the same moves edit by edit."""
    ra, rb = [r for recs in a for r in recs], [r for recs in b for r in recs]
    ma, sa = _arrays(ra)
    mb, sb = _arrays(rb)
    paired = ma.shape == mb.shape and torch.equal(ma, mb)
    oka, okb = ~sa.isnan().any(1), ~sb.isnan().any(1)
    g = torch.Generator().manual_seed(int(seed))

    def slope(moves: torch.Tensor, shifts: torch.Tensor, ok: torch.Tensor, idx: torch.Tensor) -> float:
        keep = idx[ok[idx]]
        return slope_r2(moves[keep], shifts[keep])[0]

    value = slope(ma, sa, oka, torch.arange(len(ra))) - slope(mb, sb, okb, torch.arange(len(rb)))
    draws = []
    for _ in range(resamples):  # paired: one index vector for both; else each model's edits on their own
        ia = torch.randint(0, len(ra), (len(ra),), generator=g)
        ib = ia if paired else torch.randint(0, len(rb), (len(rb),), generator=g)
        draws.append(slope(ma, sa, oka, ia) - slope(mb, sb, okb, ib))
    low, high = percentile_interval(torch.tensor(draws, dtype=torch.float64))
    out = {"value": value, "low": low, "high": high}
    excludes = math.isfinite(out["low"]) and (out["low"] > 0 or out["high"] < 0)
    return {**out, "paired": paired, "edits": len(ra), "excludes_0": excludes,
            "interval": "95 % percentile bootstrap over edits" + (" (paired)" if paired else " (unpaired)")}


def steer_verdict(differences: Sequence[dict[str, Any]]) -> str:
    """The plain answer: "the heatmap steers objects" only when every training seed's interval is above 0."""
    if differences and all(math.isfinite(d["low"]) and d["low"] > 0 for d in differences):
        return STEERS
    return "the heatmap does not steer objects: the slope difference to SEL-only is not above 0 on every training seed"


def _row(role: str, run: str, per_seed: dict[str, dict[str, Any]], fid: dict[str, Any] | None,
         di: dict[str, Any] | None) -> dict[str, Any]:
    row: dict[str, Any] = {"role": role, "run": run}
    for stat in TABLE_STATS:
        vals = [s[stat]["value"] for s in per_seed.values() if stat in s and not math.isnan(s[stat]["value"])]
        row[stat] = statistics.fmean(vals) if vals else None
    row["fid_vs_test"] = None if fid is None else fid["mean"]
    row["di"] = None if di is None else di.get("di")
    return row


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The comparison as a markdown table (means over evaluation seeds)."""
    cols = ("role", "run", *TABLE_STATS, "fid_vs_test", "di")

    def cell(v: Any) -> str:
        return "–" if v is None else f"{v:.3g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def compare(runs: dict[str, list[Path]], find: Any, test: Any, *, seeds: Sequence[int], config: EditingConfig,
            quality: Callable[[list[Any]], dict[str, Any]], extractor: Any = None, di_n: int = DI_N,
            device: str = "cpu") -> dict[str, Any]:
    """The whole comparison (module docstring). ``quality(generators)`` gives the sample-quality FIDs
    (:func:`spatial_quality.sample_quality` with the seeds bound)."""
    from genlens.gan.di import di_from_checkpoint

    held_out = test.images[:di_n].float() / 127.5 - 1.0  # uint8 -> [-1, 1], as D was trained
    entries: list[tuple[str, str, Any, Path | None]] = []
    for role, dirs in runs.items():
        for run_dir in dirs:
            entries.append((role, str(run_dir), load_adapter(f"{ROLES[role]}:{model_folder(run_dir)}", device=device),
                            run_dir))
    floor = load_adapter(f"heatmap-gan:{model_folder(runs['eqgan-sa'][0])}", untrained=True, device=device)
    entries.append(("floor", floor.name, floor, None))
    fids = quality([gen for _, _, gen, _ in entries])["fid"]
    rows, records, per_run = [], {}, {}
    for role, run, gen, run_dir in entries:
        per_seed, recs = edit_seeds(gen, find, test, seeds=seeds, config=config, extractor=extractor)
        try:
            di = None if run_dir is None else di_from_checkpoint(run_dir, held_out, n=di_n, seed=0, device=device)
        except GenlensError as exc:
            di = {"di": None, "note": str(exc)}
        rows.append(_row(role, run, per_seed, fids.get(gen.name), di))
        records[run] = recs
        per_run[run] = {"role": role, "generator": gen.name, "seeds": per_seed, "di": di, "fid": fids.get(gen.name)}
    diffs = []
    for k, (eq, sel) in enumerate(zip(runs["eqgan-sa"], runs["sel-only"])):
        d = slope_difference(records[str(eq)], records[str(sel)], resamples=config.resamples)
        diffs.append({"training_seed": k, "eqgan_sa": str(eq), "sel_only": str(sel), **d})
    return {"rows": rows, "table": markdown(rows), "slope_difference": diffs,
            "verdict": steer_verdict(diffs) if diffs else "no SEL-only run to compare with",
            "runs": per_run, "di_definition": "E[D(real held-out)] - E[D(G(z))], raw logits, "
            f"{di_n} real test scenes", "pairing": "EqGAN-SA and SEL-only runs paired by their order (training seed)"}
