"""``genlens clip train|eval``: the offline image-text model (fmnist-clip) that text inversion uses."""
from __future__ import annotations

import time
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
    write_run_json,
)
from genlens.training.distributed import end_distributed, is_main_process

app = typer.Typer(help="A small CLIP-style model: the zoo CNN as image tower, trained against the frozen "
                  "all-MiniLM-L6-v2 sentence encoder on Fashion-MNIST captions.\n\n"
                  "Examples:\n\n  genlens clip train --out runs/fmnist-clip\n\n  genlens clip eval --json",
                  no_args_is_help=True)

ThreadsOpt = typer.Option(None, "--threads", help="torch CPU threads (default: torch's choice).")


def _metrics_line(m: dict) -> str:
    return (f"zero-shot top-1 {100 * m['zero_shot_top1']:.2f}%, held-out prompt accuracy "
            f"{100 * m['heldout_prompt_acc']:.0f}% ({sum(m['heldout_prompt_hits'])}/{len(m['heldout_prompt_hits'])})")


@app.command("train")
def train(
    out: Path = typer.Option(Path("runs/fmnist-clip"), "--out", help="Output model folder."),
    epochs: float = typer.Option(2.0, "--epochs", help="Passes over the training images (may be fractional)."),
    batch: int = typer.Option(256, "--batch", help="Images (and captions) per contrastive batch (global: split "
                              "over the processes of accelerate launch)."),
    lr: float = typer.Option(3e-3, "--lr", help="Peak AdamW learning rate."),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    threads: int | None = ThreadsOpt,
    data_dir: Path | None = DataDirOpt,
    limit_images: int | None = typer.Option(None, "--limit-images", hidden=True, help="Smoke tests: train on N images."),
    captions_per_class: int = typer.Option(128, "--captions-per-class",
                                           help="Training captions per class (of ~1,000), encoded once; 0: all."),
    limit: int | None = typer.Option(None, "--limit", hidden=True, help="Smoke tests: evaluate on N test images."),
    json_out: bool = JsonOpt,
) -> None:
    """Train fmnist-clip and write model.safetensors + config.json + manifest.json (with its metrics).

    Example: genlens clip train --epochs 1 --threads 2 --out src/genlens/models/weights/fmnist-clip
    """
    import torch

    from genlens.clip.train import ClipTrainConfig, evaluate_clip, train_config_dict, train_fmnist_clip
    from genlens.data.fashion_mnist import load_fashion_mnist
    from genlens.models.weights_io import save_model_folder
    from genlens.utils.device import resolve_device

    if threads:
        torch.set_num_threads(threads)
    dev = resolve_device(device)
    cfg = ClipTrainConfig(epochs=epochs, batch_size=batch, lr=lr, seed=seed, limit_images=limit_images,
                          captions_per_class=captions_per_class or None)
    train_data = load_fashion_mnist("train", data_dir=data_dir)
    test_data = load_fashion_mnist("test", data_dir=data_dir)
    if limit:
        test_data = test_data.take(limit)
    t0 = time.perf_counter()
    with progress_bar(f"train fmnist-clip on {dev}", None, quiet=json_out) as cb:
        result = train_fmnist_clip(train_data, device=dev, config=cfg, callback=cb)
    end_distributed()  # under accelerate launch: every process has trained its slices; the others stop here
    if not is_main_process():  # under accelerate launch only rank 0 evaluates, writes the folder and prints
        return
    metrics = evaluate_clip(result.model, test_data)
    metrics.update({"train_seconds": round(result.seconds, 1), "train_images_per_second":
                    round(result.images_per_second, 1), "device": str(dev), "threads": torch.get_num_threads(),
                    "history": result.history})
    config = train_config_dict(result, result.model)
    save_model_folder(out, result.model, config=config, command=command_line(), metrics=metrics)
    write_run_json(out, command=command_line(), config=config, seed=seed, metrics=metrics,
                   seconds=time.perf_counter() - t0)
    summary = {"out": str(out), "zero_shot_top1": metrics["zero_shot_top1"],
               "heldout_prompt_acc": metrics["heldout_prompt_acc"], "train_seconds": metrics["train_seconds"]}
    if json_out:
        emit_json(summary)
    else:
        err_console.print(f"fmnist-clip: {_metrics_line(metrics)} -> {out}")


@app.command("eval")
def eval_model(
    model: str = typer.Argument("fmnist-clip", help="fmnist-clip, a folder from `clip train`, or "
                                "open_clip:<arch>:<weights file>."),
    device: str = DeviceOpt,
    threads: int | None = ThreadsOpt,
    data_dir: Path | None = DataDirOpt,
    limit: int | None = typer.Option(None, "--limit", hidden=True, help="Smoke tests: evaluate on N test images."),
    json_out: bool = JsonOpt,
) -> None:
    """Zero-shot test top-1 with "a photo of a {class}" and retrieval accuracy of the held-out prompts.

    Example: genlens clip eval --json
    """
    import torch

    from genlens.clip.model import load_image_text_model
    from genlens.clip.train import evaluate_clip
    from genlens.data.fashion_mnist import load_fashion_mnist

    if threads:
        torch.set_num_threads(threads)
    m = load_image_text_model(model, device=device)
    test = load_fashion_mnist("test", data_dir=data_dir)
    if limit:
        test = test.take(limit)
    metrics = evaluate_clip(m, test)
    result = {"model": m.name, "zero_shot_top1": metrics["zero_shot_top1"],
              "heldout_prompt_acc": metrics["heldout_prompt_acc"],
              "heldout_zero_shot_top1": metrics["heldout_zero_shot_top1"], "test_images": metrics["test_images"]}
    if json_out:
        emit_json(result)
    else:
        err_console.print(f"{m.name}: {_metrics_line(metrics)}")
