"""Tour section "Diffusion": per-class grids and a denoising filmstrip from the shipped class-conditional
model, a prompt gallery from the text-conditional one (judged live by the zoo CNN), and the guidance and
steps sweeps read from the benchmark (too slow to recompute in a tour on CPU).

Benchmark file ``diffusion.json`` in the results folder the tour is given (written by ``bench/diffusion.py``; the same layout as the
``eval.json`` of ``genlens diffusion eval``). Keys read here, all optional:

- ``result["guidance_sweep"] = [{"guidance", "fid", "accuracy", "n"}, ...]``
- ``result["steps_sweep"] = [{"sampler", "steps", "fid", "seconds", "n"}, ...]`` (rows with equal ``n`` are
  comparable: the DDPM-1000 point usually has a smaller n and a DDIM-20 row at that same n)
- ``result["class_eval"] = {"fid": {"value", "extractor", "n_fake"}, "accuracy", "judge", "n", "guidance",
  "sampler", "steps"}``
- ``result["reference"] = {"fid_test_halves": {"value", "n_fake"}, "fid_real_n": {"value", "n_fake"}}``
- ``result["prompts"] = {"accuracy", "n", "k", "anchors": {"k"}}`` (held-out paraphrases)

Budget: < 90 s on 2 CPU cores (< 30 s with ``ctx.quick``). Measured cost on one CPU thread: the small
class UNet does ~140 image-forwards/s, the text UNet ~70, and a guided DDIM-20 sample takes 40 forwards
(anchored to K = 8 captions: 180); so full mode draws 6 per class + 4 filmstrips + 8 prompts x 3 twice, alone
and anchored (~9,300 forwards), quick mode 1 per class + 2 filmstrips + 4 prompts x 1 twice (~1,500). The
gallery's token embeddings, anchors included, are cached on disk (:mod:`genlens.diffusion.prompt_cache`);
only the first run loads MiniLM (and, once, indexes the training captions). A missing model or benchmark file
is reported with the command that makes it, and that part is skipped.
"""
from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from genlens.report import html as H

BENCH_FILE = "diffusion.json"  # in the results folder the tour is given (bench/results in a checkout)
# `genlens diffusion eval` outputs kept beside it: the shipped models' scores and sweeps (same keys).
EVAL_FILES = tuple(f"diffusion-eval/{kind}/eval.json" for kind in ("class", "text"))


def load_bench_results(results: Path, evals: Sequence[str] = EVAL_FILES) -> dict[str, Any] | None:
    """``results/diffusion.json`` merged with the eval.json files (later files fill keys the earlier ones lack)."""
    merged: dict[str, Any] = {}
    found = False
    for p in (results / BENCH_FILE, *(results / e for e in evals)):
        if p.is_file():
            found = True
            for k, v in json.loads(p.read_text()).items():
                if v is not None and k not in merged:
                    merged[k] = v
    return merged if found else None
GUIDANCE, SAMPLER, STEPS = 3.0, "ddim", 20
FILM_CLASSES = (1, 4, 7, 9)  # Trouser, Coat, Sneaker, Ankle boot
# (prompt, intended class, kind): training-style captions and held-out paraphrases (data/captions.py).
GALLERY = (
    ("a photo of a sneaker", 7, "training-style"),
    ("a black leather ankle boot", 9, "training-style"),
    ("a striped t-shirt", 0, "training-style"),
    ("a photo of a handbag", 8, "training-style"),
    ("something to wear on a run", 7, "held-out"),
    ("a bag for the groceries", 8, "held-out"),
    ("something casual to wear on a hot day", 0, "held-out"),
    ("a top with buttons and a collar for the office", 6, "held-out"),
)
QUICK_GALLERY = (0, 1, 4, 5)


# ----------------------------------------------------------------------------------------- plots
def guidance_sweep_png(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Left: FID and judged accuracy against the guidance scale s; right: the FID-accuracy trade-off."""
    from genlens.report.plots import _plt

    plt = _plt()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    s = [r["guidance"] for r in rows]
    fid = [r["fid"] for r in rows]
    acc = [100 * r["accuracy"] for r in rows]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8.6, 3.3))
    a1.plot(s, fid, "o-", color="#4c72b0")
    a1.set_xlabel("guidance scale s")
    a1.set_ylabel("FID (lower is better)", color="#4c72b0")
    a1b = a1.twinx()
    a1b.plot(s, acc, "s--", color="#dd8452")
    a1b.set_ylabel("% judged as intended", color="#dd8452")
    a1.set_title(f"guidance sweep (n={rows[0]['n'] if rows else 0} per point)", fontsize=10)
    a2.plot(acc, fid, "o-", color="#55a868")
    for x, y, v in zip(acc, fid, s):
        a2.annotate(f"s={v:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    a2.set_xlabel("% judged as intended")
    a2.set_ylabel("FID")
    a2.set_title("trade-off: accuracy vs FID", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def steps_sweep_png(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """FID against sampling steps (log scale), one marker per sampler and sample count, seconds annotated."""
    from genlens.report.plots import _plt

    plt = _plt()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["sampler"], r["n"]), []).append(r)
    for (sampler, n), rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r["steps"])
        ax.plot([r["steps"] for r in rs], [r["fid"] for r in rs], "o-" if len(rs) > 1 else "s",
                label=f"{sampler} (n={n})")
        for r in rs:
            ax.annotate(f"{r['seconds']:.0f} s", (r["steps"], r["fid"]), textcoords="offset points", xytext=(4, 4),
                        fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("sampling steps")
    ax.set_ylabel("FID")
    ax.set_title("steps sweep (seconds per point annotated)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------------------- parts
def _missing(cond: str, folder: Path) -> str:
    return (f"<p class='todo'>No shipped {cond}-conditional diffusion model at <code>{H.esc(folder)}</code>; "
            f"create it with <code>genlens diffusion train --cond {cond} --out {H.esc(folder)}</code>. "
            "This part is skipped.</p>")


def _pipeline(cond: str, ctx):
    """The shipped model (for text: the tour's ``--text-diffusion`` folder when given) with its recommended
    settings (guide, guidance interval, spacing), as `diffusion sample` uses them, drawing DDIM 20 with s = 3;
    or None and a note saying how to make a missing model."""
    from genlens.diffusion.io import shipped_diffusion_folder
    from genlens.diffusion.pipeline import DiffusionPipeline

    given = getattr(ctx, "text_diffusion", None) if cond == "text" else None
    folder = Path(given) if given is not None else shipped_diffusion_folder(cond)
    if not (folder / "model.safetensors").is_file():
        return None, _missing(cond, folder)
    return DiffusionPipeline.from_folder(folder, device=ctx.device, sampler=SAMPLER, steps=STEPS,
                                         guidance=GUIDANCE), ""


def _class_part(ctx, cnn) -> str:
    from genlens.diffusion.evaluate import class_grid, judge_samples
    from genlens.diffusion.filmstrip import denoising_filmstrip
    from genlens.utils.images import save_grid
    from genlens.utils.seed import make_generator

    pipe, note = _pipeline("class", ctx)
    if pipe is None:
        return note
    names = list(pipe.class_names)
    per = 1 if ctx.quick else 6
    t0 = time.perf_counter()
    images = class_grid(pipe, per_class=per, seed=ctx.seed)
    secs = time.perf_counter() - t0
    labels = torch.arange(len(names)).repeat_interleave(per)
    verdict = judge_samples(images, labels, [cnn], names)
    save_grid(images, ctx.out / "diffusion" / "class-grid.png", nrow=per if per > 1 else len(names), upscale=2)
    film_classes = [c for c in FILM_CLASSES if c < len(names)][: 2 if ctx.quick else 4] or [0]
    film = denoising_filmstrip(pipe.denoiser(), pipe.class_condition(torch.tensor(film_classes)), pipe.config,
                               frames=6 if ctx.quick else 8, schedule=pipe.schedule,
                               generator=make_generator(ctx.seed + 1, ctx.device))
    k = len(film.timesteps) + 1
    save_grid(film.rows(), ctx.out / "diffusion" / "filmstrip.png", nrow=k, upscale=3)
    record = pipe.record()
    interval, spacing = pipe.config.guidance_interval, pipe.config.timestep_spacing
    guide = {key: record.get(key) for key in ("guide_model", "guide_sha256", "guide_weight")}
    ctx.numbers.setdefault("diffusion", {})["class_grid"] = {
        "n": int(images.shape[0]), "sampler": SAMPLER, "steps": STEPS, "guidance": GUIDANCE, "seconds": round(secs, 2),
        "guidance_interval": list(interval) if interval else None, "timestep_spacing": spacing, **guide,
        "sources": record["sources"], "accuracy": verdict["accuracy"], "judge": verdict["judge"],
        "per_class_accuracy": verdict["per_class_accuracy"], "filmstrip_timesteps": film.timesteps}
    rows = [(c, f"{100 * a:.0f}%") for c, a in verdict["per_class_accuracy"].items()]
    return (f"<h3>Class-conditional samples</h3><p>The shipped <code>fmnist-ddpm</code> (EMA weights), DDIM {STEPS} "
            f"steps, classifier-free guidance s = {GUIDANCE:g}"
            + (f" at training timesteps {interval[0]}–{interval[1]} (the model's recommended guidance interval)"
               if interval else "")
            + (f", timesteps spaced {H.esc(spacing)}" if spacing != "leading" else "")
            + (f", autoguided by its earlier checkpoint <code>{H.esc(Path(guide['guide_model']).name)}</code> with "
               f"w = {guide['guide_weight']:g} (Karras et al. 2024)" if guide.get("guide_model") else "")
            + f", seed {ctx.seed}: {per} samples per class, drawn now "
            f"in {secs:.1f} s. Judged by <code>{H.esc(verdict['judge'])}</code>: "
            f"<b>{100 * verdict['accuracy']:.0f}%</b> as the requested class ({images.shape[0]} images).</p>"
            + H.figure("diffusion/class-grid.png", ("one row per class: " if per > 1 else "one column per class: ")
                       + ", ".join(names), width=360 if per > 1 else 720)
            + H.table(["class", "judged as intended"], rows)
            + "<h3>Denoising filmstrip</h3><p>One DDIM run per class, left to right from pure noise "
              f"(t = {film.timesteps[0]}) to t = {film.timesteps[-1]}, last column the finished sample. Top row of "
              "each pair: x<sub>t</sub>; bottom row: the model's guess of the clean image at that step, "
              "x̂<sub>0</sub> = (x<sub>t</sub> − √(1−ᾱ<sub>t</sub>) ε̂) / √ᾱ<sub>t</sub>: the shape is decided "
              "early, the detail late.</p>"
            + H.figure("diffusion/filmstrip.png", "classes: " + ", ".join(names[c] for c in film_classes), width=640))


def _text_part(ctx, cnn) -> str:
    from genlens.diffusion.evaluate import generate
    from genlens.diffusion.prompt_cache import cached_anchored_tokens, cached_prompt_tokens
    from genlens.diffusion.text import token_layout
    from genlens.utils.images import save_grid

    pipe, note = _pipeline("text", ctx)
    if pipe is None:
        return note
    if pipe.bundle.captions_from == "images":
        return _own_captions_part(ctx, pipe)
    names = list(pipe.class_names)
    gallery = [GALLERY[i] for i in QUICK_GALLERY] if ctx.quick else list(GALLERY)
    gallery = [g for g in gallery if g[1] < len(names)]
    per = 1 if ctx.quick else 3
    prompts = [g[0] for g in gallery]
    layout, encoder_name = token_layout(pipe.model.config), pipe.bundle.text_encoder or "minilm"
    k_anchors = pipe.config.anchors or 8  # what `genlens diffusion sample --prompt` does by default
    plain = cached_prompt_tokens(prompts, **layout, encoder_name=encoder_name)
    *anchored, anchor_texts = cached_anchored_tokens(prompts, k=k_anchors, **layout, encoder_name=encoder_name,
                                                     caption_round=pipe.bundle.caption_round)
    which = torch.arange(len(prompts)).repeat_interleave(per)
    labels = torch.tensor([gallery[i][1] for i in which.tolist()])
    target = torch.tensor([cnn.class_index(names[y]) for y in labels.tolist()])
    runs, hits = {}, {}
    t0 = time.perf_counter()
    for mode, (tokens, mask) in (("plain", plain), ("anchored", anchored)):  # anchored tokens: (P, 1 + K, T, D)
        runs[mode] = generate(pipe, lambda idx, t=tokens, m=mask: (t[which[idx]], m[which[idx]]), len(which),
                              seed=ctx.seed)  # the same seed: the same initial noise in both columns
        hits[mode] = (cnn.predict(runs[mode]).argmax(1) == target).float()
    secs = time.perf_counter() - t0
    # One row per prompt: its plain samples, then its anchored samples.
    rows_img = torch.stack([runs["plain"].view(len(prompts), per, *runs["plain"].shape[1:]),
                            runs["anchored"].view(len(prompts), per, *runs["anchored"].shape[1:])], 1)
    save_grid(rows_img.flatten(0, 2), ctx.out / "diffusion" / "prompts.png", nrow=2 * per, upscale=2)
    rows, per_prompt = [], []
    for i, (p, c, kind) in enumerate(gallery):
        acc = {m: float(hits[m][which == i].mean()) for m in hits}
        per_prompt.append({"prompt": p, "class": names[c], "kind": kind, "accuracy": acc["plain"],
                           "accuracy_anchored": acc["anchored"], "nearest_caption": anchor_texts[i][0]})
        rows.append((p, kind, names[c], f"{100 * acc['plain']:.0f}%", f"{100 * acc['anchored']:.0f}%",
                     anchor_texts[i][0]))
    overall = {m: float(h.mean()) for m, h in hits.items()}
    ctx.numbers.setdefault("diffusion", {})["prompt_gallery"] = {
        "n": int(which.numel()), "per_prompt": per, "seconds": round(secs, 2), "accuracy": overall["plain"],
        "accuracy_anchored": overall["anchored"], "anchors": k_anchors, "judge": cnn.name, "prompts": per_prompt}
    return ("<h3>Prompt gallery</h3><p>The shipped <code>fmnist-ddpm-text</code>: a UNet cross-attending to frozen "
            "MiniLM token embeddings, guidance s = 3, DDIM 20. Training-style prompts are built like the training "
            "captions; held-out ones never appeared in training and name a use rather than the garment. "
            f"Left: the prompt alone. Right, from the same noise: the prompt anchored to its {k_anchors} nearest "
            "training captions (MiniLM cosine; the default of <code>genlens diffusion sample --prompt</code>, "
            "<code>--anchors 0</code> turns it off). "
            f"{per} samples per prompt and side, {secs:.1f} s; judged as intended: "
            f"<b>{100 * overall['plain']:.0f}%</b> alone, <b>{100 * overall['anchored']:.0f}%</b> anchored.</p>"
            + H.figure("diffusion/prompts.png", "one row per prompt, in the order of the table; left half the "
                       "prompt alone, right half anchored", width=120 * per + 40)
            + H.table(["prompt", "kind", "intended class", "alone", "anchored", "nearest training caption"], rows))


def _own_captions_part(ctx, pipe) -> str:
    """A text model of its images' own captions (a captioned folder): a row per caption of its own, drawn plain
    (anchors are Fashion-MNIST captions) and unjudged (the zoo judges know Fashion-MNIST's classes only)."""
    from genlens.diffusion.evaluate import generate_prompt_samples
    from genlens.utils.images import save_grid

    folder, spec = H.esc(pipe.bundle.folder), H.esc(pipe.bundle.data.spec)
    prompts = pipe.own_prompts(4 if ctx.quick else 8)
    if not prompts:
        return (f"<h3>Prompt gallery</h3><p class='todo'><code>{folder}</code> was trained on its images' own "
                f"captions, and its data <code>{spec}</code> is no longer there to take prompts from; draw it with "
                f"<code>genlens diffusion sample {folder} --prompt TEXT</code>. This part is skipped.</p>")
    per = 1 if ctx.quick else 3
    t0 = time.perf_counter()
    images = generate_prompt_samples(pipe, [p for p in prompts for _ in range(per)], len(prompts) * per,
                                     seed=ctx.seed)  # row-major: a row of `per` samples per caption
    secs = time.perf_counter() - t0
    save_grid(images, ctx.out / "diffusion" / "prompts.png", nrow=per, upscale=2)
    ctx.numbers.setdefault("diffusion", {})["prompt_gallery"] = {
        "model": str(pipe.bundle.folder), "captions_from": "images", "captions_of": pipe.bundle.data.spec,
        "n": int(images.shape[0]), "per_prompt": per, "seconds": round(secs, 2), "anchors": 0, "prompts": prompts}
    return (f"<h3>Prompt gallery</h3><p><code>{folder}</code>, a text model trained on the captions of "
            f"<code>{spec}</code>: a row per one of its own first {len(prompts)} distinct captions, {per} samples "
            f"each, guidance s = {GUIDANCE:g}, DDIM {STEPS}, {secs:.1f} s. No anchoring (it retrieves Fashion-MNIST "
            "captions) and no judge (the zoo's classifiers know Fashion-MNIST's classes only).</p>"
            + H.figure("diffusion/prompts.png", "one row per caption, in the order of the table", width=120 * per + 40)
            + H.table(["caption"], [(p,) for p in prompts]))


def _bench_part(ctx) -> str:
    if ctx.results is None:
        return "<h3>Sweeps</h3>" + H.no_results("the guidance and steps sweeps")
    result = load_bench_results(ctx.results)
    if result is None:
        return ("<h3>Sweeps</h3><p class='todo'>No benchmark result at <code>bench/results/diffusion.json</code>; "
                "create it with <code>python bench/diffusion.py</code> (or <code>genlens diffusion eval --sweep "
                "guidance --sweep steps --out DIR</code>, whose eval.json has the same keys). The guidance and steps "
                "sweeps take minutes of sampling, too slow to recompute here.</p>")
    out, figs, rows = ctx.out / "diffusion", [], []
    if result.get("guidance_sweep"):
        guidance_sweep_png(result["guidance_sweep"], out / "guidance-sweep.png")
        figs.append(H.figure("diffusion/guidance-sweep.png", "guidance sweep: FID and judged accuracy per scale s",
                             width=640))
    if result.get("steps_sweep"):
        steps_sweep_png(result["steps_sweep"], out / "steps-sweep.png")
        figs.append(H.figure("diffusion/steps-sweep.png",
                             "steps sweep: DDIM 10/20/50, DPM-Solver++ 10/20 and DDPM 1000", width=460))
    ev, ref, pr = result.get("class_eval"), result.get("reference") or {}, result.get("prompts")
    if ev:
        rows.append((f"FID ({ev['fid'].get('extractor', 'genlens-fmnist')}), {ev.get('sampler', 'ddim')} "
                     f"{ev.get('steps', '')}, s={ev.get('guidance', '')}", f"{ev['fid']['value']:.3f}",
                     ev["fid"].get("n_fake", ev.get("n"))))
        rows.append((f"accuracy ({ev.get('judge', 'fmnist-cnn')})", f"{100 * ev['accuracy']:.1f}%", ev.get("n")))
    for key, label in (("fid_real_n", "FID, real images vs the test set (floor)"),
                       ("fid_test_halves", "FID, test half vs half")):
        if key in ref:
            rows.append((label, f"{ref[key]['value']:.3f}", ref[key].get("n_fake")))
    if pr:
        k = (pr.get("anchors") or {}).get("k", 0)
        how = f"anchored to {k} nearest training captions" if k else "prompt alone"
        rows.append((f"held-out prompt accuracy ({how})", f"{100 * pr['accuracy']:.1f}%", pr.get("n")))
    ctx.numbers.setdefault("diffusion", {})["bench"] = {k: result[k] for k in
                                                        ("class_eval", "reference", "prompts") if k in result}
    return ("<h3>Benchmark: sweeps and scores</h3><p>From <code>bench/results/diffusion.json</code> and "
            "<code>bench/results/diffusion-eval/</code> (<code>genlens diffusion eval</code> on the shipped models; "
            "not recomputed here). Every FID uses the genlens-fmnist extractor against the full test set; compare it "
            "with real images at the same n.</p>"
            + (H.table(["measure", "value", "samples"], rows) if rows else "") + "".join(figs))


def section_diffusion(ctx) -> str:
    """The tour's diffusion section (see the module docstring for inputs and budget)."""
    from genlens.models.load import load_model

    cnn = load_model("fmnist-cnn", device=ctx.device)
    parts = []
    for name, part in (("class", lambda: _class_part(ctx, cnn)), ("text", lambda: _text_part(ctx, cnn)),
                       ("bench", lambda: _bench_part(ctx))):
        t0 = time.perf_counter()
        parts.append(part())
        ctx.log(f"  diffusion {name}: {time.perf_counter() - t0:.1f} s")
    return ("<p>Denoising diffusion (DDPM, Ho et al. 2020) with diffusers UNets trained by our own loop "
            "(ε-prediction, EMA, condition dropout 0.1), sampled with DDIM (Song et al. 2021) and "
            "classifier-free guidance ε̃ = ε<sub>u</sub> + s·(ε<sub>c</sub> − ε<sub>u</sub>) (Ho &amp; Salimans "
            "2022). Commands: <code>genlens diffusion sample</code>, <code>genlens diffusion eval</code>.</p>"
            + "".join(parts))
