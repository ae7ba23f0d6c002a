"""Ship a trained model folder as a shipped model: ``python scripts/ship_model.py SRC NAME --note TEXT``.

The one way a maintainer turns a finished training run (a ``genlens gan train --out`` or ``genlens diffusion train
--out`` folder, e.g. ``runs/spatial/scenes-eqgan-s0/model``) into ``src/genlens/models/weights/NAME``:

* refuses when NAME already ships (shipped models are never overwritten: ship under a new name);
* verifies the source's manifest hashes, copies ``config.json``, the weights and the manifest, and re-saves a GAN's
  discriminator in float16 (``--no-discriminator`` leaves it out; it only serves D's Grad-CAM and DI);
* makes the manifest's command portable (absolute paths before ``runs/`` dropped), adds ``note`` (how it was
  trained: sittings, CPU-hours, the result file) and, with ``--role``, what ``genlens models list`` says it does;
* loads the shipped folder back through genlens (hashes and weights) and says the tracked tree's size against the
  64 MiB a lent GPU machine takes, so a ship that would not travel is seen before it is committed.

Exit 2 with one line on bad input (a missing or unverifiable source, a name that ships already).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "src" / "genlens" / "models" / "weights"
DEVICE_LIMIT_MIB = 64


def portable(command: str) -> str:
    """``genlens ... --run-dir /abs/keep/runs/spatial/x --out /abs/.../runs/spatial/x/model`` -> paths from ``runs/``."""
    return re.sub(r"(?<=\s)\S*?/(runs/)", r"\1", command)


def tree_mib(root: Path, *, untracked: bool = False) -> float:
    """MiB of the git-tracked files, or (``untracked``) of the untracked, not-ignored ones: together what a lent
    machine receives."""
    which = ["--others", "--exclude-standard"] if untracked else ["--cached"]
    out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", *which], capture_output=True,
                         check=True).stdout.decode()
    return sum((root / p).stat().st_size for p in out.split("\0") if p and (root / p).is_file()) / 2**20


def ship(src: Path, name: str, *, note: str, role: str | None = None, discriminator: bool = True,
         git_commit: str | None = None, weights: Path = WEIGHTS) -> Path:
    from genlens.errors import GenlensError
    from genlens.models.weights_io import WEIGHTS_FILE, verify_manifest
    from genlens.utils.io import read_json

    dest = weights / name
    if dest.exists():
        raise GenlensError(f"'{name}' ships already ({dest}); shipped models are never overwritten: pick a new name")
    if not (src / "config.json").is_file():
        raise GenlensError(f"'{src}' has no config.json; pass the model folder a training run wrote (its --out)")
    verify_manifest(src)
    recorded = str(read_json(src / "manifest.json").get("git_commit", ""))
    if git_commit and re.fullmatch(r"[0-9a-f]{40}", recorded) and git_commit != recorded:
        raise GenlensError(f"'{src}' records git commit {recorded}, not {git_commit}; --git-commit is only for runs "
                           "trained outside a git checkout: leave it out")
    commit = git_commit or recorded
    if not re.fullmatch(r"[0-9a-f]{40}", commit):  # a run from a `git archive` snapshot records "unknown"
        raise GenlensError(f"'{src}' records git commit '{commit}' (trained outside a git checkout); pass --git-commit "
                           "with the full 40-hex commit of the code that trained it")
    kind = read_json(src / "config.json").get("kind", "classifier")
    dest.mkdir(parents=True)
    try:
        for fname in ("config.json", WEIGHTS_FILE):
            shutil.copy2(src / fname, dest / fname)
        manifest = read_json(src / "manifest.json")
        manifest["command"] = portable(str(manifest.get("command", "")))
        manifest["sha256"] = {WEIGHTS_FILE: manifest["sha256"][WEIGHTS_FILE]}
        manifest["note"] = note
        manifest["git_commit"] = commit
        if role:
            manifest["role"] = role
        (dest / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        from genlens.gan.discriminator import has_discriminator, load_discriminator, save_discriminator

        if kind == "gan" and discriminator and has_discriminator(src):
            save_discriminator(dest, load_discriminator(src))  # float16 (see genlens.gan.discriminator)
        _load_back(dest, kind)
    except BaseException:
        shutil.rmtree(dest)  # nothing half-shipped
        raise
    return dest


def _load_back(folder: Path, kind: str) -> None:
    """Load the shipped folder as users will (hashes checked), so a broken ship fails here."""
    if kind == "gan":
        from genlens.gan.io import load_generator

        load_generator(folder)
    elif kind.startswith("diffusion"):
        from genlens.diffusion.pipeline import DiffusionPipeline

        DiffusionPipeline.from_folder(folder)
    else:
        from genlens.models.weights_io import verify_manifest

        verify_manifest(folder)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path, help="the trained model folder (a training run's --out)")
    ap.add_argument("name", help="the shipped name, e.g. scenes-ddpm-layout")
    ap.add_argument("--note", required=True, help="how it was trained (sittings, CPU-hours, the result file)")
    ap.add_argument("--role", help="what `genlens models list` says it does")
    ap.add_argument("--git-commit", help="the full commit of the code that trained it, when its manifest says "
                    "'unknown' (a run from a `git archive` snapshot)")
    ap.add_argument("--no-discriminator", action="store_true", help="ship a GAN without its discriminator")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from genlens.errors import GenlensError

    try:
        dest = ship(args.src, args.name, note=args.note, role=args.role, discriminator=not args.no_discriminator,
                    git_commit=args.git_commit, weights=WEIGHTS)
    except GenlensError as exc:
        print(f"ship_model.py: {exc}", file=sys.stderr)
        return 2
    size, extra = tree_mib(ROOT), tree_mib(ROOT, untracked=True)
    fits = "fits" if size <= DEVICE_LIMIT_MIB else "does NOT fit"
    print(f"shipped {dest}; the tracked tree is {size:.1f} MiB, which {fits} the {DEVICE_LIMIT_MIB} MiB a lent GPU "
          f"machine takes (untracked, not-ignored files add {extra:.1f} MiB: exclude them before a device call)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
