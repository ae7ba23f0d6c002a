"""The tour's EqGAN-SA-on-scenes strip (issue 27, item 6): the level-1 heatmap of the shipped ``scenes-eqgan``
travels from x = 0.2 to 0.8 with the same latent (z and the heatmap's drawn shape) along each row, and the shipped
locator's detections are drawn on every frame, so a reader sees whether an object travels with the blob. The
measured answer is ``bench/spatial.py``'s EqGAN-SA comparison (slope against SEL-only, per training seed).

The blob is moved as the editing measurement and the explorer move it (:class:`HeatmapGanGenerator`: item 0 of a
one-item layout places the level-1 centre, the other levels keep their offsets).
"""
from __future__ import annotations

HEAT_X = (0.2, 0.8)  # the level-1 centre's path, at HEAT_Y
HEAT_Y = 0.5
TRAIN_COMMAND = "python bench/spatial_train.py scenes-eqgan-s0"


def section_scenes_eqgan(ctx) -> str:
    import torch

    from genlens.data.layout import Layout, LayoutItem
    from genlens.gan.io import load_generator
    from genlens.gan.spatial_adapter import HeatmapGanGenerator
    from genlens.metrics.locator import locate
    from genlens.report import html as H
    from genlens.report.scenes_section import STRIP, annotate, save_png, shipped_locator, shipped_scene_gan

    folder = shipped_scene_gan("eqgan-sa")
    if folder is None:
        return ("<p class='todo'>No <code>scenes-eqgan</code> weights here; "
                f"<code>{H.esc(TRAIN_COMMAND)}</code> trains it (80 kimg, under a CPU-hour).</p>")
    gen = HeatmapGanGenerator(load_generator(folder, device=ctx.device), "scenes-eqgan")
    locator, threshold = shipped_locator(ctx)
    names = list(locator.config.class_names)
    rows = 2 if ctx.quick else 4
    latents = gen.latents(rows, torch.Generator().manual_seed(ctx.seed + 2))
    xs = torch.linspace(*HEAT_X, STRIP).tolist()
    layouts = [Layout((LayoutItem(0, x, HEAT_Y),)) for x in xs]  # the class is ignored: heatmaps carry none
    frames = torch.cat([gen.sample(latents[r:r + 1].expand(STRIP, -1), layouts) for r in range(rows)])
    dets = locate(locator, frames, threshold)
    rings = [[(x, HEAT_Y)] for _ in range(rows) for x in xs]
    src = save_png(annotate(frames, dets, names, rings=rings), ctx, "eqgan_heatmap_strip.png", nrow=STRIP)
    # how far the detection nearest the blob moved, first frame to last, per row (None: nothing found)
    travelled = []
    for r in range(rows):
        first, last = dets[r * STRIP], dets[r * STRIP + STRIP - 1]
        if first and last:
            a = min(first, key=lambda d: (d.x - xs[0]) ** 2 + (d.y - HEAT_Y) ** 2)
            b = min(last, key=lambda d: (d.x - xs[-1]) ** 2 + (d.y - HEAT_Y) ** 2)
            travelled.append(round(b.x - a.x, 4))
        else:
            travelled.append(None)
    ctx.numbers.setdefault("scenes", {})["eqgan_strip"] = {"folder": str(folder), "latents": rows,
                                                           "blob_dx": xs[-1] - xs[0], "nearest_object_dx": travelled}
    return ("<p>EqGAN-SA claims the discriminator's heatmaps give the generator spatial awareness. Here the shipped "
            "<code>scenes-eqgan</code>'s level-1 heatmap (white ring) moves from x = 0.2 to 0.8 with the same "
            "latent along each row, as dragging it in the explorer does; crosses are the locator's detections. "
            "Whether objects follow is measured, not eyeballed, by the EqGAN-SA comparison of "
            "<code>bench/spatial.py</code> (docs/spatial.md).</p>"
            + H.figure(src, "EqGAN-SA's heatmap moved along x, one latent per row; does an object travel with the "
                       "ring?", width=STRIP * 132))
