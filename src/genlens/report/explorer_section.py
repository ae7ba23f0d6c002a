"""The tour's explorer section: screenshots of every panel of ``genlens explore``, taken by a real browser.

The screenshots come from a folder the caller hands over (``genlens tour --screenshots DIR``; ``make demo``
passes the checkout's ``docs/explorer``, written by ``genlens explore --screenshots docs/explorer``), since taking
them needs Playwright and Chromium, which a plain install does not have. They are copied next to the page.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from genlens.report import html as H

# panel file -> caption (genlens.web.screenshots writes explorer-<panel>.png)
PANELS = {
    "gan": "Spatial editing: drag a heatmap blob (add, remove, scroll to spread) and the EqGAN-SA image follows; "
           "the baseline with the same latent beside it, the discriminator's Grad-CAM as a toggle",
    "layout": "Layout GAN: each object of the layout a marker labelled with its class; drag one and the scene is "
              "redrawn with the object there (add, remove, scroll to resize)",
    "walk": "Latent walk: a 2-D pad over a plane of latent space, truncation, saved points, GIF export",
    "diffusion": "Diffusion: the denoising streams in step by step (noisy x_t and predicted x0), then a slider "
                 "scrubs back through the steps",
    "cam": "Grad-CAM: a test image or an upload, a model and a class",
    "units": "Units: model, layer, unit, its feature visualization, top test images and activation statistics",
    "inversions": "Inversions: classes x architectures x methods, judged by the other classifiers, computed on "
                  "demand; new inversions run in the background with a progress bar",
}


def section_explorer(ctx) -> str:
    folder = getattr(ctx, "screenshots", None)
    intro = ("<p><code>genlens explore</code> starts a local web app (127.0.0.1, a random token in the printed "
             "URL) where every capability can be touched: each panel has its own URL with its state in it.</p>")
    if folder is None:
        return intro + ("<p class='todo'>No screenshots given. From a source checkout: <code>genlens tour "
                        "--screenshots docs/explorer</code> (what <code>make demo</code> runs); new ones with "
                        "<code>genlens explore --screenshots DIR</code> (needs Playwright and Chromium).</p>")
    dest = ctx.out / "explorer"
    dest.mkdir(parents=True, exist_ok=True)
    figs, shown = [], []
    for panel, caption in PANELS.items():
        src = Path(folder) / f"explorer-{panel}.png"
        if src.is_file():
            shutil.copyfile(src, dest / src.name)
            figs.append(H.figure(f"explorer/{src.name}", caption, width=560))
            shown.append(panel)
    ctx.numbers["explorer"] = {"screenshots": shown, "missing": [p for p in PANELS if p not in shown]}
    missing = "" if len(shown) == len(PANELS) else (
        f"<p class='todo'>No screenshot for: {H.esc(', '.join(p for p in PANELS if p not in shown))}.</p>")
    return intro + "".join(figs) + missing
