"""``genlens cam MODEL IMAGE``: a Grad-CAM heatmap and overlay for one image."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from genlens.cli.common import (
    AllowDownloadOpt,
    DeviceOpt,
    JsonOpt,
    SeedOpt,
    command_line,
    emit_json,
    err_console,
    write_run_json,
)


def cam(
    model: Annotated[str, typer.Argument(help="Zoo model name (fmnist-cnn, fmnist-vit, ...), a model folder "
                                              "or timm:NAME[:WEIGHTS_FILE].")],
    image: Annotated[Path, typer.Argument(help="Image file (PNG/JPEG); resized to the model's input size.")],
    class_: Annotated[str | None, typer.Option("--class", help="Class name or index to explain "
                                               "(default: the predicted class).")] = None,
    layer: Annotated[str | None, typer.Option("--layer", help="Layer name, e.g. stages.2 or blocks.5 "
                                              "(default: last CNN stage; last block of a Mixer/ResMLP; "
                                              "norm1 of a ViT's last block).")] = None,
    method: Annotated[str, typer.Option("--method", help="gradcam or gradcam++.")] = "gradcam",
    alpha: Annotated[float, typer.Option("--alpha", min=0.0, max=1.0,
                                         help="Heatmap opacity in the overlay.")] = 0.5,
    out: Annotated[Path, typer.Option("--out", help="Output folder for overlay.png, heatmap.png, run.json.")]
    = Path("out/cam"),
    allow_download: bool = AllowDownloadOpt,
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Grad-CAM heatmap of a class on one image: writes overlay.png, heatmap.png and run.json.

    Example: genlens cam fmnist-cnn shoe.png --class Sneaker --out out/cam
    """
    from genlens.attribution import colorize, default_layer, handle_cam, overlay
    from genlens.models.load import load_model
    from genlens.utils.images import load_image, save_png
    from genlens.utils.seed import seed_everything

    t0 = time.perf_counter()
    seed_everything(seed)  # Grad-CAM is deterministic; kept for the common --seed contract
    handle = load_model(model, device=device, allow_download=allow_download)
    img = load_image(image, channels=handle.input_size[0], size=handle.input_size[-1]).unsqueeze(0)  # (1, C, H, W)
    layer_name = layer or default_layer(handle)
    probs = handle.predict(img).softmax(dim=1)[0]
    predicted = int(probs.argmax())
    target = handle.class_index(class_) if class_ is not None else predicted
    heat = handle_cam(handle, img, layer=layer_name, target=target, method=method)[0].cpu()  # (H, W)

    upscale = max(1, 224 // max(img.shape[-2:]))  # small images stay crisp, not tiny
    files = {
        "overlay": str(save_png(overlay(img[0], heat, alpha=alpha), out / "overlay.png", upscale=upscale)),
        "heatmap": str(save_png(colorize(heat), out / "heatmap.png", upscale=upscale)),
    }
    names = handle.class_names
    result = {
        "model": handle.name, "image": str(image), "layer": layer_name, "method": method,
        "predicted": {"index": predicted, "name": names[predicted]},
        "target": {"index": target, "name": names[target]},
        "probabilities": {n: round(float(p), 6) for n, p in zip(names, probs)},
        "files": files,
    }
    config = {"model": model, "image": str(image), "class": class_, "layer": layer_name, "method": method,
              "alpha": alpha, "device": str(handle.device)}
    run_json = write_run_json(out, command=command_line(), config=config, seed=seed, metrics=result,
                              seconds=time.perf_counter() - t0)
    files["run_json"] = str(run_json)
    if json_out:
        emit_json(result)
    else:
        confidence = 100 * float(probs[predicted])
        err_console.print(f"{handle.name}: predicted {names[predicted]} ({confidence:.1f}%), "
                          f"Grad-CAM of {names[target]} at {layer_name} -> {out}")
