"""``genlens locator train|eval``: the object locator that measures where generated objects landed."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

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

app = typer.Typer(help="The object locator (CenterNet-style centres and classes), trained on real scenes' ground truth "
                  "and used only to evaluate generators.\n\n"
                  "Examples:\n\n  genlens locator train --data fashion-scenes --out runs/locator\n\n"
                  "  genlens locator eval runs/locator --data fashion-scenes:test --json", no_args_is_help=True)

SCENES_HELP = "Scenes: fashion-scenes or fashion-scenes-rgb (NAME[:train|test])."


def _scenes(spec: str, split: str, data_dir: Path | None) -> Any:
    from genlens.data.scenes import SceneData
    from genlens.data.spec import load_data
    from genlens.errors import GenlensError

    data = load_data(spec, split=split, data_dir=data_dir, size=None)
    if not isinstance(data, SceneData):
        raise GenlensError(f"'{spec}' has no object positions; the locator needs scenes: use fashion-scenes or "
                           "fashion-scenes-rgb")
    return data


@app.command("train")
def train(data: str = typer.Option("fashion-scenes", "--data", help=SCENES_HELP + " The train split is used."),
          out: Path = typer.Option(..., "--out", help="Model folder to write (model.safetensors, config.json, "
                                   "manifest.json, run.json)."),
          size: int = typer.Option(16, "--size", help="Model width: channels of the first stage (16 or 32)."),
          steps: int = typer.Option(1500, "--steps", help="Training steps."),
          batch: int = typer.Option(64, "--batch", help="Scenes per step (global: split over the processes of "
                                    "accelerate launch)."),
          lr: float = typer.Option(3e-3, "--lr", help="AdamW learning rate (cosine to zero)."),
          held_out: int = typer.Option(2000, "--held-out", help="Last train scenes kept out of training to choose "
                                       "the detection threshold (never the test scenes)."),
          seed: int = SeedOpt, device: str = DeviceOpt, data_dir: Path | None = DataDirOpt,
          json_out: bool = JsonOpt) -> None:
    """Train a locator on the scenes' ground truth, choose its threshold on held-out train scenes, and score
    it on the test scenes.

    Example: genlens locator train --data fashion-scenes --out runs/locator --steps 1500
    """
    import torch

    from genlens.errors import GenlensError
    from genlens.metrics.locator import LocatorConfig, save_locator
    from genlens.metrics.locator_eval import choose_threshold, evaluate_locator
    from genlens.metrics.locator_train import train_locator
    from genlens.utils.config_io import to_dict
    from genlens.utils.device import resolve_device

    start = time.perf_counter()
    scenes = _scenes(data, "train", data_dir)
    if not 0 < held_out < len(scenes):
        raise GenlensError(f"--held-out {held_out} must be between 1 and {len(scenes) - 1} (the train scenes)")
    fit, held = scenes.subset(torch.arange(len(scenes) - held_out)), scenes.subset(
        torch.arange(len(scenes) - held_out, len(scenes)))
    config = LocatorConfig(canvas=scenes.canvas, channels=scenes.image_shape[0], width=size,
                           max_items=int(scenes.config.max_items))
    with progress_bar("locator", steps, quiet=json_out) as cb:
        model = train_locator(config, fit, steps=steps, batch=batch, lr=lr, callback=cb,
                              generator=torch.Generator().manual_seed(seed), device=resolve_device(device))
    end_distributed()  # under accelerate launch: every process has trained its slices; the others stop here
    if not is_main_process():  # under accelerate launch only rank 0 evaluates, writes the folder and prints
        return
    threshold, validation = choose_threshold(model, held)
    test_spec = f"{data.partition(':')[0]}:test"
    scores = evaluate_locator(model, _scenes(test_spec, "test", data_dir), threshold=threshold)
    train_info = {"data": data, "steps": steps, "batch": batch, "lr": lr, "seed": seed, "scenes": len(fit),
                  "held_out": held_out, "seconds": round(time.perf_counter() - start, 1)}
    save_locator(out, model.cpu(), command=command_line(), metrics=scores, train=train_info, threshold=threshold)
    result = {"folder": str(out), "threshold": threshold, "threshold_chosen_on": f"{held_out} held-out train scenes "
              "(best F1)", "test": scores, "validation": validation}
    write_run_json(out, command=command_line(), config={"locator": to_dict(config), "train": train_info}, seed=seed,
                   metrics=result, seconds=time.perf_counter() - start)
    if json_out:
        emit_json(result)
    else:
        err_console.print(f"locator saved to {out}: class accuracy {scores['class_accuracy']:.3f}, recall "
                          f"{scores['recall']:.3f}, median centre error {scores['median_centre_error_px']:.2f} px "
                          f"(threshold {threshold}, {test_spec})")


@app.command("eval")
def evaluate(folder: str = typer.Argument("scenes-locator", help="A locator folder (written by genlens locator "
                                          "train) or the shipped scenes-locator."),
             data: str = typer.Option("fashion-scenes:test", "--data", help=SCENES_HELP),
             threshold: float | None = typer.Option(None, "--threshold", help="Detection threshold (default: the "
                                                    "one saved with the locator)."),
             n: int | None = typer.Option(None, "--n", help="Score only the first N scenes."),
             device: str = DeviceOpt, data_dir: Path | None = DataDirOpt, json_out: bool = JsonOpt) -> None:
    """Score a locator against scenes' ground truth: median centre error, class accuracy, recall, precision.

    Example: genlens locator eval scenes-locator --data fashion-scenes:test --json
    """
    import torch

    from genlens.errors import GenlensError
    from genlens.metrics.locator import load_locator, locator_threshold
    from genlens.metrics.locator_eval import evaluate_locator
    from genlens.utils.device import resolve_device

    model = load_locator(folder, device=resolve_device(device))
    scenes = _scenes(data, "test", data_dir)
    if n is not None:
        if n < 1:
            raise GenlensError(f"--n {n} must be at least 1")
        scenes = scenes.subset(torch.arange(min(n, len(scenes))))
    t = locator_threshold(folder) if threshold is None else threshold
    scores = evaluate_locator(model, scenes, threshold=t)
    if json_out:
        emit_json({"folder": str(folder), "data": data, **scores})
    else:
        err_console.print(f"{folder} on {data} ({scores['images']} scenes): class accuracy "
                          f"{scores['class_accuracy']:.3f}, recall {scores['recall']:.3f}, precision "
                          f"{scores['precision']:.3f}, median centre error {scores['median_centre_error_px']:.2f} px")
