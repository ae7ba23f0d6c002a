"""Helpers of scripts/train_spatial_gpu.sh: the colour scenes as .npz files, the merged result file with its
summary, and the one tar that carries everything back.

    python scripts/spatial_gpu_outputs.py scenes DIR [--limit N]        # DIR/scenes-rgb-{train,test}.npz
    python scripts/spatial_gpu_outputs.py merge RESULTS_DIR OUT_JSON     # per-run results -> one file + summary
    python scripts/spatial_gpu_outputs.py pack TAR --cap-mb 60 --add ARCNAME=DIR ... --left-out FILE

``fashion-scenes-rgb`` carries ground-truth layouts in pixels, so the loader refuses to resize it (``--resolution``
would move the objects away from their boxes). The 64-px colour run trains on the same images as plain data: the
scenes' images and first-slot labels written to an .npz, which ``--resolution 64`` may then resize.

``pack`` keeps the tar inside what a lent machine sends back (8 files of 16 MiB, 64 MiB in all): every small file
(logs, JSON, configs, manifests, PNG grids) always, then weights in the order they are needed, while their raw size
fits ``--cap-mb`` (weights barely compress): the GAN generators (what the comparison scores), the diffusion models,
the checkpoints of runs that have not finished (to resume them), then the rest (discriminators, finished runs'
checkpoints). Exports (.npz) never go in: the script writes them again, byte for byte, from the same seed.
"""
from __future__ import annotations

import argparse
import json
import tarfile
from pathlib import Path
from typing import Any

WEIGHTS = (".safetensors", ".pt", ".pth", ".bin")
SKIP = (".npz",)
MIB = 1024 * 1024


def export_scenes(folder: Path, limit: int | None) -> list[str]:
    """Write the train and test splits of fashion-scenes-rgb as .npz (images uint8 (N, 3, 32, 32), labels)."""
    import numpy as np

    from genlens.data.spec import load_data

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for split in ("train", "test"):
        data = load_data("fashion-scenes-rgb", split=split, limit=limit)
        path = folder / f"scenes-rgb-{split}.npz"
        np.savez(path, images=data.images.numpy(), labels=data.labels.numpy(), class_names=np.array(data.class_names))
        written.append(f"{path} {tuple(data.images.shape)}")
    return written


def merge(results: Path, out: Path) -> dict[str, Any]:
    """One file from the per-run result files of bench/spatial_train.py (runs/*.json) and the colour run's
    (colour64/*.json); returns it. Absent parts are absent keys, never errors: a stopped run still reports."""
    def read(path: Path) -> dict[str, Any] | None:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    runs: dict[str, Any] = {}
    env = None
    for path in sorted((results / "runs").glob("*.json")):
        data = read(path) or {}
        runs.update(data.get("runs", {}))
        env = env or data.get("env")
    colour = {name: read(results / "colour64" / f"{name}.json") for name in ("train", "eval", "floor")}
    merged = {"benchmark": "spatial_train_gpu", "runs": runs, "env": env,
              "colour64": {k: v for k, v in colour.items() if v is not None}}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n")
    return merged


def summary(merged: dict[str, Any]) -> list[str]:
    lines = []
    for name, r in sorted(merged["runs"].items()):
        wall = sum(s.get("wall_s", 0) for s in r.get("segments", []))
        state = "finished" if r.get("finished") else "stopped (resumable)"
        lines.append(f"{name:22s} step {r.get('steps_done', 0)}/{r.get('steps')}  {state}  {wall:.0f} s wall")
    colour = merged["colour64"]
    if "eval" in colour:
        e, fl = colour["eval"], colour.get("floor", {})
        floor = f", real-vs-real floor {fl['value']:.3f}" if "value" in fl else ""
        lines.append(f"colour 64 px: {colour.get('train', {}).get('steps')} steps, FID {e['fid']['value']:.3f} "
                     f"({e['fid']['extractor']}, {e['fid']['n_fake']} samples vs {e['fid']['n_real']} test){floor}")
    elif "train" in colour:
        lines.append("colour 64 px: trained, but its evaluation failed (spatial-gpu-logs/colour64-eval.err)")
    else:
        lines.append("colour 64 px: no model this call (not run, failed, or stopped by the deadline: a checkpoint, "
                     "if written, resumes it)")
    return lines


def rank(path: Path) -> int:
    """Which weights go first (0) and last (3); see the module docstring."""
    parts = path.parts
    checkpoint = "last" in parts or "checkpoints" in parts or any(p.startswith("step-") for p in parts)
    if checkpoint:
        cut = parts.index("checkpoints") if "checkpoints" in parts else \
            next(i for i, p in enumerate(parts) if p == "last" or p.startswith("step-"))
        run = Path(*parts[:cut])
        done = (run / "model.safetensors").is_file() or (run / "model" / "model.safetensors").is_file()
        return 3 if done else 2
    if path.name == "model.safetensors":
        return 0 if path.parent.name == "model" else 1  # a GAN run's generator, else a diffusion model
    return 3


def pack(tar: Path, adds: list[tuple[str, Path]], cap_mb: float, left_out: Path) -> tuple[int, list[str]]:
    """Write ``tar`` (gzip); returns (raw bytes packed, files left out by the cap)."""
    small, weights = [], []
    for arcname, folder in adds:
        if not folder.exists():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path.suffix in SKIP:
                continue
            item = (path, str(Path(arcname) / path.relative_to(folder)))
            (weights if path.suffix in WEIGHTS else small).append(item)
    total = sum(p.stat().st_size for p, _ in small)
    chosen, dropped = [], []
    for path, arc in sorted(weights, key=lambda item: (rank(item[0]), item[1])):
        size = path.stat().st_size
        if total + size <= cap_mb * MIB:
            chosen.append((path, arc))
            total += size
        else:
            dropped.append(f"{arc} ({size / MIB:.1f} MiB, rank {rank(path)})")
    left_out.write_text("".join(f"{d}\n" for d in dropped) or "nothing: every file fits\n")
    with tarfile.open(tar, "w:gz", compresslevel=6) as out:
        for path, arc in [*small, *chosen]:
            out.add(path, arcname=arc)
        out.add(left_out, arcname=str(Path(adds[0][0]) / left_out.name))
    return total, dropped


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scenes")
    s.add_argument("folder", type=Path)
    s.add_argument("--limit", type=int)
    m = sub.add_parser("merge")
    m.add_argument("results", type=Path)
    m.add_argument("out", type=Path)
    p = sub.add_parser("pack")
    p.add_argument("tar", type=Path)
    p.add_argument("--add", action="append", default=[], help="ARCNAME=DIR (the first one also gets --left-out)")
    p.add_argument("--cap-mb", type=float, default=60.0)
    p.add_argument("--left-out", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.cmd == "scenes":
        print("\n".join(export_scenes(args.folder, args.limit)))
    elif args.cmd == "merge":
        print("\n".join(summary(merge(args.results, args.out))))
    else:
        adds = [(a.split("=", 1)[0], Path(a.split("=", 1)[1])) for a in args.add]
        total, dropped = pack(args.tar, adds, args.cap_mb, args.left_out)
        print(f"packed {total / MIB:.1f} MiB raw into {args.tar}; left out {len(dropped)} file(s) over the "
              f"{args.cap_mb:g} MiB cap (listed in {args.left_out.name})")


if __name__ == "__main__":
    main()
