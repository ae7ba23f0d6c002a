"""Experiment: autoguidance on top of the shipped class model's guidance, with earlier phases as the guide.

Autoguidance (Karras et al. 2024, "Guiding a Diffusion Model with a Bad Version of Itself", arXiv 2406.02507,
eq. 2) extrapolates from a weaker model of the same kind: ε = ε_bad + w (ε_good − ε_bad). Here the "bad"
model is an earlier training phase of `fmnist-ddpm` itself, recovered from git history and checked against
the sha256 its successor's manifest records; both branches of classifier-free guidance are autoguided, then
combined as usual, ε_u' + s (ε_c' − ε_u'), with s applied over the model's recommended interval.

    .venv/bin/python experiments/diffusion_autoguidance.py --n 2000 --seed 1 --runs phase1:2 phase1:1.5 phase2:2

Writes experiments/diffusion_autoguidance.json (until this move: bench/results/diffusion-eval/autoguidance.json,
the path the shipped fmnist-ddpm's sampling note cites); each row names its bad model, w, s and the interval.
What it chose ships as fmnist-ddpm's recommendation (guide fmnist-ddpm-guide = phase 2, w = 2); the guide acting
on part of the trajectory only (``ag=LO-HI``) was tried and not adopted, so it lives here as a subclass.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))  # bench/common.py: environment(), write_json()
WEIGHTS = "src/genlens/models/weights/fmnist-ddpm"
# Earlier phases of the shipped weights: the commit that shipped them and the sha256 the manifest chain records.
PHASES = {"phase1": ("00a41a7", "1c016ab57b143fcb51bf44003d76738522f03494e5eb2b92fe8b0fd6d1904523", 3500),
          "phase2": ("e31ccd6", "1bd4c84823a30328943dc3665b836d68cedd5ba3c66950cf9898eccd2346de07", 7500)}


def phase_folder(name: str, into: Path) -> Path:
    """The phase's model folder, written from git history and checked against its recorded sha256."""
    from genlens.utils.io import sha256_file

    commit, sha, _ = PHASES[name]
    folder = into / name
    folder.mkdir(parents=True, exist_ok=True)
    for f in ("model.safetensors", "config.json", "manifest.json"):
        blob = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{WEIGHTS}/{f}"], check=True,
                              capture_output=True).stdout
        (folder / f).write_bytes(blob)
    if sha256_file(folder / "model.safetensors") != sha:
        raise SystemExit(f"{name}: weights from {commit} do not match sha256 {sha[:12]}…")
    return folder


def parse_spec(spec: str, *, guidance: float, interval: str) -> dict[str, Any]:
    """``BAD:W`` (the first probe's form) or ``good=FOLDER,bad=phase2|FOLDER,w=2,s=3,iv=150-500|none,ag=LO-HI|all,
    sampler=ddim,sp=leading|power:1.5`` (20 steps of the named sampler with that timestep spacing; ``good``
    defaults to the shipped weights)."""
    if "=" not in spec:
        name, w = spec.split(":")
        spec = f"bad={name},w={w}"
    kv = dict(part.split("=", 1) for part in spec.split(","))
    unknown = set(kv) - {"good", "bad", "w", "s", "iv", "ag", "sampler", "sp"}
    if unknown:
        raise SystemExit(f"run spec '{spec}': unknown keys {sorted(unknown)} (use good, bad, w, s, iv, ag, sampler, sp)")

    def span(text: str) -> tuple[int, int] | None:
        return None if text in ("none", "all") else tuple(int(v) for v in text.split("-"))  # type: ignore[return-value]

    return {"good": kv.get("good", WEIGHTS), "bad": kv.get("bad", "phase2"), "w": float(kv.get("w", 2)), "s": float(kv.get("s", guidance)),
            "iv": span(kv.get("iv", interval)), "ag": span(kv.get("ag", "all")), "sampler": kv.get("sampler", "ddim"),
            "sp": kv.get("sp", "leading")}


def interval_guided(good, bad, w: float, interval: tuple[int, int] | None):
    """Autoguidance acting only at training timesteps inside ``interval`` (None: every step): the variant this
    probe measured and the library did not adopt (no shipped model uses it)."""
    from genlens.diffusion.autoguidance import AutoGuided

    class IntervalAutoGuided(AutoGuided):
        def forward(self, x, t, cond=None, drop=None):
            tt = torch.as_tensor(t, device=x.device)
            inside = (tt >= interval[0]) & (tt <= interval[1])
            if not bool(inside.any()):
                return self.good(x, t, cond, **({} if drop is None else {"drop": drop}))
            out = super().forward(x, t, cond, drop)
            if bool(inside.all()):
                return out
            good = self.good(x, t, cond, **({} if drop is None else {"drop": drop}))
            return torch.where(inside.view(-1, *([1] * (x.ndim - 1))), out, good)

    return AutoGuided(good, bad, w) if interval is None else IntervalAutoGuided(good, bad, w)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--guidance", type=float, default=3.0, help="CFG s unless a run spec sets s=")
    p.add_argument("--interval", default="150-600", help="CFG interval LO-HI|none unless a run spec sets iv= "
                   "(150-600: the shipped recommendation when the probe began)")
    p.add_argument("--runs", nargs="+", default=["phase1:2"], help="BAD:W pairs, e.g. phase1:2 (BAD in "
                   f"{sorted(PHASES)}), or key=value lists: bad=phase2|FOLDER,w=2,s=3,iv=150-500|none,ag=LO-HI|all,"
                   "sp=power:1.5 (ag: timesteps where the guide acts; sp: timestep spacing, default leading)")
    p.add_argument("--section", default=None, help="merge the rows into --out under this key instead of "
                   "rewriting the file")
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "experiments" / "diffusion_autoguidance.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    specs = [parse_spec(r, guidance=args.guidance, interval=args.interval) for r in args.runs]

    from common import environment, write_json

    from genlens.data.fashion_mnist import load_fashion_mnist
    from genlens.diffusion import evaluate as E
    from genlens.diffusion.io import load_diffusion
    from genlens.diffusion.pipeline import DiffusionPipeline
    from genlens.utils.io import sha256_file

    goods = {}
    reference = E.Reference.build(load_fashion_mnist("test").float_images())
    judges = E.default_judges()
    rows, bads = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for spec, text in zip(specs, args.runs, strict=True):
            name = spec["bad"]
            if name not in bads:
                folder = phase_folder(name, Path(tmp)) if name in PHASES else Path(name)
                bads[name] = load_diffusion(folder, verify=name in PHASES).model
            if spec["good"] not in goods:
                goods[spec["good"]] = load_diffusion(ROOT / spec["good"])
            good = goods[spec["good"]]
            net = interval_guided(good.model, bads[name], spec["w"], spec["ag"])
            pipe = DiffusionPipeline.from_model(net, schedule=good.schedule, class_names=good.class_names)
            r = E.evaluate_class_model(pipe, n=args.n, seed=args.seed, guidance=spec["s"], guidance_interval=spec["iv"],
                                       sampler=spec["sampler"], steps=20, timestep_spacing=spec["sp"],
                                       reference=reference, judges=judges, batch_size=args.batch)
            rows.append({"spec": text, "good_model": spec["good"], "good_sha256": sha256_file(Path(ROOT / spec["good"]) / "model.safetensors"),
                         "bad_model": name, "bad_model_steps": PHASES[name][2] if name in PHASES else None,
                         "w": spec["w"], "guidance": spec["s"], "sampler": spec["sampler"], "timestep_spacing": spec["sp"],
                         "guidance_interval": spec["iv"] and list(spec["iv"]),
                         "guide_interval": spec["ag"] and list(spec["ag"]),
                         "fid": r["fid"]["value"], "kid": r["kid"]["value"], "kid_std": r["kid"]["std"],
                         "accuracy": r["accuracy"], "seconds": r["seconds"]})
            print(rows[-1], flush=True)
    command = " ".join(["python3", "experiments/diffusion_autoguidance.py", *sys.argv[1:]])
    if args.section:
        doc = json.loads(args.out.read_text()) if args.out.is_file() else {}
        doc[args.section] = {"n": args.n, "seed": args.seed, "steps": 20, "rows": rows,
                             "command": command}
        write_json(args.out, doc)
        return 0
    write_json(args.out, {"what": "autoguidance (Karras et al. 2024) on top of CFG, probe", "model": WEIGHTS,
                          "n": args.n, "seed": args.seed, "guidance": args.guidance, "sampler": "ddim", "steps": 20,
                          "extractor": "genlens-fmnist", "judge": "fmnist-cnn", "rows": rows, "command": command,
                          "env": environment(torch.device("cpu"))})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
