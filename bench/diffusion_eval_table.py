"""The README's diffusion tables, from ``genlens diffusion eval`` outputs (``bench/results/diffusion-eval/``).

    .venv/bin/python bench/diffusion_eval_table.py                   # print
    .venv/bin/python bench/diffusion_eval_table.py --readme README.md  # replace between the diffusion markers

``class/eval.json`` is the class model's run (n samples at s, DDIM steps; optional guidance and steps sweeps);
``text/eval.json`` the text model's (held-out paraphrases with ``--prompts``, anchored by default) and
``text-plain/eval.json`` the same with ``--anchors 0`` (the prompt alone); ``validation{,-plain}/eval.json``
the same two on the second held-out set (``--prompt-set validation``). Every number comes from those
files; a missing file or section leaves its rows out.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

START, END = "<!-- diffusion:start -->", "<!-- diffusion:end -->"
RESULTS = Path(__file__).resolve().parent / "results" / "diffusion-eval"


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _interval(ev: dict[str, Any]) -> str:
    """" guided at t 150–600" for results made with a guidance interval (``diffusion eval`` records it)."""
    gi = ev.get("guidance_interval")
    return f" guided at t {gi[0]}–{gi[1]}" if gi else ""


def _guide(run: dict[str, Any] | None) -> str:
    """", autoguided by `fmnist-ddpm-guide` (w=2)" for runs with autoguidance (``diffusion eval`` records it)."""
    if not run or not run.get("guide_model"):
        return ""
    gi = run.get("guide_interval")
    where = f" at t {gi[0]}–{gi[1]}" if gi else ""
    return f", autoguided by `{Path(run['guide_model']).name}` (w={run['guide_weight']:g}{where})"


def _spacing(ev: dict[str, Any]) -> str:
    """" (timesteps power:1.5)" for results sampled with a spacing other than diffusers' leading one."""
    sp = ev.get("timestep_spacing")
    return f" (timesteps {sp})" if sp and sp != "leading" else ""


def _setting(ev: dict[str, Any], run: dict[str, Any] | None = None) -> str:
    sampler = ev["sampler"].upper() if ev["sampler"] != "dpm++" else "DPM++"
    return f"s={ev['guidance']:g}{_interval(ev)}{_guide(run)}, {sampler} {ev['steps']}{_spacing(ev)}"


def _anchoring(p: dict[str, Any]) -> str:
    a = p.get("anchors") or {"k": 0}
    if not a["k"]:
        return "prompt alone"
    mix = f", prompt weight {a['prompt_weight']:g}" if a.get("prompt_weight") else ""
    return f"{a['k']} nearest training captions{mix}"


def headline(cls: dict[str, Any] | None, txt: dict[str, Any] | None, plain: dict[str, Any] | None = None,
             *extra: dict[str, Any] | None) -> list[str]:
    rows = ["| measure (genlens-fmnist features, full test set as reference) | value | samples | target |",
            "|---|---:|---:|---|"]
    if cls:
        ev, ref = cls["class_eval"], cls.get("reference", {})
        name = Path(cls["model"]).name
        rows.append(f"| judged accuracy, `{name}`, {_setting(ev, cls)} (zoo CNN) | {_pct(ev['accuracy'])} | {ev['n']} "
                    f"| ≥ 90 % |")
        halves = ref.get("fid_test_halves", {}).get("value")
        # four significant digits: the headline FID and its bar can agree to three
        target = f"≤ {3 * halves:.4g} (3 × test halves)" if halves else "≤ 3 × real floor"
        rows.append(f"| FID, {_setting(ev, cls)} | {ev['fid']['value']:.4g} | {ev['fid']['n_fake']} | {target} |")
        kid = ev["kid"]
        rows.append(f"| KID, {_setting(ev, cls)} | {kid['value']:.3f} ± {kid['std']:.3f} | {kid['n_fake']} | |")
        if "fid_real_n" in ref:
            r = ref["fid_real_n"]
            rows.append(f"| FID, {r['n_fake']} real training images (same n) | {r['value']:.2f} | {r['n_fake']} "
                        f"| floor |")
        if halves:
            rows.append(f"| FID, test half vs half | {halves:.3f} | {ref['fid_test_halves']['n_fake']} "
                        f"| the issue's floor |")
    if txt:
        name = Path(txt["model"]).name
        for run in (txt, plain, *extra):
            if run and "prompts" in run:
                p = run["prompts"]
                what = ("second held-out set (validation)" if p.get("prompt_set") == "validation"
                        else "held-out paraphrase accuracy")
                rows.append(f"| {what}, `{Path(run['model']).name}`, {_setting(p, run)}, "
                            f"{_anchoring(p)} | {_pct(p['accuracy'])} | {p['n']} | ≥ 75 % |")
        ev = txt["class_eval"]
        rows.append(f"| `{name}`, one training-style prompt per class: accuracy / FID | {_pct(ev['accuracy'])} / "
                    f"{ev['fid']['value']:.2f} | {ev['n']} | |")
    return rows


def guidance_rows(cls: dict[str, Any]) -> list[str]:
    sweep = cls.get("guidance_sweep") or []
    if not sweep:
        return []
    s = " | ".join(f"{r['guidance']:g}" for r in sweep)
    return ["", f"Guidance sweep ({sweep[0].get('judge', 'zoo CNN')}-judged, DDIM {cls['class_eval']['steps']}"
            f"{_spacing(sweep[0])}, the same initial noise at every s"
            f"{_interval(sweep[0]).replace(' guided', ', guided')}{_guide(cls)}):", "",
            f"| s | {s} |", "|---|" + "---:|" * len(sweep),
            "| FID | " + " | ".join(f"{r['fid']:.2f}" for r in sweep) + " |",
            "| accuracy | " + " | ".join(f"{100 * r['accuracy']:.0f} %" for r in sweep) + " |",
            "", f"(n = {sweep[0]['n']} per point.)"]


def steps_rows(cls: dict[str, Any]) -> list[str]:
    sweep, rows = cls.get("steps_sweep") or [], []
    if sweep:
        sp = sweep[0].get("timestep_spacing")
        where = f"; fewer steps than timesteps visit them spaced {sp}" if sp and sp != "leading" else ""
        rows += ["", f"Steps sweep (s={sweep[0]['guidance']:g}{_interval(sweep[0]).replace(' guided', ', guided')}"
                 f"{_guide(cls)}{where}):", "",
                 "| sampler | steps | n | FID | accuracy | seconds |", "|---|---:|---:|---:|---:|---:|"]
    rows += [f"| {r['sampler']} | {r['steps']} | {r['n']} | {r['fid']:.2f} | {100 * r['accuracy']:.0f} % "
             f"| {r['seconds']:.0f} |" for r in sweep]
    target = cls.get("fast_vs_full")
    for f in cls.get("fast_vs_full_by_sampler") or ([target] if target else []):
        name = "DPM++" if f["fast"][0] == "dpm++" else f["fast"][0].upper()
        goal = " (target ≤ 1.2)" if target and f["fast"] == target["fast"] else ""
        rows += ["", f"{name}-{f['fast'][1]} / {f['full'][0].upper()}-{f['full'][1]} FID at "
                 f"n={f['n']}: {f['ratio']:.2f}{goal}, {f['speedup']:.0f}× faster."]
    return rows


def render(results: Path = RESULTS) -> str:
    cls, txt = _load(results / "class" / "eval.json"), _load(results / "text" / "eval.json")
    plain = _load(results / "text-plain" / "eval.json")  # the same prompts with --anchors 0
    if not cls and not txt:
        return "_No diffusion evaluation yet: run `genlens diffusion eval`._"
    extra = [_load(results / f / "eval.json") for f in ("validation", "validation-plain")]
    rows = headline(cls, txt, plain, *extra)
    if cls:
        rows += guidance_rows(cls) + steps_rows(cls)
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--readme", type=Path, default=None, help="update this file between the diffusion markers")
    args = p.parse_args(argv)
    body = render(args.results)
    if args.readme is None:
        print(body)
        return 0
    text = args.readme.read_text()
    if START not in text or END not in text:
        print(f"{args.readme} has no {START} ... {END} markers", file=sys.stderr)
        return 1
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), flags=re.DOTALL)
    args.readme.write_text(pattern.sub(lambda _: f"{START}\n{body}\n{END}", text, count=1))
    print(f"updated {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
