"""``genlens invert``: class images from a classifier (PII, DeepDream, DeepInversion)."""
from __future__ import annotations

import time
from pathlib import Path

import typer

from genlens.cli.common import (
    AllowDownloadOpt,
    DeviceOpt,
    JsonOpt,
    SeedOpt,
    command_line,
    emit_json,
    err_console,
    progress_bar,
    write_named_images,
    write_run_json,
)


def invert(
    model: str = typer.Argument(..., help="Zoo model name, model folder or timm:NAME[:WEIGHTS_FILE], e.g. fmnist-vit; with --prompt: clip "
                                "(the shipped fmnist-clip), a clip folder, or open_clip:ARCH:WEIGHTS_FILE."),
    prompts: list[str] | None = typer.Option(None, "--prompt", help="Text prompt for an image-text model "
                                                "(repeatable): CLIP-only inversion."),
    classes: list[str] | None = typer.Option(None, "--class", help="Class name or index (repeatable)."),
    all_classes: bool = typer.Option(False, "--all-classes", help="Invert every class of the model."),
    method: str = typer.Option("pii", "--method", help="pii | deepdream | deepinversion (or a preset name); pii's "
                               "default preset is pii-tuned, a tuned variant of PII."),
    preset: str | None = typer.Option(None, "--preset", help="Method preset, e.g. pii-tuned or pii-literal."),
    n: int = typer.Option(1, "--n", help="Images per class."),
    steps_scale: float = typer.Option(1.0, "--steps-scale", help="Multiply every step count (previews: 0.1)."),
    out: Path = typer.Option(Path("out/invert"), "--out", help="Writes OUT/<class>/<i>.png, grid.png, run.json."),
    evaluate: bool = typer.Option(False, "--eval", help="Judge the images with the other zoo models."),
    allow_download: bool = AllowDownloadOpt,
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Invert a classifier into images of its classes; all classes go in one batch.

    Example: genlens invert fmnist-cnn --class sneaker --method pii --n 2 --seed 0 --out out/sneaker

    Example: genlens invert fmnist-vit --all-classes --eval --json

    Example: genlens invert clip --prompt "a leather ankle boot" --n 2
    """
    if prompts:
        _invert_prompts(model, prompts, n=n, seed=seed, steps_scale=steps_scale, preset=preset, out=out,
                        device=device, json_out=json_out)
        return
    import torch

    from genlens.errors import GenlensError
    from genlens.inversion.api import invert as invert_fn
    from genlens.inversion.api import renamed_preset, resolve_method
    from genlens.inversion.methods import INVERSION_METHODS
    from genlens.models.load import load_model

    # old preset names keep working, with a one-line notice (``--method pii`` is the method, not the old preset)
    for old in ([] if method in INVERSION_METHODS else [method]) + [preset]:
        if (new := renamed_preset(old)) is not None:
            err_console.print(f"genlens: note: preset {old} is renamed {new}; the old name goes in the next release")
    preset = renamed_preset(preset) or preset  # run.json records the current name
    if not classes and not all_classes:
        raise GenlensError("say which classes: --class NAME (repeatable) or --all-classes")
    resolve_method(method, preset)  # fail on a bad method/preset before any work starts
    handle = load_model(model, device=device, allow_download=allow_download)
    targets = list(range(handle.num_classes)) if all_classes else [handle.class_index(c) for c in classes]
    t0 = time.perf_counter()
    with progress_bar(f"{method} {handle.name}", None, quiet=json_out) as cb:
        images = invert_fn(handle, targets, method=method, preset=preset, n=n, seed=seed,
                           steps_scale=steps_scale, callback=cb)
    seconds = time.perf_counter() - t0
    labels = torch.tensor(targets).repeat_interleave(n)
    write_named_images(out, images, [handle.class_names[lab] for lab in labels.tolist()], n=n)
    result = {"model": handle.name, "method": method, "preset": preset, "classes": [handle.class_names[t] for t in targets],
              "n": n, "seconds": round(seconds, 2), "images_per_second": round(len(images) / seconds, 3),
              "out": str(out)}
    if evaluate:
        from genlens.inversion.evaluate import cross_model_eval
        from genlens.models.zoo import ZOO

        judges = [load_model(z, device=device) for z in ZOO.available()]
        result["eval"] = cross_model_eval(images, labels, judges, source=handle.name)
    write_run_json(out, command=command_line(), config={k: result[k] for k in ("model", "method", "preset", "n")},
                   seed=seed, metrics=result, seconds=seconds)
    if json_out:
        emit_json(result)
        return
    err_console.print(f"{len(images)} images in {seconds:.1f} s -> {out}/grid.png")
    if evaluate:
        for jname, r in result["eval"]["judges"].items():
            tag = " (inverted model)" if jname == handle.name else ""
            err_console.print(f"  judged by {jname:14s} top-1 {100 * r['top1']:5.1f}%  top-5 {100 * r['top5']:5.1f}%{tag}")
        err_console.print(f"  cross-model mean top-1: {100 * result['eval']['cross_top1_mean']:.1f}%")


def _invert_prompts(model: str, prompts: list[str], *, n: int, seed: int, steps_scale: float, preset: str | None,
                    out: Path, device: str, json_out: bool) -> None:
    from genlens.inversion.methods.clip_text import run_prompt_inversion
    from genlens.text import check_prompt
    from genlens.utils.device import resolve_device

    prompts = [check_prompt(p) for p in prompts]  # fail before loading anything
    name = "fmnist-clip" if model == "clip" else model
    t0 = time.perf_counter()
    with progress_bar(f"prompt inversion {name}", None, quiet=json_out) as cb:
        def progress(info: dict) -> None:
            cb({**info, "total": info.get("total_steps")})

        result = run_prompt_inversion(name, prompts, n=n, seed=seed, steps_scale=steps_scale,
                                      device=resolve_device(device), callback=progress, preset=preset)
    seconds = time.perf_counter() - t0
    write_named_images(out, result.images, result.prompts, n=n)
    summary = {"model": result.model, "preset": result.preset, "prompts": list(prompts), "n": n,
               "similarity": result.similarity, "seconds": round(seconds, 2), "out": str(out)}
    write_run_json(out, command=command_line(), config=summary | {"config": result.config}, seed=seed,
                   metrics={"similarity": result.similarity}, seconds=seconds)
    if json_out:
        emit_json(summary)
        return
    for prompt, sim in zip(result.prompts, result.similarity):
        err_console.print(f"  {prompt!r}: cosine {sim:.3f}")
    err_console.print(f"{len(result.images)} images in {seconds:.1f} s -> {out}/grid.png")
