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
AnchorsOpt = typer.Option(8, "--anchors", help="Text prompts: also condition on the prompt's K nearest training "
                          "captions (MiniLM cosine); 0 = the prompt alone.")
PromptWeightOpt = typer.Option(0.0, "--prompt-weight", help="With --anchors: the prompt's own share λ of the "
                               "conditional prediction (the anchors share 1 − λ); 1 = the prompt alone.")
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


def guided_for(model_flag: str | None, weight_flag: float | None, bundle, device) -> tuple[Any, dict[str, Any]]:
    """``bundle``'s denoiser with the autoguidance the flags or the model's recommendation ask for, and the record
    results carry (guide_model, guide_sha256, guide_weight, guide_interval, guide_source)."""
    from genlens.diffusion.autoguidance import with_guide
    from genlens.diffusion.defaults import resolve_guide

    return with_guide(bundle, resolve_guide(model_flag, weight_flag, bundle.sampling, bundle.folder), device=device)


def parse_interval(text: str | None) -> None:
    """Check ``--guidance-interval`` before any model is loaded (a malformed value is a one-line error)."""
    from genlens.diffusion.defaults import parse_interval_flag

    parse_interval_flag(text)


def interval_for(text: str | None, bundle) -> tuple[tuple[int, int] | None, dict[str, Any]]:
    """The interval to sample ``bundle`` with and the record results carry: ``guidance_interval`` (null = every
    step) and ``guidance_interval_source`` (flag, model or none)."""
    from genlens.diffusion.defaults import resolve_interval

    interval, source = resolve_interval(text, bundle.sampling)
    return interval, {"guidance_interval": list(interval) if interval else None, "guidance_interval_source": source}


def spacing_for(text: str | None, bundle, steps: int) -> tuple[str, dict[str, Any]]:
    """The timestep spacing to sample ``bundle`` with (checked against ``steps`` before any sampling) and the
    record results carry: ``timestep_spacing`` and ``timestep_spacing_source`` (flag, model or default)."""
    from genlens.diffusion.defaults import resolve_spacing
    from genlens.diffusion.spacing import spaced_timesteps

    spacing, source = resolve_spacing(text, bundle.sampling)
    spaced_timesteps(spacing, steps, bundle.schedule.num_train_timesteps)
    return spacing, {"timestep_spacing": spacing, "timestep_spacing_source": source}


def parse_spacing(text: str | None) -> None:
    """Check ``--timestep-spacing`` before any model is loaded."""
    from genlens.diffusion.spacing import TimestepSpacing

    if text is not None and text.strip():
        TimestepSpacing.parse(text)


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


def class_prompt_tokens(class_names, max_tokens: int, encoder=None, *, pooled: bool = False):
    """(K, T, D), (K, T): "a photo of a <noun>" per class, for drawing classes from a text model
    (``pooled``: the model's token layout, see ``genlens.diffusion.text.token_layout``)."""
    from genlens.data.captions import NOUNS
    from genlens.diffusion.text import encode_prompts
    from genlens.text import load_text_encoder

    encoder = encoder or load_text_encoder("minilm")
    return encode_prompts(encoder, [f"a photo of a {NOUNS[i][0]}" for i in range(len(class_names))],
                          max_tokens=max_tokens, pooled=pooled)


def grid_writer(progress: Callable[[dict[str, Any]], None], *, every: int, out: Path, num_classes: int,
                class_tokens=None, per_class: int = 8, seed: int = 0) -> Callable[[dict[str, Any]], None]:
    """A training callback: the progress bar, plus every ``every`` steps a grid of the EMA model's samples
    (one row per class, fixed seed, DDIM 20 steps, guidance 3) at OUT/samples/step_XXXXXX.png. Sampling runs
    under ``fork_rng`` with its own generator, so the training's random streams (and exact resume) are
    untouched."""
    import torch

    from genlens.diffusion.evaluate import class_grid

    def callback(record: dict[str, Any]) -> None:
        progress(record)
        model = record.get("ema_model")
        if every <= 0 or model is None or record["step"] % every:
            return
        dev, kind = next(model.parameters()).device, model.cond_kind
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            if kind == "none":
                images = _unconditional_grid(model, num_classes * per_class, seed)
            else:
                images = class_grid(model, per_class=per_class, num_classes=num_classes if kind == "class" else None,
                                    class_tokens=class_tokens, guidance=3.0, seed=seed)
        save_png_atomic(images, out / "samples" / f"step_{record['step']:06d}.png", nrow=per_class)

    return callback


def _unconditional_grid(model, n: int, seed: int):
    from genlens.diffusion.sample import sample
    from genlens.utils.seed import make_generator

    return sample(model, None, n=n, guidance=None, generator=make_generator(seed, next(model.parameters()).device))


# ----------------------------------------------------------------------------------------- eval
def _default_model(prompts: bool) -> Path:
    from genlens.diffusion.io import shipped_diffusion_folder

    cond = "text" if prompts else "class"
    folder = shipped_diffusion_folder(cond)
    if not (folder / "model.safetensors").is_file():
        raise GenlensError(f"no trained diffusion model at {folder}; run `genlens diffusion train --cond {cond} "
                           f"--out {folder}` or pass a model folder")
    return folder


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise GenlensError(f"--scales '{text}' is not a comma-separated list of numbers, e.g. 0,1,2,3,5,8") from None


def eval_cmd(
    model: Path | None = typer.Argument(None, help="Model folder (default: the shipped fmnist-ddpm; "
                                        "fmnist-ddpm-text with --prompts)."),
    n: int = typer.Option(2000, "--n", help="Samples for FID/KID/accuracy, balanced over the classes."),
    guidance: float = typer.Option(3.0, "--guidance", help="Classifier-free guidance scale s."),
    sampler: str = typer.Option("ddim", "--sampler", help="ddim, dpm++ or ddpm."),
    steps: int | None = typer.Option(None, "--steps", help="Sampling steps (default 20; ddpm 1000)."),
    sweep: list[str] = typer.Option([], "--sweep", help="Also sweep: guidance (s = --scales) and/or steps "
                                    "(DDIM 10/20/50, DDPM 1000). Repeat for both."),
    sweep_n: int | None = typer.Option(None, "--sweep-n", help="Samples per sweep point (default --n)."),
    n_slow: int | None = typer.Option(None, "--n-slow", help="Samples for DDPM-1000 (50x DDIM-20's cost; DDIM-20 "
                                      "is rerun on the same n to compare). Default min(sweep n, 500)."),
    scales: str = typer.Option("0,1,2,3,5,8", "--scales", help="Guidance scales of the guidance sweep."),
    prompts: bool = typer.Option(False, "--prompts", help="Prompt accuracy on the held-out paraphrases (text model)."),
    k: int = typer.Option(20, "--k", help="Samples per prompt with --prompts."),
    prompt_set: str = typer.Option("held_out", "--prompt-set", help="With --prompts: held_out (the evaluation "
                                   "paraphrases) or validation (a second set, never used to choose settings)."),
    anchors: int = AnchorsOpt,
    prompt_weight: float = PromptWeightOpt,
    guidance_interval: str | None = GuidanceIntervalOpt,
    timestep_spacing: str | None = SpacingOpt,
    guide_model: str | None = GuideModelOpt,
    guide_weight: float | None = GuideWeightOpt,
    all_judges: bool = typer.Option(False, "--all-judges", help="Judge with the ViT, Mixer and ResMLP as well."),
    batch: int = typer.Option(256, "--batch", help="Sampling batch size."),
    out: Path = typer.Option(Path("out/diffusion-eval"), "--out", help="Folder for eval.json and the plots."),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    data_dir: Path | None = DataDirOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Score a diffusion model: FID/KID (genlens-fmnist, n samples vs the test set), accuracy judged by the zoo
    CNN, the real-data floor at the same n; optional sweeps and held-out prompt accuracy. Writes OUT/eval.json
    and PNG plots.

    Example: genlens diffusion eval --n 2000 --guidance 3 --sampler ddim --steps 20 --sweep guidance --out out/eval
    """
    from genlens.cli.common import progress_bar
    from genlens.data.fashion_mnist import load_fashion_mnist
    from genlens.diffusion import evaluate as E
    from genlens.diffusion.io import load_diffusion
    from genlens.diffusion.sample import SAMPLERS
    from genlens.utils.device import resolve_device
    from genlens.utils.io import atomic_write_json

    bad = [s for s in sweep if s not in SWEEPS]
    if bad:
        raise GenlensError(f"--sweep '{bad[0]}' is unknown; use guidance or steps")
    if n < 2 or k < 1:
        raise GenlensError(f"--n must be at least 2 and --k at least 1 (got {n}, {k})")
    SAMPLERS.get(sampler)
    steps = steps or int(SAMPLERS.meta(sampler)["default_steps"])
    parse_interval(guidance_interval)
    parse_spacing(timestep_spacing)
    dev = str(resolve_device(device))
    bundle = load_diffusion(model if model is not None else _default_model(prompts), device=dev)
    interval, interval_record = interval_for(guidance_interval, bundle)
    spacing, spacing_record = spacing_for(timestep_spacing, bundle, steps)
    net, guide_record = guided_for(guide_model, guide_weight, bundle, dev)
    kind, names = net.cond_kind, list(bundle.class_names)
    if kind == "none":
        raise GenlensError("this model is unconditional; eval scores class-conditional and text models")
    if prompts and kind != "text":
        raise GenlensError("--prompts needs a text-conditional model (e.g. the shipped fmnist-ddpm-text)")
    if prompts:
        from genlens.data.captions import held_out_prompts

        held_out_prompts(prompt_set)  # an unknown set fails here, before any sampling
    t0 = time.perf_counter()
    test, train = load_fashion_mnist("test", data_dir=data_dir), load_fashion_mnist("train", data_dir=data_dir)
    judges = E.default_judges(dev, all_zoo=all_judges)
    reference = E.Reference.build(test.float_images(), device=dev)
    encoder = class_tokens = None
    if kind == "text":
        from genlens.diffusion.text import token_layout
        from genlens.text import load_text_encoder

        encoder = load_text_encoder(bundle.text_encoder or "minilm")
        class_tokens = class_prompt_tokens(names, net.config.max_tokens, encoder,
                                           pooled=token_layout(net.config)["pooled"])
    common = dict(schedule=bundle.schedule, class_names=names, class_tokens=class_tokens, batch_size=batch, seed=seed,
                  guidance_interval=interval, spacing=spacing)
    result: dict[str, Any] = {"model": str(bundle.folder), "kind": bundle.kind, "seed": seed, "device": dev,
                              **interval_record, **spacing_record, **guide_record}
    with progress_bar(f"eval ({sampler} {steps}, s={guidance:g}, n={n})", None, quiet=json_out) as cb:
        ev, images, labels = E.evaluate_class_model(net, n=n, sampler=sampler, steps=steps, guidance=guidance,
                                                    reference=reference, judges=judges, callback=cb,
                                                    return_samples=True, **common)
    result["class_eval"] = ev
    result["reference"] = E.real_reference(reference, test.float_images(), n=n,
                                           other_images01=train.float_images(slice(0, max(n, 2))), seed=seed)
    m = sweep_n or n
    if "guidance" in sweep:
        with progress_bar("guidance sweep", None, quiet=json_out) as cb:
            result["guidance_sweep"] = E.guidance_sweep(net, scales=_floats(scales), n=m, reference=reference,
                                                        judges=judges[:1], callback=cb, **common)
    if "steps" in sweep:
        slow = n_slow or min(m, 500)
        with progress_bar("steps sweep", None, quiet=json_out) as cb:
            rows = E.steps_sweep(net, n=m, n_slow=slow, reference=reference, judges=judges[:1], guidance=guidance,
                                 callback=cb, **common)
        result["steps_sweep"], result["fast_vs_full"] = rows, E.fast_vs_full(rows)
        result["fast_vs_full_by_sampler"] = [c for c in (E.fast_vs_full(rows, fast=p) for p in E.COMPARE_POINTS) if c]
    if prompts:
        from genlens.data.captions import held_out_prompts
        from genlens.diffusion.anchors import AnchorConfig, condition_prompts

        texts, plabels = held_out_prompts(prompt_set)
        plan = AnchorConfig(k=anchors, prompt_weight=prompt_weight)
        # Anchors come from the TRAINING captions only; the held-out prompts are never among them.
        prompt_net, tokens, found = condition_prompts(net, encoder, texts, plan)
        with progress_bar("held-out prompts", None, quiet=json_out) as cb:
            result["prompts"] = E.evaluate_prompts(prompt_net, texts, plabels, tokens, k=k, judges=judges,
                                                   class_names=names, sampler=sampler, steps=steps, guidance=guidance,
                                                   guidance_interval=interval, schedule=bundle.schedule, seed=seed,
                                                   batch_size=batch, callback=cb, spacing=spacing)
        result["prompts"]["prompt_set"] = prompt_set
        result["prompts"]["anchors"] = {"k": plan.k if plan.active else 0, "prompt_weight": plan.prompt_weight}
        if found is not None:
            result["prompts"]["anchors"]["per_prompt"] = found.to_records(names)
    result["seconds"] = round(time.perf_counter() - t0, 2)
    _write_outputs(result, images, labels, names, out)
    atomic_write_json(out / "eval.json", {**result, "command": command_line()})
    if json_out:
        emit_json(result)
    else:
        _print_summary(result, out)


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
        table.add_row("held-out prompt accuracy", f"{100 * result['prompts']['accuracy']:.1f}%",
                      str(result["prompts"]["n"]))
    Console().print(table)
    per = ", ".join(f"{c} {100 * v:.0f}%" for c, v in ev["per_class_accuracy"].items())
    err_console.print(f"per class: {per}\n-> {out / 'eval.json'}")
