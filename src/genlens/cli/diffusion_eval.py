"""``genlens diffusion eval`` and the sample grids that ``diffusion train --grid-every N`` writes."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from genlens.cli.common import DataDirOpt, DeviceOpt, JsonOpt, SeedOpt, command_line, emit_json, err_console
from genlens.errors import GenlensError

SWEEPS = ("guidance", "steps")
FMNIST = "fashion-mnist"
AnchorsOpt = typer.Option(None, "--anchors", help="Text prompts: also condition on the prompt's K nearest training "
                          "captions (MiniLM cosine); 0 = the prompt alone. Default 8.")
GuidanceIntervalOpt = typer.Option(None, "--guidance-interval", help="Guide only at training timesteps LO,HI "
                                   "(e.g. 150,600; Kynkäänniemi et al. 2024), the conditional prediction alone "
                                   "elsewhere; those steps cost half. 'none' guides every step. Default: the "
                                   "model's recommendation (`genlens diffusion defaults MODEL`).")
SpacingOpt = typer.Option(None, "--timestep-spacing", help="Which training timesteps the steps visit: leading "
                          "(diffusers' default), trailing, power:RHO (more steps at low noise for RHO > 1, e.g. "
                          "power:1.5) or quadratic (power:2, DDIM's CIFAR-10 choice). Default: the model's "
                          "recommendation.")
GuideModelOpt = typer.Option(None, "--guide-model", help="Autoguidance (Karras et al. 2024): a weaker version of the "
                             "same model (an earlier checkpoint folder) to extrapolate away from; every guided step "
                             "then costs twice. 'none' turns it off. Default: the model's recommendation.")
GuideWeightOpt = typer.Option(None, "--guide-weight", help="Autoguidance weight w: eps_bad + w (eps_good - eps_bad); "
                              "1 = off. Default: the model's recommendation, else 2.")
SamplerOpt = typer.Option(None, "--sampler", help="ddim, dpm++ or ddpm (default ddim).")
StepsOpt = typer.Option(None, "--steps", help="Sampling steps (default 20; ddpm 1000).")


def default_model(text: bool) -> Path:
    """The shipped class model, or the text model; a missing one is one line saying how to make it."""
    from genlens.diffusion.io import shipped_diffusion_folder

    cond = "text" if text else "class"
    folder = shipped_diffusion_folder(cond)
    if not (folder / "model.safetensors").is_file():
        raise GenlensError(f"no trained diffusion model at {folder}; run `genlens diffusion train --cond {cond} "
                           f"--out {folder}` or pass a model folder")
    return folder


# ----------------------------------------------------------------------------------------- training grids
def save_png_atomic(images, path: Path, *, nrow: int, upscale: int = 2) -> Path:
    """A grid PNG written to a temporary file, then renamed: a reader never sees half an image."""
    import io

    from PIL import Image

    from genlens.utils.images import make_grid, to_uint8
    from genlens.utils.io import atomic_write_bytes

    pil = Image.fromarray(to_uint8(make_grid(images, nrow=nrow)))
    if upscale > 1:
        pil = pil.resize((pil.width * upscale, pil.height * upscale), Image.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return atomic_write_bytes(path, buf.getvalue())


def grid_writer(progress: Callable[[dict[str, Any]], None], *, every: int, out: Path, class_names,
                per_class: int = 8, seed: int = 0, prompts: list[str] | None = None) -> Callable[[dict[str, Any]], None]:
    """A training callback: the progress bar, plus every ``every`` steps a grid of the EMA model's samples
    (one row per class, fixed seed, DDIM 20 steps, guidance 3; layout models: each class alone, walking the
    diagonal; ``prompts``: one row per prompt, e.g. a text model's own training captions) at
    OUT/samples/step_XXXXXX.png. Sampling runs
    under ``fork_rng`` with its own generator, so the training's random streams (and exact resume) are
    untouched."""
    import torch

    from genlens.diffusion.evaluate import class_grid
    from genlens.diffusion.pipeline import DiffusionPipeline
    from genlens.utils.seed import make_generator

    def callback(record: dict[str, Any]) -> None:
        progress(record)
        model = record.get("ema_model")
        if every <= 0 or model is None or record["step"] % every:
            return
        pipe = DiffusionPipeline.from_model(model, class_names=class_names, **({"anchors": 0} if prompts else {}))
        with torch.random.fork_rng(devices=[pipe.device] if pipe.device.type == "cuda" else []):
            if prompts:
                images = pipe.sample(list(prompts), per_class, generator=make_generator(seed, pipe.device))
            elif pipe.cond_kind == "none":
                images = pipe.sample(None, len(class_names) * per_class, generator=make_generator(seed, pipe.device))
            elif pipe.cond_kind == "layout":
                from genlens.diffusion.layout import layout_grid

                images = layout_grid(pipe, per_class=per_class, seed=seed)
            else:
                images = class_grid(pipe, per_class=per_class, seed=seed)
        save_png_atomic(images, out / "samples" / f"step_{record['step']:06d}.png", nrow=per_class)

    return callback


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise GenlensError(f"--scales '{text}' is not a comma-separated list of numbers, e.g. 0,1,2,3,5,8") from None


def eval_cmd(
    model: Path | None = typer.Argument(None, help="Model folder (default: the shipped fmnist-ddpm; "
                                        "fmnist-ddpm-text with --prompts)."),
    n: int = typer.Option(2000, "--n", help="Samples for FID/KID/accuracy, balanced over the classes."),
    guidance: float | None = typer.Option(None, "--guidance", help="Classifier-free guidance scale s (default 3; "
                                          "unconditional models: none)."),
    sampler: str | None = SamplerOpt,
    steps: int | None = StepsOpt,
    sweep: list[str] = typer.Option([], "--sweep", help="Also sweep: guidance (s = --scales) and/or steps "
                                    "(DDIM 10/20/50, DDPM 1000). Repeat for both."),
    sweep_n: int | None = typer.Option(None, "--sweep-n", help="Samples per sweep point (default --n)."),
    n_slow: int | None = typer.Option(None, "--n-slow", help="Samples for DDPM-1000 (50x DDIM-20's cost; DDIM-20 "
                                      "is rerun on the same n to compare). Default min(sweep n, 500)."),
    scales: str = typer.Option("0,1,2,3,5,8", "--scales", help="Guidance scales of the guidance sweep."),
    prompts: bool = typer.Option(False, "--prompts", help="Prompt accuracy on paraphrases never trained on (text "
                                 "model; which set: --prompt-set)."),
    k: int = typer.Option(20, "--k", help="Samples per prompt with --prompts."),
    prompt_set: str = typer.Option("held_out", "--prompt-set", help="With --prompts: held_out (the first "
                                   "paraphrases; K and the text model's training and guidance were chosen on them, so "
                                   "their score is history) or validation (never used to choose anything: report it)."),
    anchors: int | None = AnchorsOpt,
    guidance_interval: str | None = GuidanceIntervalOpt,
    timestep_spacing: str | None = SpacingOpt,
    guide_model: str | None = GuideModelOpt,
    guide_weight: float | None = GuideWeightOpt,
    judge: str = typer.Option("fmnist-cnn", "--judge", help="Classifier whose accuracy is reported (class and "
                              "prompt accuracy): fmnist-cnn (the development judge, default), genlens-eval (the "
                              "evaluator nothing was tuned on: use it for reported numbers), a zoo name or a "
                              "model folder."),
    all_judges: bool = typer.Option(False, "--all-judges", help="Judge with the other zoo models as well."),
    features: str | None = typer.Option(None, "--features", help="FID/KID features: genlens-fmnist (the default "
                                        "for Fashion-MNIST models), genlens-eval, inception[:FILE], a zoo model name, "
                                        "a model folder (for models of other data: a classifier trained on it, e.g. "
                                        "from `genlens zoo train ARCH --data SPEC`) or timm:NAME[:FILE]."),
    allow_download: bool = typer.Option(False, "--allow-download", help="Let --features timm:NAME fetch timm's "
                                        "pretrained weights (off: never the network)."),
    batch: int = typer.Option(256, "--batch", help="Sampling batch size."),
    data: str | None = typer.Option(None, "--data", help="Score against this data instead (FID/KID only; its "
                                    "images must have the model's size). Default: the model's own data."),
    resolution: int | None = typer.Option(None, "--resolution", help="With --data: resize and centre-crop it to "
                                          "N x N first."),
    out: Path = typer.Option(Path("out/diffusion-eval"), "--out", help="Folder for eval.json and the plots."),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    data_dir: Path | None = DataDirOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Score a diffusion model: FID/KID (--features, default genlens-fmnist; n samples vs the test set), accuracy
    judged by --judge (default the zoo CNN), the real-data floor at the same n; optional sweeps and prompt accuracy
    with a 95 % bootstrap interval over prompts. Writes OUT/eval.json and PNG plots.

    Example: genlens diffusion eval --n 2000 --guidance 3 --sampler ddim --steps 20 --sweep guidance --out out/eval
    """
    from genlens.cli.common import progress_bar
    from genlens.data.fashion_mnist import load_fashion_mnist
    from genlens.diffusion import evaluate as E
    from genlens.diffusion.pipeline import DiffusionPipeline, settings_from_flags
    from genlens.utils.device import resolve_device
    from genlens.utils.io import atomic_write_json

    bad = [s for s in sweep if s not in SWEEPS]
    if bad:
        raise GenlensError(f"--sweep '{bad[0]}' is unknown; use guidance or steps")
    if n < 2 or k < 1:
        raise GenlensError(f"--n must be at least 2 and --k at least 1 (got {n}, {k})")
    flags = settings_from_flags(sampler=sampler, steps=steps, guidance=guidance, guidance_interval=guidance_interval,
                                timestep_spacing=timestep_spacing, guide_model=guide_model, guide_weight=guide_weight,
                                anchors=anchors)
    dev = str(resolve_device(device))
    from genlens.metrics.extractors import extractor_for

    # a bad --features (a missing weights file, timm without --allow-download) fails now, before any sampling
    extractor = None if features is None else extractor_for(features, device=dev, allow_download=allow_download)
    pipe = DiffusionPipeline.from_folder(model if model is not None else default_model(prompts), device=dev, **flags)
    if data is not None or pipe.bundle.data.spec.split(":")[0] != FMNIST or pipe.cond_kind == "none":
        return _eval_on_data(pipe, data=data, resolution=resolution, features=extractor, n=n, batch=batch, seed=seed,
                             device=dev, data_dir=data_dir, out=out, json_out=json_out)
    if pipe.cond_kind == "none":
        raise GenlensError("this model is unconditional; eval scores class-conditional and text models")
    if pipe.cond_kind == "layout":
        raise GenlensError("this model is layout-conditional; eval scores class and text models (layout models are "
                           "measured by the editing benchmark, bench/spatial.py)")
    if prompts and pipe.cond_kind != "text":
        raise GenlensError("--prompts needs a text-conditional model (e.g. the shipped fmnist-ddpm-text)")
    if prompts:
        from genlens.data.captions import held_out_prompts

        held_out_prompts(prompt_set)  # an unknown set fails here, before any sampling
    extractor = extractor or extractor_for("genlens-fmnist", device=dev)
    t0 = time.perf_counter()
    test, train = load_fashion_mnist("test", data_dir=data_dir), load_fashion_mnist("train", data_dir=data_dir)
    judges = E.default_judges(dev, all_zoo=all_judges, judge=judge)
    reference = E.Reference.build(test.float_images(), extractor=extractor, device=dev)
    common = dict(batch_size=batch, seed=seed)
    record = pipe.record()
    result: dict[str, Any] = {"model": str(pipe.bundle.folder), "kind": pipe.bundle.kind, "seed": seed, "device": dev,
                              **{k: v for k, v in record.items() if k not in ("sampler", "steps", "guidance")}}
    cfg = pipe.config
    with progress_bar(f"eval ({cfg.sampler} {record['steps']}, s={cfg.guidance:g}, n={n})", None, quiet=json_out) as cb:
        ev, images, labels = E.evaluate_class_model(pipe, n=n, reference=reference, judges=judges, callback=cb,
                                                    return_samples=True, **common)
    result["class_eval"] = ev
    result["reference"] = E.real_reference(reference, test.float_images(), n=n,
                                           other_images01=train.float_images(slice(0, max(n, 2))), seed=seed)
    m = sweep_n or n
    if "guidance" in sweep:
        with progress_bar("guidance sweep", None, quiet=json_out) as cb:
            result["guidance_sweep"] = E.guidance_sweep(pipe, scales=_floats(scales), n=m, reference=reference,
                                                        judges=judges[:1], callback=cb, **common)
    if "steps" in sweep:
        with progress_bar("steps sweep", None, quiet=json_out) as cb:
            rows = E.steps_sweep(pipe, n=m, n_slow=n_slow or min(m, 500), reference=reference, judges=judges[:1],
                                 callback=cb, **common)
        result["steps_sweep"], result["fast_vs_full"] = rows, E.fast_vs_full(rows)
        result["fast_vs_full_by_sampler"] = [c for c in (E.fast_vs_full(rows, fast=p) for p in E.COMPARE_POINTS) if c]
    if prompts:
        from genlens.data.captions import held_out_prompts

        texts, plabels = held_out_prompts(prompt_set)
        # Anchors come only from the captions of the model's own training round; no prompt set is among them.
        tokens, found = pipe.prompt_condition(texts)
        with progress_bar(f"{prompt_set} prompts", None, quiet=json_out) as cb:
            result["prompts"] = E.evaluate_prompts(pipe, texts, plabels, tokens, k=k, judges=judges, callback=cb,
                                                   **common)
        result["prompts"]["prompt_set"] = prompt_set
        result["prompts"]["anchors"] = {"k": cfg.anchors, "caption_round": pipe.bundle.caption_round}
        if found is not None:
            result["prompts"]["anchors"]["per_prompt"] = found.to_records(list(pipe.class_names))
    result["seconds"] = round(time.perf_counter() - t0, 2)
    _write_outputs(result, images, labels, list(pipe.class_names), out)
    atomic_write_json(out / "eval.json", {**result, "command": command_line()})
    if json_out:
        emit_json(result)
    else:
        _print_summary(result, out)


def _eval_on_data(pipe, *, data: str | None, resolution: int | None, features: Any, n: int, batch: int,
                  seed: int, device: str, data_dir: Path | None, out: Path, json_out: bool) -> None:
    """FID/KID of ``n`` samples against the model's own data (or ``data``) under ``features``: models of any data,
    unconditional ones included; eval.json and samples.png in ``out``."""
    from genlens.cli.common import progress_bar, say_data_notes
    from genlens.diffusion import evaluate as E
    from genlens.metrics.against_data import fid_kid_against
    from genlens.utils.data_record import real_images
    from genlens.utils.io import atomic_write_json

    trained, unet, kind = pipe.bundle.data, pipe.model.config, pipe.cond_kind
    spec = data or trained.spec
    prompts = None
    if kind == "text" and pipe.bundle.captions_from == "images":  # each sample asks for a real image's caption
        from genlens.data.spec import spec_captions

        prompts, where = spec_captions(spec), spec
        if not prompts:  # other data without captions: ask for what the model was trained on
            prompts, where = spec_captions(trained.spec), trained.spec
        if not prompts:
            raise GenlensError(f"{spec} has no captions to draw the text model's samples with; score it against "
                               "captioned data (--data folder:PATH with captions.jsonl or .txt files)")
    elif kind not in ("class", "none"):
        raise GenlensError(f"scoring a {kind}-conditional model against --data is not supported; use a class or "
                           "unconditional model")
    if features is None:
        if spec.split(":")[0] != FMNIST:
            raise GenlensError(f"a model of {spec} needs --features: a classifier trained on that data (genlens zoo "
                               f"train cnn --data {spec} --out DIR) or a registered extractor")
        features = "genlens-fmnist"
    t0 = time.perf_counter()
    notes: list[str] = []
    real = real_images(trained, data, model_px=unet.sample_size - 2 * unet.pad, model=str(pipe.bundle.folder),
                       resolution=resolution, data_dir=data_dir, notes=notes)
    say_data_notes(notes=notes)
    with progress_bar(f"sample {n} for FID", None, quiet=json_out) as cb:
        if kind == "class":
            images, _ = E.generate_class_samples(pipe, n, seed=seed, batch_size=batch, callback=cb)
        elif prompts:
            images = E.generate_prompt_samples(pipe, prompts, n, seed=seed, batch_size=batch, callback=cb)
        else:
            images = E.generate(pipe, lambda idx: None, n, seed=seed, batch_size=batch, callback=cb)
    result = {"model": str(pipe.bundle.folder), "kind": pipe.bundle.kind, "data": spec, "seed": seed,
              "device": device, **E.settings_record(pipe.config), "n": n,
              **({"prompts": {"captions_of": where, "count": len(prompts)}} if prompts else {}),
              **fid_kid_against(images, real, features=features, device=device, seed=seed),
              "seconds": round(time.perf_counter() - t0, 2)}
    save_png_atomic(images[:64], out / "samples.png", nrow=8)
    atomic_write_json(out / "eval.json", {**result, "command": command_line()})
    if json_out:
        emit_json(result)
    else:
        err_console.print(f"{result['model']}: FID {result['fid']['value']:.3f}, KID {result['kid']['value']:.5f} "
                          f"({result['fid']['extractor']}, {n} samples vs {len(real)} images of {spec}) "
                          f"-> {out / 'eval.json'}")


def _write_outputs(result: dict[str, Any], images, labels, names, out: Path) -> None:
    import torch

    from genlens.report.diffusion_section import guidance_sweep_png, steps_sweep_png
    from genlens.report.plots import bar_png

    per = 10
    picks = torch.cat([torch.nonzero(labels == c).flatten()[:per] for c in range(len(names))])
    save_png_atomic(images[picks], out / "samples.png", nrow=per)
    acc = result["class_eval"]["per_class_accuracy"]
    bar_png({c: 100 * v for c, v in acc.items()}, out / "per_class_accuracy.png", ylabel="% judged as intended",
            title=f"{result['class_eval']['judge']} accuracy per class (n={result['class_eval']['n']})", ylim=(0, 100))
    if "guidance_sweep" in result:
        guidance_sweep_png(result["guidance_sweep"], out / "guidance_sweep.png")
    if "steps_sweep" in result:
        steps_sweep_png(result["steps_sweep"], out / "steps_sweep.png")


def _print_summary(result: dict[str, Any], out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    ev, ref = result["class_eval"], result["reference"]
    table = Table("measure", "value", "samples", title=f"{result['model']} ({ev['sampler']} {ev['steps']} steps, "
                  f"s={ev['guidance']:g})")
    table.add_row(f"FID ({ev['fid']['extractor']})", f"{ev['fid']['value']:.3f}",
                  f"{ev['fid']['n_fake']} vs {ev['fid']['n_real']} test")
    if "kid" in ev:
        table.add_row("KID", f"{ev['kid']['value']:.5f} ± {ev['kid']['std']:.5f}", str(ev["kid"]["n_fake"]))
    table.add_row(f"accuracy ({ev['judge']})", f"{100 * ev['accuracy']:.1f}%", str(ev["n"]))
    for name, r in ev["judges"].items():
        if name != ev["judge"]:
            table.add_row(f"accuracy ({name})", f"{100 * r['top1']:.1f}%", str(ev["n"]))
    table.add_row("FID real n vs test (floor)", f"{ref['fid_real_n']['value']:.3f}", str(ref["fid_real_n"]["n_fake"]))
    table.add_row("FID test half vs half", f"{ref['fid_test_halves']['value']:.3f}",
                  f"{ref['fid_test_halves']['n_fake']} vs {ref['fid_test_halves']['n_real']}")
    for r in result.get("guidance_sweep", []):
        table.add_row(f"s={r['guidance']:g}: FID / accuracy", f"{r['fid']:.3f} / {100 * r['accuracy']:.1f}%", str(r["n"]))
    for r in result.get("steps_sweep", []):
        table.add_row(f"{r['sampler']} {r['steps']}: FID / seconds", f"{r['fid']:.3f} / {r['seconds']:.1f} s",
                      str(r["n"]))
    for c in result.get("fast_vs_full_by_sampler", []):
        table.add_row(f"FID {c['fast'][0]} {c['fast'][1]} / ddpm 1000", f"{c['ratio']:.3f}", str(c["n"]))
    if "prompts" in result:
        p, ci = result["prompts"], result["prompts"].get("accuracy_interval")
        span = f" [{100 * ci['low']:.1f}, {100 * ci['high']:.1f}]" if ci else ""
        table.add_row(f"{p['prompt_set']} prompt accuracy ({p['judge']})", f"{100 * p['accuracy']:.1f}%{span}",
                      f"{p['n']} ({len(p['per_prompt'])} prompts)")
    Console().print(table)
    per = ", ".join(f"{c} {100 * v:.0f}%" for c, v in ev["per_class_accuracy"].items())
    err_console.print(f"per class: {per}\n-> {out / 'eval.json'}")
