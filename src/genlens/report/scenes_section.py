"""The tour's "Scenes" section (issue 27): real fashion-scenes with the shipped locator's detections drawn on
them and, given a trained layout GAN, images made from layouts with the requested boxes drawn and an edit
strip where one item travels (EqGAN-SA's heatmap moved across a scene is the next section, scenes_heatmap.py).

The locator and the real test scenes are loaded once per tour (:func:`shipped_locator`, :func:`test_scenes`);
the GAN section's editing measurement uses the same ones.
"""
from __future__ import annotations

from typing import Any

from genlens.metrics.locator import SHIPPED as LOCATOR


def shipped_locator(ctx) -> tuple[Any, float]:
    """The shipped scenes-locator on the tour's device and its saved detection threshold (loaded once)."""
    if "locator" not in ctx._cache:
        from genlens.metrics.locator import load_locator, locator_threshold

        ctx._cache["locator"] = (load_locator(LOCATOR, device=ctx.device), locator_threshold(LOCATOR))
    return ctx._cache["locator"]


def test_scenes(ctx, locator) -> Any:
    """The real fashion-scenes test split at the locator's canvas (generated from Fashion-MNIST's test items
    on first use, then cached on disk)."""
    key = f"scenes-{locator.config.canvas}-{locator.config.channels}"
    if key not in ctx._cache:
        from genlens.metrics.editing import real_test_scenes

        ctx._cache[key] = real_test_scenes(locator, data_dir=ctx.data_dir)
    return ctx._cache[key]


# --- drawing ---------------------------------------------------------------------------------------------
UPSCALE = 4  # 32-px scenes drawn at 128 px, so marks and labels are legible
# one colour per class (matplotlib's tab10), so a class looks the same in every figure
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))
TRAIN_COMMAND = ("genlens gan train --arch layout --data fashion-scenes --size half --batch 64 --steps 1264 --seed 0 "
                 "--run-dir runs/scenes-gan-layout --out runs/scenes-gan-layout/model")
REQUESTED = ("Sneaker@0.25,0.7;Bag@0.7,0.3", "Trouser@0.5,0.5", "Ankle_boot@0.3,0.3;Dress@0.72,0.68",
             "T-shirt/top@0.25,0.25;Sandal@0.75,0.3;Bag@0.5,0.75")  # hand-written layouts (the CLI's text form)
STRIP = 7  # frames of the edit strip
RING = 10  # radius in drawn pixels of a ring (a heatmap centre)


def _colour(cls: int) -> tuple[int, int, int]:
    return PALETTE[cls % len(PALETTE)]


def annotate(images01, marks, class_names, *, boxes=None, box_width: int = 2, rings=None):
    """Images (N, C, H, W) in [0, 1] -> RGB (N, 3, H*UPSCALE, W*UPSCALE) with, per image, ``marks`` (detections
    or layout items with ``cls``, ``x``, ``y`` in [0, 1]: a cross and a short class name) and ``boxes``
    (``(cls, x0, y0, x1, y1)`` in [0, 1]: a rectangle), each in its class's colour, and ``rings`` (``(x, y)`` in
    [0, 1]: a white circle, for class-less places such as a heatmap's centre)."""
    import numpy as np
    import torch
    from PIL import Image, ImageDraw

    n, _, h, w = images01.shape
    rgb = images01.float().clamp(0, 1).expand(-1, 3, -1, -1) if images01.shape[1] == 1 else images01.float()
    out = []
    for i in range(n):
        arr = (rgb[i].permute(1, 2, 0).cpu().numpy() * 255).round().astype("uint8")
        im = Image.fromarray(arr).resize((w * UPSCALE, h * UPSCALE), Image.NEAREST)
        draw = ImageDraw.Draw(im)
        W, H = im.size
        for x, y in rings[i] if rings is not None else ():
            draw.ellipse([x * W - RING, y * H - RING, x * W + RING, y * H + RING], outline=(255, 255, 255), width=1)
        for cls, x0, y0, x1, y1 in (boxes[i] if boxes is not None else ()):
            draw.rectangle([x0 * W, y0 * H, x1 * W - 1, y1 * H - 1], outline=_colour(cls), width=box_width)
        for m in marks[i] if marks is not None else ():
            cx, cy = m.x * W, m.y * H
            draw.line([cx - 4, cy, cx + 4, cy], fill=_colour(m.cls), width=2)
            draw.line([cx, cy - 4, cx, cy + 4], fill=_colour(m.cls), width=2)
            draw.text((min(cx + 3, W - 30), max(cy - 12, 0)), class_names[m.cls][:5], fill=_colour(m.cls))
        out.append(torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float() / 255)
    return torch.stack(out)


def layout_boxes(layout) -> list[tuple[int, float, float, float, float]]:
    """The requested box of each layout item: its centre, its size (or the typical one for the item count) as the
    longest side, drawn square."""
    from genlens.data.layout import default_size

    half = [(it.size if it.size is not None else default_size(len(layout))) / 2 for it in layout.items]
    return [(it.cls, it.x - s, it.y - s, it.x + s, it.y + s) for it, s in zip(layout.items, half, strict=True)]


# --- the section -----------------------------------------------------------------------------------------
def save_png(images, ctx, name: str, nrow: int) -> str:
    from genlens.utils.images import save_grid

    save_grid(images, ctx.out / "scenes" / name, nrow=nrow)
    return f"scenes/{name}"


def _real_part(ctx) -> str:
    import torch

    from genlens.metrics.locator import locate
    from genlens.metrics.locator_eval import evaluate_locator
    from genlens.report import html as H

    locator, threshold = shipped_locator(ctx)
    scenes = test_scenes(ctx, locator)
    idx = torch.randperm(len(scenes), generator=torch.Generator().manual_seed(ctx.seed))[:16]
    shown = scenes.subset(idx)
    dets = locate(locator, shown.images, threshold)
    names = list(locator.config.class_names)
    truth = [[(int(c), *(b.float() / scenes.canvas).tolist()) for c, b in zip(cls, box, strict=True) if c >= 0]
             for cls, box in zip(shown.classes, shown.boxes, strict=True)]
    images = annotate(shown.images.float() / 255, dets, names, boxes=truth, box_width=1)
    src = save_png(images, ctx, "real_detections.png", nrow=8)
    scored = scenes.subset(torch.arange(min(len(scenes), 300 if ctx.quick else 2000)))
    s = evaluate_locator(locator, scored, threshold=threshold)
    ctx.numbers["scenes"] = {"locator": LOCATOR, "threshold": threshold, "scored_scenes": s["images"],
                             "recall": s["recall"], "precision": s["precision"], "class_accuracy": s["class_accuracy"],
                             "median_centre_error_px": s["median_centre_error_px"],
                             "detections_shown": sum(len(d) for d in dets)}
    legend = ", ".join(f"<span style='color:rgb{_colour(i)}'>{H.esc(n)}</span>" for i, n in enumerate(names))
    return ("<p><code>fashion-scenes</code> (docs/spatial.md): 1–3 Fashion-MNIST test items per 32×32 canvas, at "
            "random sizes and places, each with its ground truth. The shipped object locator "
            f"(<code>{LOCATOR}</code>, CenterNet-style, trained on real train scenes only, used only to evaluate) "
            "finds each object's centre and class; the editing measurement is built on it.</p>"
            + H.figure(src, "16 real test scenes: thin boxes are the ground truth in the true class's colour, crosses "
                       f"with a name the locator's detections (threshold {threshold:g}) in the found class's colour "
                       f"(a box and cross of different colours: a wrong class): {legend}", width=8 * 132)
            + H.table(["scenes", "recall", "precision", "class accuracy", "median centre error"],
                      [(s["images"], f"{s['recall']:.3f}", f"{s['precision']:.3f}", f"{s['class_accuracy']:.3f}",
                        f"{s['median_centre_error_px']:.2f} px")]))


def shipped_scene_gan(arch: str):
    """The shipped fashion-scenes GAN folder of ``arch`` (``layout``, ``eqgan-sa`` ...) when its weights are
    there, else None."""
    from genlens.gan.io import SCENES, shipped_gan_folder
    from genlens.models.weights_io import WEIGHTS_FILE

    folder = shipped_gan_folder(arch, SCENES)
    return folder if (folder / WEIGHTS_FILE).is_file() else None


def _layout_folder(ctx):
    """The layout GAN to show: the tour's ``--layout-gan`` folder, else the shipped scenes-gan-layout when its
    weights exist, else None."""
    return ctx.layout_gan if ctx.layout_gan is not None else shipped_scene_gan("layout")


def layout_figures(ctx, gen, names: list[str], max_items: int | None, prefix: str) -> dict:
    """Samples of ``gen`` (a layout generator adapter: ``latents``, ``sample``) for the hand-written layouts it can
    take and the ground truth of four real test scenes, one latent per row, with the requested boxes drawn; and an
    edit strip where item 0 of the first layout travels from x = 0.2 to 0.8 under the same latent. PNGs are
    ``scenes/<prefix>_samples.png`` and ``scenes/<prefix>_edit_strip.png``; returns their paths and what was drawn."""
    import torch

    from genlens.data.layout import parse_layout, scene_layouts
    from genlens.errors import GenlensError

    locator, _ = shipped_locator(ctx)
    real = test_scenes(ctx, locator)
    picked = torch.randperm(len(real), generator=torch.Generator().manual_seed(ctx.seed + 1))[:4]
    layouts = []
    for text in REQUESTED:  # the hand-written layouts this model can take (its classes, its item count)
        try:
            layouts.append(parse_layout(text, names, max_items=max_items or None)[0])
        except GenlensError:
            continue
    asked = [lay.to_text(names) for lay in layouts]
    layouts += [lay for lay in scene_layouts(real, picked) if len(lay) <= (max_items or len(lay))]
    rows = 2 if ctx.quick else 4
    z = gen.latents(rows, torch.Generator().manual_seed(ctx.seed))
    images = torch.cat([gen.sample(z[r:r + 1].expand(len(layouts), *z.shape[1:]), layouts) for r in range(rows)])
    boxes = [layout_boxes(lay) for _ in range(rows) for lay in layouts]
    src = save_png(annotate(images, None, names, boxes=boxes), ctx, f"{prefix}_samples.png", nrow=len(layouts))
    base = layouts[0]
    moved = [base.moved(0, x - base.items[0].x, 0.0) for x in torch.linspace(0.2, 0.8, STRIP).tolist()]
    strip = torch.cat([gen.sample(z[r:r + 1].expand(STRIP, *z.shape[1:]), moved) for r in range(rows)])
    strip_src = save_png(annotate(strip, None, names, boxes=[layout_boxes(m) for _ in range(rows) for m in moved]),
                      ctx, f"{prefix}_edit_strip.png", nrow=STRIP)
    return {"samples": src, "strip": strip_src, "asked": asked, "layouts": len(layouts), "latents": rows,
            "moved": names[base.items[0].cls]}


def layout_html(what: str, figs: dict) -> str:
    """The paragraph and the two figures of :func:`layout_figures` for the model ``what`` (HTML)."""
    from genlens.report import html as H

    text = "; ".join(H.esc(t) for t in figs["asked"]) or "none fit this model"
    return (f"<p>{what} draws what a layout asks for: each column is one layout (the first {len(figs['asked'])} "
            f"written by hand: {text}; then the ground truth of real test scenes), each row one latent; the boxes "
            "are the requested items (centre and size), in their class's colour.</p>"
            + H.figure(figs["samples"], "layout-conditioned samples with the requested boxes",
                       width=figs["layouts"] * 132)
            + H.figure(figs["strip"], f"an edit strip: the {H.esc(figs['moved'])} of the first layout moves from "
                       "x = 0.2 to 0.8, the same latent along each row; does the object travel with its box?",
                       width=STRIP * 132))


def _layout_part(ctx) -> str:
    from genlens.errors import GenlensError
    from genlens.gan.io import load_generator
    from genlens.gan.spatial_adapter import LayoutGanGenerator
    from genlens.report import html as H

    folder = _layout_folder(ctx)
    if folder is None:
        return ("<h3>Layouts</h3><p class='todo'>No trained layout GAN given. Train one with "
                f"<code>{H.esc(TRAIN_COMMAND)}</code> (about 80 kimg) and pass its folder: <code>genlens tour "
                "--layout-gan runs/scenes-gan-layout/model</code>.</p>")
    G = load_generator(folder, device=ctx.device)
    if not G.config.use_layout:
        raise GenlensError(f"'{folder}' is a '{G.config.arch}' GAN, not a layout GAN; pass a folder trained with "
                           "`genlens gan train --arch layout` to --layout-gan")
    figs = layout_figures(ctx, LayoutGanGenerator(G, str(folder)), list(G.config.class_names), G.config.max_items,
                          "layout")
    ctx.numbers.setdefault("scenes", {})["layout_gan"] = {"folder": str(folder), "layouts": figs["layouts"],
                                                          "latents": figs["latents"]}
    return ("<h3>Layouts</h3>" + layout_html(f"The layout GAN <code>{H.esc(folder)}</code>", figs)
            + "<p><code>genlens gan sample MODEL --layout \"Sneaker@0.25,0.7;Bag@0.7,0.3\"</code> does the same.</p>")


def section_scenes(ctx) -> str:
    return _real_part(ctx) + _layout_part(ctx)
