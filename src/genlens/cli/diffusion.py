"""``genlens diffusion train|sample``: DDPM on Fashion-MNIST, class- or text-conditional, with guidance."""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import typer

from genlens.cli.common import (
    DataDirOpt,
    DeviceOpt,
    JsonOpt,
    SeedOpt,
    command_line,
    emit_json,
    err_console,
    progress_bar,
    safe_child,
    say_data_notes,
    write_run_json,
)
from genlens.cli.data_opts import TRAIN_DATA_HELP, ChannelsOpt, HflipOpt, ResolutionOpt, conditional, training_data
from genlens.cli.diffusion_average import average_cmd
from genlens.cli.diffusion_eval import (
    AnchorsOpt,
    GuidanceIntervalOpt,
    GuideModelOpt,
    GuideWeightOpt,
    SamplerOpt,
    SpacingOpt,
    StepsOpt,
    default_model,
    eval_cmd,
)
from genlens.cli.diffusion_layout import SHIPPED_LAYOUT, edit_cmd, sample_layout
from genlens.errors import GenlensError
from genlens.training.distributed import end_distributed, is_main_process
from genlens.utils.preset_costs import presets_help

app = typer.Typer(help="Diffusion models (DDPM, classifier-free guidance) on Fashion-MNIST or your images.\n\n"
                  "Examples:\n\n  genlens diffusion train --cond class --steps 20000 --device cuda\n\n"
                  "  genlens diffusion sample --all-classes --n 8 --guidance 3 --sampler ddim --steps 20\n\n"
                  "  genlens diffusion sample --prompt \"a leather ankle boot\" --out out/boots\n\n"
                  "  genlens diffusion sample scenes-ddpm-layout --layout \"Sneaker@0.25,0.7;Bag@0.7,0.3\" --n 8\n\n"
                  "  genlens diffusion eval --n 2000 --guidance 3 --sweep guidance --out out/diffusion-eval",
                  no_args_is_help=True)


@app.command("train")
def train(
    cond: str | None = typer.Option(None, "--cond", help="Conditioning: class, text (MiniLM prompts: each image's "
                                    "own caption when the data has captions, from captions.jsonl or a .txt beside "
                                    "each image, and images without one train with the null condition; else "
                                    "Fashion-MNIST's class captions), none, or layout (scene layouts as blob "
                                    "channels; needs --data fashion-scenes). Default: class when the data has "
                                    "labels of 2+ classes, else none, captions or not (a captioned folder trains "
                                    "on its captions only with --cond text, and says so)."),
    data: str = typer.Option("fashion-mnist", "--data", help=TRAIN_DATA_HELP + " The train split is used."),
    resolution: int | None = ResolutionOpt,
    channels: int | None = ChannelsOpt,
    hflip: bool = HflipOpt,
    steps: int = typer.Option(20_000, "--steps", help="Optimizer steps."),
    batch: int = typer.Option(128, "--batch", help="Global batch size."),
    out: Path | None = typer.Option(None, "--out", help="Model folder (default runs/diffusion/<shipped name>); "
                                    "checkpoints go to OUT/checkpoints."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in OUT/checkpoints exactly."),
    lr: float = typer.Option(2e-4, "--lr", help="AdamW learning rate (cosine decay after warm-up)."),
    beta_schedule: str = typer.Option("linear", "--beta-schedule", help="linear or cosine."),
    mixed_precision: str = typer.Option("no", "--mixed-precision", help="no or bf16 (autocast)."),
    size: str | None = typer.Option(None, "--size", help="Denoiser size (default: chosen from the image size: base up "
                                    "to 32 px, then 64, then 128). " + presets_help("diffusion")),
    ema_decay: float = typer.Option(0.999, "--ema-decay", help="EMA decay of the sampled weights."),
    warmup: int | None = typer.Option(None, "--warmup", help="Warm-up steps (default min(500, steps/10))."),
    threads: int | None = typer.Option(None, "--threads", help="torch CPU threads (default: torch's choice)."),
    pooled_token: bool = typer.Option(True, "--pooled-token/--no-pooled-token", help="Text models: let "
                                      "cross-attention also see the prompt's mean token (helps paraphrases)."),
    init_from: Path | None = typer.Option(None, "--init-from", help="Start from the weights of this model folder "
                                          "(same --size and --cond): a second phase with a fresh LR schedule."),
    small: bool = typer.Option(False, "--tiny", hidden=True, help="Smoke tests: a tiny network."),
    limit: int | None = typer.Option(None, "--limit", hidden=True, help="Smoke tests: train on the first N images."),
    checkpoint_every: int = typer.Option(1000, "--checkpoint-every", help="Save OUT/checkpoints/last every N steps."),
    grid_every: int = typer.Option(0, "--grid-every", help="Every N steps write OUT/samples/step_XXXXXX.png: EMA "
                                   "samples, one row per class (DDIM 20, guidance 3, fixed seed; layout models: the class alone, walking the "
                                   "diagonal; text models of the data's own captions: a row per caption, the first "
                                   "8). 0: off."),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    data_dir: Path | None = DataDirOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Train a denoiser (ε-prediction, condition dropout 0.1, EMA) and save the EMA weights to OUT.

    Example: genlens diffusion train --cond text --steps 30000 --batch 128 --device cuda --out runs/ddpm-text

    Your captioned images (captions.jsonl or IMAGE.txt): genlens diffusion train --data folder:photos --cond text
    --resolution 32 --channels 3 --out runs/photos-text, then genlens diffusion sample runs/photos-text --prompt
    "a red mug". Each image is conditioned on its own caption; images without one train with the null condition
    (unconditional), and their count is said once.

    Your images: genlens diffusion train --data folder:photos --resolution 64 --channels 3 --hflip --out runs/photos

    Layouts: genlens diffusion train --data fashion-scenes --cond layout --size small --steps 30000 --out DIR
    """
    from genlens.diffusion.config import CONDS, data_fields, size_for
    from genlens.diffusion.io import SHIPPED, save_diffusion, warm_start_provenance
    from genlens.diffusion.schedule import NoiseSchedule
    from genlens.diffusion.train import DiffusionTrainConfig, train_diffusion
    from genlens.diffusion.unet import UNetConfig
    from genlens.training.checkpoint import find_checkpoint, read_checkpoint_state
    from genlens.utils.config_io import to_dict

    if cond is not None and cond not in CONDS:
        raise GenlensError(f"--cond '{cond}' is unknown; use {', '.join(CONDS)}")
    if resolution is not None:  # a size the UNet cannot halve: one line before any data is read
        data_fields(resolution, channels or 1, cond or "none", size="tiny" if small else size)
    options, data = training_data(data, resolution=resolution, channels=channels, hflip=hflip, data_dir=data_dir)
    if limit:
        data = data.take(limit)  # scenes keep their ground truth (SceneData.subset)
    if cond is None:
        cond = "class" if conditional(data, what="training an unconditional denoiser (--cond none)") \
            else "none"
    elif cond == "class" and data.num_classes < 2:
        raise GenlensError(f"--cond class needs labels of 2+ classes but {data.name} has one; use --cond none")
    if threads:
        import torch

        torch.set_num_threads(threads)
    extra = {"pooled_token": pooled_token} if cond == "text" else {}
    side = int(data.images.shape[-1])
    options = replace(options, resolution=side, channels=int(data.images.shape[1]))  # what it really trained on
    extra |= data_fields(side, int(data.images.shape[1]), cond, size="tiny" if small else size, data=data)
    name = "tiny" if small else size or size_for(side)
    unet = UNetConfig.preset(name, cond, num_classes=data.num_classes, **extra)
    warmup_steps = warmup if warmup is not None else min(500, max(1, steps // 10))
    config = DiffusionTrainConfig(unet=unet, schedule=NoiseSchedule(beta_schedule=beta_schedule), steps=steps,
                                  batch_size=batch, lr=lr, mixed_precision=mixed_precision, seed=seed,
                                  warmup_steps=warmup_steps, ema_decay=ema_decay,
                                  init_from=str(init_from) if init_from is not None else None, data=options.spec,
                                  hflip=hflip)
    out = out or Path("runs/diffusion") / SHIPPED.get(cond, "fmnist-ddpm-uncond")
    captions = None
    if cond == "text":  # each image's own captions when the data has them, else its Fashion-MNIST class's
        from genlens.diffusion.text import caption_table
        from genlens.text import load_text_encoder

        captions = caption_table(data, load_text_encoder("minilm"), max_tokens=unet.max_tokens,
                                 pooled=unet.pooled_token, caption_round=config.caption_round)
        config = replace(config, captions_from="images" if captions.per_image else "classes")
    elif captioned := sum(bool(t) for t in getattr(data, "captions", None) or ()):  # explicit, never guessed
        say_data_notes(notes=[f"this folder has captions for {captioned} image(s); pass --cond text to train on "
                              f"them (this run trains --cond {cond})"])
    t0 = time.perf_counter()
    with progress_bar(f"diffusion ({cond})", steps, quiet=json_out) as cb:
        if grid_every:
            from genlens.cli.diffusion_eval import grid_writer

            prompts = list(dict.fromkeys(t for t in data.captions if t))[:8] if config.captions_from == "images" \
                else None  # a text model of its own captions: a row per caption (its first 8)
            cb = grid_writer(cb, every=grid_every, out=out, class_names=data.class_names, seed=seed, prompts=prompts)
        result = train_diffusion(data.images, data.labels, config=config, captions=captions,
                                 scenes=data if cond == "layout" else None,
                                 run_dir=out / "checkpoints", resume=resume, device=device,
                                 checkpoint_every=checkpoint_every, callback=cb)
    # The whole run's [step, loss, lr] rows from its last checkpoint (this call's segment only if there is none).
    saved = read_checkpoint_state(out / "checkpoints").get("history") if find_checkpoint(out / "checkpoints") else None
    whole = [{"step": int(r[0]), "loss": r[1]} for r in saved] if saved else result.history
    losses = [h["loss"] for h in whole]
    metrics = {"init_from": warm_start_provenance(init_from)} if init_from is not None else {}
    if captions is not None:
        metrics["captions"] = captions.record()
    metrics |= {"final_loss": losses[-1] if losses else None, "steps": steps, "train_seconds": round(result.seconds, 1),
               "history": [{"step": h["step"], "loss": h["loss"]} for h in whole[:: max(1, steps // 200)]]}
    if is_main_process():  # under accelerate launch only rank 0 writes the folder and prints
        save_diffusion(out, result.model, config=config, class_names=data.class_names, command=command_line(),
                       metrics=metrics, data=options)
        write_run_json(out, command=command_line(), config=to_dict(config), seed=seed, metrics=metrics,
                       seconds=time.perf_counter() - t0)
    end_distributed()  # under accelerate launch: all ranks done, no abort at exit
    if not is_main_process():
        return
    summary = {"out": str(out), "cond": cond, "steps": steps, "final_loss": metrics["final_loss"],
               "train_seconds": metrics["train_seconds"]}
    if json_out:
        emit_json(summary)
    else:
        err_console.print(f"diffusion ({cond}): final loss {metrics['final_loss']:.4f} -> {out}")


@app.command("sample")
def sample_cmd(
    model: Path | None = typer.Argument(None, help="Model folder (default: the shipped fmnist-ddpm, or "
                                        "fmnist-ddpm-text with --prompt)."),
    class_name: str | None = typer.Option(None, "--class", help="Class name or index, e.g. Sneaker."),
    all_classes: bool = typer.Option(False, "--all-classes", help="Every class of the model."),
    prompt: str | None = typer.Option(None, "--prompt", help="Text prompt (text-conditional models)."),
    layout: str | None = typer.Option(None, "--layout", help='Layout models: items CLASS@X,Y[,SIZE] separated by '
                                      '";" (x right, y down, in [0, 1]), e.g. "Sneaker@0.25,0.7;Bag@0.7,0.3".'),
    n: int = typer.Option(8, "--n", help="Images per class / prompt / layout."),
    guidance: float | None = typer.Option(None, "--guidance", help="Classifier-free guidance scale s "
                                          "(default 3 for conditional models; 1 = off)."),
    sampler: str | None = SamplerOpt,
    steps: int | None = StepsOpt,
    filmstrip: bool = typer.Option(False, "--filmstrip", help="Also write filmstrip.png: per class or prompt, the "
                                   "first image's x_t and predicted clean image along the run."),
    anchors: int | None = AnchorsOpt,
    guidance_interval: str | None = GuidanceIntervalOpt,
    timestep_spacing: str | None = SpacingOpt,
    guide_model: str | None = GuideModelOpt,
    guide_weight: float | None = GuideWeightOpt,
    out: Path = typer.Option(Path("out/diffusion"), "--out", help="Output folder."),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Generate images: OUT/<class>/<i>.png (layouts: OUT/<i>.png), OUT/grid.png and OUT/run.json.

    Example: genlens diffusion sample --class Sneaker --n 8 --guidance 3 --sampler ddim --steps 20 --out out/sneakers

    Layouts: genlens diffusion sample scenes-ddpm-layout --layout "Sneaker@0.25,0.7;Bag@0.7,0.3" --n 8 --out DIR
    """
    import torch

    from genlens.data.base import resolve_class
    from genlens.diffusion.pipeline import DiffusionPipeline, class_prompts, settings_from_flags
    from genlens.utils.device import resolve_device
    from genlens.utils.images import save_grid, save_png
    from genlens.utils.seed import make_generator

    if n < 1:
        raise GenlensError(f"--n must be at least 1, got {n}")
    chosen = sum([class_name is not None, all_classes, prompt is not None, layout is not None])
    if chosen > 1:
        raise GenlensError("pass only one of --class, --all-classes, --prompt and --layout")
    flags = settings_from_flags(sampler=sampler, steps=steps, guidance=guidance, guidance_interval=guidance_interval,
                                timestep_spacing=timestep_spacing, guide_model=guide_model, guide_weight=guide_weight,
                                anchors=anchors)
    dev = resolve_device(device)
    if model is None:
        model = Path(SHIPPED_LAYOUT) if layout is not None else default_model(prompt is not None)
    pipe = DiffusionPipeline.from_folder(model, device=dev, **flags)
    kind, names = pipe.cond_kind, list(pipe.class_names)
    if (kind == "layout") != (layout is not None):
        raise GenlensError("this model is layout-conditional; pass --layout \"CLASS@X,Y;...\"" if kind == "layout"
                           else "--layout needs a layout-conditional model (e.g. scenes-ddpm-layout)")
    if layout is not None:
        if filmstrip:
            raise GenlensError("--filmstrip draws class and prompt runs; drop it with --layout")
        return sample_layout(pipe, layout, n=n, out=out, seed=seed, dev=dev, json_out=json_out,
                             t0=time.perf_counter())
    groups: list[tuple[str, object]] = []  # (folder name, condition for n images)
    anchor_records: list[dict] = []  # the captions a prompt was anchored to (run.json)
    if kind == "none":
        if chosen:
            raise GenlensError("this model is unconditional; drop --class/--all-classes/--prompt")
        groups.append(("samples", None))
    elif prompt is not None:
        if kind != "text":
            raise GenlensError("this model is class-conditional; use --class NAME or --all-classes, not --prompt")
        pipe.encoder().check(prompt)  # an empty or long prompt: one line, before any indexing
        if pipe.config.anchors and not json_out:
            from genlens.diffusion.anchors import caption_index_path

            if not caption_index_path(pipe.encoder().name, caption_round=pipe.bundle.caption_round).is_file():
                err_console.print("indexing the training captions for anchoring (once, about a minute)...")
        (tokens, mask), found = pipe.prompt_condition([prompt])
        anchor_records = found.to_records(names) if found is not None else []
        groups.append((prompt, (tokens.expand(n, *tokens.shape[1:]), mask.expand(n, *mask.shape[1:]))))
    elif chosen:  # a class; a text model draws its plainest caption
        idx = range(len(names)) if all_classes else [resolve_class(class_name, names)]
        groups += [(names[i], torch.full((n,), i, dtype=torch.long)) for i in idx]
    else:
        raise GenlensError("choose what to draw: --class NAME or --all-classes"
                           + (" or --prompt TEXT" if kind == "text" else ""))

    t0 = time.perf_counter()
    folders = [safe_child(out, name) for name, _ in groups]  # confined under --out, checked before sampling
    gen = make_generator(seed, dev)
    record = pipe.record()
    total = record["steps"]
    keep = set(torch.linspace(1, total, min(8, total)).round().long().tolist())
    images, strips = [], []
    with progress_bar(f"sample ({pipe.config.sampler}, {total} steps)", total * len(groups), quiet=json_out) as cb:
        for gi, (_, cond) in enumerate(groups):
            frames: list[torch.Tensor] = []

            def report(info, gi=gi, frames=frames):
                cb({"step": gi * total + info["step"], "total": total * len(groups)})
                if filmstrip and info["step"] in keep:
                    frames.append(torch.stack([info["x_t"][0].cpu(), info["x0"][0].cpu()]))

            imgs = pipe.sample(cond, n, generator=gen, callback=report).cpu()
            for i, img in enumerate(imgs):
                save_png(img, folders[gi] / f"{i}.png")
            images.append(imgs)
            if frames:
                strips.append(torch.stack(frames, 1).flatten(0, 1))  # x_t row, then x̂_0 row
    grid = torch.cat(images)
    save_grid(grid, out / "grid.png", nrow=n, upscale=2)
    if strips:
        save_grid(torch.cat(strips), out / "filmstrip.png", nrow=len(keep), upscale=2)
    result = {"model": str(pipe.bundle.folder), "kind": pipe.bundle.kind, **record, "n": n,
              "groups": [g for g, _ in groups], "images": int(grid.shape[0]), "grid": str(out / "grid.png"),
              "seconds": round(time.perf_counter() - t0, 3)}
    if kind == "text" and prompt is None:
        result["prompts"] = [class_prompts(names)[names.index(g)] for g, _ in groups]
    if anchor_records:
        result["anchor_captions"] = anchor_records[0]["anchors"]
    write_run_json(out, command=command_line(), config={**result, "prompt": prompt, "device": str(dev)}, seed=seed,
                   metrics={"images": result["images"]}, seconds=time.perf_counter() - t0)
    if json_out:
        emit_json(result)
    else:
        err_console.print(f"{result['images']} images -> {out}")


@app.command("defaults")
def defaults_cmd(
    model: Path = typer.Argument(..., help="Diffusion model folder."),
    guidance: float | None = typer.Option(None, "--guidance", help="Set the recommended classifier-free guidance "
                                          "scale s (1 = the conditional model alone, no unconditional pass)."),
    guidance_interval: str | None = typer.Option(None, "--guidance-interval", help="Set the recommended interval "
                                                 "LO,HI (training timesteps), or 'none' for guidance at every step."),
    guide_model: str | None = typer.Option(None, "--guide-model", help="Set the recommended autoguidance guide: a "
                                           "folder (stored relative to MODEL's parent when it lies beside it), or "
                                           "'none' to recommend none."),
    guide_weight: float | None = typer.Option(None, "--guide-weight", help="Set the guide's weight w (default 2)."),
    timestep_spacing: str | None = typer.Option(None, "--timestep-spacing", help="Set the recommended timestep "
                                                "spacing: leading (diffusers' default), trailing, power:RHO or "
                                                "quadratic."),
    note: str | None = typer.Option(None, "--note", help="Where the choice was measured (kept in config.json)."),
    json_out: bool = JsonOpt,
) -> None:
    """Show or set a model's recommended sampling settings (guidance scale and interval, autoguidance guide,
    timestep spacing), which `diffusion sample`, `diffusion eval` and the tour use unless their flags override them. The
    weights and manifest are untouched.

    Example: genlens diffusion defaults runs/ddpm --guidance-interval 150,600 --guide-model ddpm-early --guide-weight 2
    """
    from genlens.diffusion.pipeline import recommend, settings_from_flags

    flags = settings_from_flags(guidance=guidance, guidance_interval=guidance_interval,
                                timestep_spacing=timestep_spacing, guide_model=guide_model, guide_weight=guide_weight)
    settings, note = recommend(model, flags, note=note)
    result = {"model": str(model), **settings, "note": note}
    if json_out:
        emit_json(result)
        return
    gi, guide = settings.get("guidance_interval"), settings.get("guide_model")
    where = f"at training timesteps {gi[0]}-{gi[1]}" if gi else "at every step"
    guided = f"; autoguided by {guide} (w={settings.get('guide_weight', 2.0):g})" if guide else ""
    spacing = f"; timestep spacing {settings['timestep_spacing']}" if settings.get("timestep_spacing") else ""
    scale = f"guidance s={settings['guidance']:g}" if settings.get("guidance") is not None else "guidance"
    err_console.print(f"{model}: {scale} {where}{guided}{spacing}" + (f" ({note})" if note else ""))


app.command("average")(average_cmd)  # genlens diffusion average (cli/diffusion_average.py)
app.command("eval")(eval_cmd)  # genlens diffusion eval (cli/diffusion_eval.py)
app.command("edit")(edit_cmd)  # genlens diffusion edit (cli/diffusion_layout.py)
