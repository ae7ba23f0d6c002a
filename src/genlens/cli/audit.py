"""``genlens audit plant|backdoor|classes|sweep``: backdoors planted and found, class-dependent effects."""
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
    safe_child,
    write_run_json,
)
from genlens.errors import GenlensError

app = typer.Typer(help="Audit a classifier: plant and find backdoors (Neural Cleanse), compare classes.\n\n"
                  "Examples:\n\n  genlens audit plant fmnist-cnn --target 3 --trigger patch --rate 0.1 --out runs/bd\n\n"
                  "  genlens audit backdoor runs/bd --json\n\n  genlens audit classes fmnist-cnn runs/bd --json\n\n"
                  "  genlens audit sweep --strength 0,0.1,0.2,0.3 --seeds 0,1,2 --epochs 3 --out out/sweep",
                  no_args_is_help=True)

LimitOpt = typer.Option(None, "--limit", hidden=True, help="Smoke tests: use the first N test images only.")


def _floats(text: str, flag: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise GenlensError(f"{flag} takes comma-separated numbers like 0,0.1,0.2; got '{text}'") from None


def _ints(text: str, flag: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise GenlensError(f"{flag} takes comma-separated integers like 0,1,2; got '{text}'") from None


def _folder_config(handle) -> dict:
    """config.json for a planted copy: the source folder's config (a classifier), else the zoo spec's."""
    from dataclasses import asdict

    from genlens.models.zoo import ZOO, get_spec
    from genlens.utils.io import read_json

    if handle.name not in ZOO:
        raise GenlensError(f"audit plant writes zoo-architecture folders; {handle.name} is not a zoo model "
                           "(choose fmnist-cnn, fmnist-vit, fmnist-mixer, fmnist-resmlp or a folder of one)")
    src = Path(handle.meta.get("folder", "")) / "config.json"
    if handle.meta.get("folder") and src.is_file():
        return dict(read_json(src))
    spec = get_spec(handle.name)
    return {"kind": "classifier", "name": spec.name, "spec": spec.to_dict(), "train": asdict(spec.train)}


@app.command("plant")
def plant(
    model: str = typer.Argument(..., help="Zoo name or model folder to copy and backdoor."),
    target: str = typer.Option(..., "--target", help="Class the trigger sends images to (name or index)."),
    trigger: str = typer.Option("patch", "--trigger", help="patch (BadNets checkerboard) or blend (noise blend)."),
    rate: float = typer.Option(0.1, "--rate", help="Fraction of each training batch poisoned, in (0, 1)."),
    out: Path = typer.Option(..., "--out", help="Output model folder (safetensors + config.json + manifest.json)."),
    epochs: int = typer.Option(2, "--epochs", help="Fine-tuning epochs over --n-images training images."),
    n_images: int = typer.Option(12000, "--n-images", help="Training images used for fine-tuning (0 = all 60000)."),
    trigger_size: int = typer.Option(4, "--trigger-size", help="Patch side in pixels."),
    alpha: float = typer.Option(0.15, "--alpha", help="Blend trigger opacity."),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    data_dir: Path | None = DataDirOpt,
    limit: int | None = LimitOpt,
    limit_batches: int | None = typer.Option(None, "--limit-batches", hidden=True, help="Smoke tests."),
    json_out: bool = JsonOpt,
) -> None:
    """Fine-tune a backdoored copy of a classifier; report clean accuracy and attack success rate.

    Example: genlens audit plant fmnist-cnn --target Dress --trigger patch --rate 0.1 --out runs/bd-dress
    """
    from genlens.audit.plant import PlantConfig, check_plant, plant_backdoor
    from genlens.audit.triggers import Trigger
    from genlens.data.fashion_mnist import load_fashion_mnist
    from genlens.models.load import load_model
    from genlens.models.weights_io import save_model_folder

    trig = Trigger(kind=trigger, size=trigger_size, alpha=alpha, seed=seed)
    if not 0.0 < rate < 1.0:
        raise GenlensError(f"poisoning rate must be in (0, 1), got {rate}; pass e.g. --rate 0.1")
    handle = load_model(model, device=device)
    config = PlantConfig(target=handle.class_index(target), trigger=trig, rate=rate, epochs=epochs, n_images=n_images,
                         seed=seed, limit_batches=limit_batches)
    check_plant(handle, config)
    folder_config = _folder_config(handle)
    train = load_fashion_mnist("train", data_dir=data_dir)
    test = load_fashion_mnist("test", data_dir=data_dir)
    if limit:
        test = test.take(limit)
    with progress_bar(f"plant a {trigger} backdoor -> {handle.class_names[config.target]}", None, quiet=json_out) as cb:
        result = plant_backdoor(handle, train, test, config, callback=cb)
    backdoor = {"trigger": trigger, "trigger_size": trigger_size, "alpha": alpha, "target": config.target,
                "target_name": handle.class_names[config.target], "rate": rate, "seed": seed, "epochs": epochs,
                "n_images": n_images, "source": str(model)}
    metrics = {"clean_accuracy": result.clean_accuracy, "attack_success": result.attack_success,
               "clean_accuracy_before": result.clean_accuracy_before,
               "attack_success_before": result.attack_success_before, "test_images": len(test),
               "seconds": round(result.seconds, 1)}
    folder_config["backdoor"] = backdoor
    save_model_folder(out, result.handle.model, config=folder_config, command=command_line(), metrics=metrics,
                      extra={"backdoor": backdoor})
    write_run_json(out, command=command_line(), config=folder_config, seed=seed, metrics=metrics,
                   seconds=result.seconds)
    summary = {"out": str(out), **backdoor, **metrics}
    if json_out:
        emit_json(summary)
    else:
        err_console.print(f"planted {trigger} -> {backdoor['target_name']}: clean accuracy "
                          f"{100 * result.clean_accuracy:.2f}% (was {100 * result.clean_accuracy_before:.2f}%), attack "
                          f"success {100 * result.attack_success:.1f}% (was {100 * result.attack_success_before:.1f}%) "
                          f"in {result.seconds:.0f} s -> {out}")


@app.command("backdoor")
def backdoor(
    model: str = typer.Argument(..., help="Zoo name or classifier folder to audit."),
    out: Path | None = typer.Option(None, "--out", help="Folder for grid.png and run.json "
                                       "(default out/audit/backdoor/NAME)."),
    steps: int = typer.Option(150, "--steps", help="Optimisation steps (all classes at once)."),
    n_images: int = typer.Option(200, "--n-images", help="Clean test images used (no training data is needed)."),
    scale: str = typer.Option("l1", "--scale", help="Anomaly index on l1 (the paper's |m|_1) or log (log |m|_1)."),
    pii_scale: float = typer.Option(0.1, "--pii-scale", help="PII step budget, as a fraction of the preset's; "
                                    "0 skips the PII inversions."),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    data_dir: Path | None = DataDirOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Neural Cleanse: recover the smallest trigger per class and flag outlier classes (anomaly index > 2).

    Only a small sample of clean test images is used, no training data. Backdoors built with digital
    signatures (Goldwasser et al. 2022) are undetectable by any test of this kind.

    Example: genlens audit backdoor runs/bd-dress --json
    """
    from genlens.audit.neural_cleanse import UNDETECTABLE_NOTE, CleanseConfig, neural_cleanse, transfer_success
    from genlens.data.fashion_mnist import load_fashion_mnist
    from genlens.models.load import load_model
    from genlens.utils.images import save_grid, save_png

    config = CleanseConfig(steps=steps, seed=seed, scale=scale)
    if n_images < 2:
        raise GenlensError(f"--n-images must be at least 2, got {n_images}; 200 is the default")
    if pii_scale < 0:
        raise GenlensError(f"--pii-scale must be >= 0, got {pii_scale}")
    handle = load_model(model, device=device)
    test = load_fashion_mnist("test", data_dir=data_dir)
    from genlens.audit.plant import check_data_matches

    check_data_matches(handle, test)
    import torch

    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n_images]
    sample = test.subset(pick)
    images = sample.float_images()
    with progress_bar(f"neural cleanse {handle.name}", steps, quiet=json_out) as cb:
        res = neural_cleanse(handle, images, config, callback=cb)
    out = out or Path("out/audit/backdoor") / Path(str(model)).name
    k = handle.num_classes
    rows = [res.masks.expand(-1, handle.input_size[0], -1, -1), res.masks * res.patterns]
    pii_success = None
    pii_seconds = 0.0
    if pii_scale > 0:
        from genlens.inversion.api import invert

        t0 = time.perf_counter()
        pii = invert(handle, list(range(k)), method="pii", seed=seed, steps_scale=pii_scale)
        pii_seconds = time.perf_counter() - t0
        pii_success = transfer_success(handle, images, sample.labels, res.masks, pii)
        rows.append(pii)
    for c, name in enumerate(handle.class_names):
        d = safe_child(out, name)
        save_png(res.masks[c], d / "mask.png", upscale=4)
        save_png((res.masks * res.patterns)[c], d / "trigger.png", upscale=4)
        if pii_scale > 0:
            save_png(rows[2][c], d / "pii.png", upscale=4)
    grid = save_grid(torch.cat(rows), out / "grid.png", nrow=k, upscale=4)
    result = {
        "flagged": res.flagged, "flagged_names": [handle.class_names[c] for c in res.flagged],
        "anomaly_index": [round(float(v), 4) for v in res.anomaly], "scale": scale,
        "anomaly_index_l1": [round(float(v), 4) for v in res.anomaly_l1],
        "anomaly_index_log": [round(float(v), 4) for v in res.anomaly_log], "mask_norms": [round(float(v), 3) for v in res.norms],
        "reached": res.reached.tolist(), "seconds": round(res.seconds, 2), "cpu_seconds": round(res.cpu_seconds, 2),
        "pii_seconds": round(pii_seconds, 2),
        "pii_trigger_success": None if pii_success is None else [round(float(v), 4) for v in pii_success],
        "n_images": n_images, "steps": steps,
        "data": f"{n_images} clean test images only; no training data", "grid_png": str(grid),
        "grid_rows": "recovered masks; mask x pattern; PII inversion" if pii_scale > 0 else "masks; mask x pattern",
        "limitation": UNDETECTABLE_NOTE,
    }
    write_run_json(out, command=command_line(), config={"model": str(model), "steps": steps, "n_images": n_images,
                                                        "scale": scale, "pii_scale": pii_scale}, seed=seed, metrics=result,
                   seconds=res.seconds + pii_seconds)
    if json_out:
        emit_json(result)
        return
    flagged = ", ".join(f"{c} ({handle.class_names[c]})" for c in res.flagged) or "none"
    for c, name in enumerate(handle.class_names):
        extra = "" if pii_success is None else f"  PII-as-trigger success {100 * float(pii_success[c]):.0f}%"
        err_console.print(f"  {c} {name:12s} |m|_1 {float(res.norms[c]):7.1f}  anomaly {float(res.anomaly[c]):5.2f}{extra}")
    err_console.print(f"flagged: {flagged} ({res.seconds:.0f} s, {n_images} clean test images, no training data) "
                      f"-> {grid}")
    err_console.print(UNDETECTABLE_NOTE)


@app.command("classes")
def classes(
    model_a: str = typer.Argument(..., help="Reference classifier (zoo name or folder)."),
    model_b: str = typer.Argument(..., help="Classifier compared with it."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples (at least 100)."),
    out: Path | None = typer.Option(None, "--out", help="Folder for classes.png and run.json "
                                       "(default out/audit/classes)."),
    limit: int | None = typer.Option(None, "--limit", help="Use the first N test images only."),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    data_dir: Path | None = DataDirOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Per-class test accuracy of two classifiers with paired bootstrap 95 % intervals; the classes B loses.

    Example: genlens audit classes fmnist-cnn runs/sweep/crop-0.3 --json
    """
    from genlens.audit.classes import check_bootstrap, compare_classes, per_class_correct
    from genlens.audit.plant import check_data_matches
    from genlens.data.fashion_mnist import load_fashion_mnist
    from genlens.models.load import load_model
    from genlens.report.audit_plots import comparison_png

    t0 = time.perf_counter()
    test = load_fashion_mnist("test", data_dir=data_dir)
    if limit:
        test = test.take(limit)
    check_bootstrap(test.labels, test.num_classes, n_boot, test.class_names)
    a = load_model(model_a, device=device)
    b = load_model(model_b, device=device)
    check_data_matches(a, test)
    check_data_matches(b, test)
    cmp = compare_classes(per_class_correct(a, test), per_class_correct(b, test), test.labels, test.class_names,
                          n_boot=n_boot, seed=seed)
    out = out or Path("out/audit/classes")
    png = comparison_png(cmp, out / "classes.png", label_a=Path(model_a).name, label_b=Path(model_b).name)
    result = {"model_a": model_a, "model_b": model_b, **cmp.to_dict(), "test_images": len(test), "plot_png": str(png),
              "loser_names": [test.class_names[c] for c in cmp.losers]}
    write_run_json(out, command=command_line(), config={"model_a": model_a, "model_b": model_b, "n_boot": n_boot},
                   seed=seed, metrics=result, seconds=time.perf_counter() - t0)
    if json_out:
        emit_json(result)
        return
    for r in result["per_class"]:
        lo, hi = r["ci_diff"]
        err_console.print(f"  {r['name']:12s} A {100 * r['acc_a']:5.1f}%  B {100 * r['acc_b']:5.1f}%  "
                          f"B-A {100 * r['diff']:+5.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]")
    err_console.print(f"significant losses: {', '.join(result['loser_names']) or 'none'} -> {png}")


@app.command("sweep")
def sweep(
    aug: str = typer.Option("random-crop", "--aug", help="What is swept: random-crop (the crop strength) or "
                            "weight-decay (--strength then gives the weight decay values, no augmentation)."),
    strength: str = typer.Option("0,0.1,0.2,0.3", "--strength", help="Comma-separated strengths in [0, 1)."),
    weight_decay: float | None = typer.Option(None, "--weight-decay", help="Weight decay (default: the zoo recipe's)."),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Comma-separated training seeds."),
    epochs: int = typer.Option(3, "--epochs", help="Epochs per model (short recipe)."),
    model: str = typer.Option("fmnist-cnn", "--model", help="Zoo architecture trained."),
    out: Path = typer.Option(Path("out/audit/sweep"), "--out", help="Folder for results.json and sweep.png."),
    device: str = DeviceOpt,
    data_dir: Path | None = DataDirOpt,
    limit: int | None = LimitOpt,
    limit_batches: int | None = typer.Option(None, "--limit-batches", hidden=True, help="Smoke tests."),
    json_out: bool = JsonOpt,
) -> None:
    """Train the zoo model per (strength, seed) and plot each class's test accuracy against strength.

    Example: genlens audit sweep --aug random-crop --strength 0,0.1,0.2,0.3 --weight-decay 5e-4 --seeds 0,1,2
    --epochs 3 --out out/audit/sweep

    Weight decay instead: genlens audit sweep --aug weight-decay --strength 0,5e-4,5e-3,0.05 --seeds 0,1,2
    """
    from dataclasses import asdict

    from genlens.audit.sweep import SweepConfig, run_sweep
    from genlens.data.fashion_mnist import load_fashion_mnist
    from genlens.models.zoo import get_spec
    from genlens.report.audit_plots import sweep_png
    from genlens.utils.device import resolve_device
    from genlens.utils.io import atomic_write_json

    config = SweepConfig(aug=aug, strengths=_floats(strength, "--strength"), seeds=_ints(seeds, "--seeds"),
                         weight_decay=weight_decay, epochs=epochs, model=model, limit_batches=limit_batches)
    get_spec(model)
    dev = resolve_device(device)
    train = load_fashion_mnist("train", data_dir=data_dir)
    test = load_fashion_mnist("test", data_dir=data_dir)
    if limit:
        test = test.take(limit)
    t0 = time.perf_counter()
    with progress_bar(f"sweep {aug} on {model}", len(config.strengths) * len(config.seeds), quiet=json_out) as cb:
        res = run_sweep(train, test, config, device=dev, callback=cb)
    summary = res.summary()
    png = sweep_png(summary, out / "sweep.png", aug=aug)
    change = res.change()
    results = {"config": asdict(config), "class_names": list(res.class_names), "runs": res.runs, "summary": summary,
               "change_first_to_last": change["per_class"], "losing_classes": change["losing"],
               "gaining_classes": change["gaining"],
               "cpu_seconds": round(res.cpu_seconds, 1), "cpu_hours": round(res.cpu_seconds / 3600, 4),
               "seconds": round(time.perf_counter() - t0, 1), "test_images": len(test), "device": str(dev)}
    atomic_write_json(out / "results.json", results)
    write_run_json(out, command=command_line(), config=asdict(config), seed=None,
                   metrics={"cpu_hours": results["cpu_hours"]}, seconds=time.perf_counter() - t0)
    if json_out:
        emit_json({**results, "results_json": str(out / "results.json"), "plot_png": str(png)})
        return
    err_console.print(f"classes losing significantly from strength {change['from']} to {change['to']} (paired by seed, "
                      f"95 % interval): {', '.join(change['losing']) or 'none'}")
    err_console.print(f"{len(res.runs)} models in {results['seconds']:.0f} s ({results['cpu_hours']:.3f} CPU-hours) "
                      f"-> {out / 'results.json'}, {png}")
