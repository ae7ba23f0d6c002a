"""The tour's "Layout diffusion" section (issue 27, items 3 and 6): the shipped ``scenes-ddpm-layout``
(Make-A-Scene-style, Gafni et al. 2022: per-class blob channels concatenated to x_t, classifier-free guidance
over the layout) draws the layouts the layout GAN draws, and an edit strip moves one item under the same noise.
Sampled through the ``layout-diffusion`` adapter (DDIM, eta = 0: the noise fixes the image, so only the layout
changes along a row).
"""
from __future__ import annotations

from pathlib import Path

from genlens.diffusion.io import SHIPPED, TRAIN_HINTS

NAME = SHIPPED["layout"]


def layout_diffusion_source(ctx) -> str | None:
    """The shipped layout diffusion model's folder when its weights are there, else None."""
    from genlens.models.load import shipped_folder

    folder = shipped_folder(NAME)
    return str(folder) if (Path(folder) / "config.json").is_file() else None


def section_layout_diffusion(ctx) -> str:
    from genlens.diffusion.sample import num_steps
    from genlens.metrics.spatial_generators import load_adapter
    from genlens.report import html as H
    from genlens.report.scenes_section import layout_figures, layout_html

    source = layout_diffusion_source(ctx)
    if source is None:
        return (f"<p class='todo'>No <code>{NAME}</code> weights here yet; <code>{H.esc(TRAIN_HINTS[NAME])} --out "
                "DIR</code> trains it (the pre-registered run of <code>bench/spatial_train.py</code>, a few "
                "CPU-hours), and <code>genlens diffusion sample DIR --layout ...</code> samples it.</p>")
    gen = load_adapter(f"layout-diffusion:{source}", device=ctx.device)
    cfg = gen.pipe.model.config
    steps = num_steps(gen.pipe.config)
    figs = layout_figures(ctx, gen, list(gen.pipe.class_names), cfg.max_items, "layout_diffusion")
    ctx.numbers.setdefault("scenes", {})["layout_diffusion"] = {"folder": source, "layouts": figs["layouts"],
                                                                "latents": figs["latents"],
                                                                "steps": steps}
    return (layout_html(f"The layout diffusion model <code>{H.esc(NAME)}</code> (DDIM, {steps} steps, guidance "
                        f"{gen.pipe.config.guidance}, the noise of a row fixed)", figs)
            + "<p><code>genlens diffusion sample scenes-ddpm-layout --layout \"Sneaker@0.25,0.7;Bag@0.7,0.3\"</code> "
              "does the same; <code>genlens diffusion edit</code> moves an item under the same noise.</p>")
