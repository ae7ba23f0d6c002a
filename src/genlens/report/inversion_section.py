"""The tour's inversion section: live PII of one model judged by the others, the classes x architectures x
methods grid of the last ``bench/inversion.py`` run (from the results folder the tour is given), a live
neuron gallery and live text-prompt images.

The whole-zoo, every-method comparison takes ~10 CPU-minutes per method, too long for ``make demo``: the
tour shows that benchmark's own PNG grids and numbers (with its date and command) and computes the cheap
parts live from the shipped models.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from genlens.report import html as H

METHOD_TITLES = {"pii": "PII (tuned preset)", "pii-tuned": "PII (tuned preset)", "pii-paper": "PII (paper recipe)",
                 "pii-literal": "PII (literal recipe)", "deepdream": "DeepDream",
                 "deepinversion": "DeepInversion", "lucent": "lucent render_vis", "torch-dreams": "torch-dreams"}
NEURON_LAYERS = [("fmnist-cnn", "stages.2", "last conv stage, channels 0-7"),
                 ("fmnist-vit", "blocks.3", "block 3 MLP hidden units 0-7, mean over patch tokens")]
PROMPTS = ["a leather ankle boot", "a warm wool pullover", "a summer dress", "something to wear on a run",
           "a bag for the groceries"]


def _live_pii(ctx, judges) -> str:
    from genlens.inversion.api import invert
    from genlens.inversion.evaluate import cross_model_eval
    from genlens.utils.images import save_grid

    source = "fmnist-vit"
    handle = next(h for h in judges if h.name == source)
    labels = torch.arange(handle.num_classes)
    scale = 0.05 if ctx.quick else 1.0
    t0 = time.perf_counter()
    images = invert(handle, labels.tolist(), method="pii", seed=ctx.seed, steps_scale=scale)
    secs = time.perf_counter() - t0
    save_grid(images, ctx.out / "inversion" / "pii-vit.png", nrow=len(labels), upscale=3)
    ev = cross_model_eval(images, labels, judges, source=source, with_is=False)
    ctx.numbers["inversion"] = {"source": source, "steps_scale": scale, "seconds": round(secs, 1), **ev}
    rows = [(j, f"{100 * r['top1']:.0f}%", f"{100 * r['top5']:.0f}%", "inverted model" if j == source else "judge")
            for j, r in ev["judges"].items()]
    return (f"<p>Plug-In Inversion (Ghiasi et al. 2022) of every class of <code>{source}</code> with the "
            "<code>pii-tuned</code> preset (a tuned variant of PII, not the paper's recipe: one hyper-parameter set "
            f"for all four architectures), {secs:.0f} s here. "
            "Success is judged by the <em>other</em> models, never by the inverted model's own confidence: "
            f"mean cross-model top-1 {100 * ev['cross_top1_mean']:.0f}%.</p>"
            + H.figure("inversion/pii-vit.png", "columns: " + ", ".join(handle.class_names), width=900)
            + H.table(["model", "top-1 on intended class", "top-5", "role"], rows))


def _bench_grid(ctx, results: Path | None) -> str:
    """Every method x architecture from the last bench run (PNG rows = classes in order); ``results``: the
    folder of benchmark results the tour was given (None: a note instead)."""
    if results is None:
        return H.no_results("the methods x architectures grid of bench/inversion.py")
    path = results / "inversion.json"
    if not path.is_file():
        return (f"<p class='todo'>No <code>inversion.json</code> in {H.esc(results)}: run <code>python "
                "bench/inversion.py</code> for the methods x architectures grid.</p>")
    result = json.loads(path.read_text())
    dest = ctx.out / "inversion" / "bench"
    dest.mkdir(parents=True, exist_ok=True)
    figs, rows = [], []
    numbers: dict[str, Any] = {}
    for method, block in result.get("methods", {}).items():
        for arch, r in block.get("per_arch", {}).items():
            png = results / "inversion" / f"{method}_{arch}.png"
            if r.get("status") != "ok" or not png.is_file():
                continue
            shutil.copyfile(png, dest / png.name)
            figs.append(H.figure(f"inversion/bench/{png.name}",
                                 f"{METHOD_TITLES.get(method, method)} on {arch}: cross-model top-1 "
                                 f"{100 * r['cross_top1']:.0f}%", width=420))
        s = block.get("summary", {})
        if s.get("pairs"):
            rows.append((METHOD_TITLES.get(method, method), s["pairs"], f"{100 * s['cross_top1_mean']:.0f}%",
                         f"{100 * s['cross_top5_mean']:.0f}%"))
            numbers[method] = {"cross_top1_mean": s["cross_top1_mean"], "pairs": s["pairs"]}
    ctx.numbers["inversion_bench"] = {"date": result.get("env", {}).get("date"), **numbers}
    when = result.get("env", {}).get("date", "?")
    return (f"<h3>Every method on every architecture</h3><p>From the last <code>bench/inversion.py</code> run "
            f"({H.esc(when)}; same step budget for every method, 10 classes left to right, judged by the other "
            "three models). Reproduce with <code>make bench</code>.</p>"
            + H.table(["method", "(source, judge) pairs", "mean cross top-1", "top-5"], rows)
            + "<div class='grid'>" + "".join(figs) + "</div>")


def _neurons(ctx, judges) -> str:
    from genlens.inversion.visualize import visualize
    from genlens.utils.images import save_grid

    by_name = {h.name: h for h in judges}
    scale = 0.05 if ctx.quick else 0.3
    figs, secs = [], {}
    for name, layer, what in NEURON_LAYERS:
        t0 = time.perf_counter()
        images = visualize(by_name[name], layer=layer, units=list(range(8)), seed=ctx.seed, steps_scale=scale)
        secs[name] = round(time.perf_counter() - t0, 1)
        save_grid(images, ctx.out / "inversion" / f"units-{name}.png", nrow=8, upscale=3)
        figs.append(H.figure(f"inversion/units-{name}.png", f"{name}, {what} ({secs[name]:.0f} s)", width=560))
    ctx.numbers["neuron_gallery"] = {"steps_scale": scale, "seconds": secs}
    return ("<h3>Neuron gallery</h3><p>Images that drive single units up (<code>genlens visualize MODEL --layer L "
            "--unit 0-7</code>): conv channels of the CNN, and for the ViT the hidden units of a block's MLP averaged "
            "over patch tokens (Ghiasi et al. 2022b), with the PII augmentations.</p>" + "".join(figs))


def _prompts(ctx, judges) -> str:
    from genlens.inversion.methods.clip_text import run_prompt_inversion
    from genlens.utils.images import save_grid

    prompts = PROMPTS[:2] if ctx.quick else PROMPTS
    scale = 0.05 if ctx.quick else 0.3
    t0 = time.perf_counter()
    r = run_prompt_inversion("fmnist-clip", prompts, n=2, seed=ctx.seed, steps_scale=scale)
    secs = time.perf_counter() - t0
    save_grid(r.images, ctx.out / "inversion" / "prompts.png", nrow=2 * len(prompts), upscale=3)
    cnn = next(h for h in judges if h.name == "fmnist-cnn")
    pred = cnn.predict(r.images).argmax(1).tolist()
    rows = [(f"“{p}”", f"{sim:.2f}", cnn.class_names[c]) for p, sim, c in zip(r.prompts, r.similarity, pred)]
    ctx.numbers["prompt_gallery"] = {"prompts": prompts, "similarity": r.similarity, "steps_scale": scale,
                                     "cnn_says": [cnn.class_names[c] for c in pred], "seconds": round(secs, 1)}
    return ("<h3>Images from a text prompt</h3><p>Inverting the shipped <code>fmnist-clip</code> (an image tower "
            "trained against the frozen MiniLM sentence encoder) toward a prompt's embedding: <code>genlens invert "
            f"clip --prompt \"...\"</code>. Two images per prompt, {secs:.0f} s; the last two prompts are paraphrases "
            "never seen in training. The zoo CNN says what it sees.</p>"
            + H.figure("inversion/prompts.png", " | ".join(prompts), width=900)
            + H.table(["prompt", "cos(image, prompt)", "zoo CNN sees"], rows))


def section_inversion(ctx) -> str:
    from genlens.models.load import load_model
    from genlens.models.zoo import ZOO

    judges = [load_model(name, device=ctx.device) for name in ZOO.available()]
    return _live_pii(ctx, judges) + _bench_grid(ctx, ctx.results) + _neurons(ctx, judges) + _prompts(ctx, judges)
