"""``genlens gan sample`` for class-conditional GANs (trained on labelled folders): images per class."""
from __future__ import annotations

from pathlib import Path

from genlens.errors import GenlensError


def sample_classes(G, name: str, class_name: str | None, all_classes: bool, *, n: int, out: Path, seed: int,
                    t0: float, json_out: bool) -> None:
    """A class-conditional GAN's samples: OUT/<class>/<i>.png per class asked for, and grid.png (a row each)."""
    import torch

    from genlens.cli.common import safe_child
    from genlens.cli.gan_common import finish
    from genlens.data.base import resolve_class
    from genlens.gan.edit import sample as sample_images
    from genlens.gan.edit import to01
    from genlens.utils.images import save_grid, save_png

    names = G.config.class_names
    if not G.config.num_classes:
        raise GenlensError(f"'{name}' is unconditional; drop --class/--all-classes")
    if (class_name is None) == (not all_classes):
        raise GenlensError("this GAN is class-conditional; pass --class NAME or --all-classes (not both)")
    picked = range(len(names)) if all_classes else [resolve_class(class_name, names)]
    up = max(1, 128 // G.config.resolution)
    files, rows = {}, []
    for i in picked:
        folder = safe_child(out, names[i])
        images = to01(sample_images(G, n, seed, label=i)).cpu()
        files[names[i]] = [str(save_png(img, folder / f"{j}.png", upscale=up)) for j, img in enumerate(images)]
        rows.append(images)
    save_grid(torch.cat(rows), out / "grid.png", nrow=n, upscale=up)
    result = {"model": name, "arch": G.config.arch, "n": n, "classes": [names[i] for i in picked], "files": files,
              "grid": str(out / "grid.png")}
    finish(out, result, config={"model": name, "n": n, "classes": result["classes"]}, seed=seed, t0=t0,
            json_out=json_out, done=f"{n * len(rows)} images in {out}")
