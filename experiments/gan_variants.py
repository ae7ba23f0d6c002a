"""EqGAN-SA with the official code's variants, measured and not adopted: bench/gan.py's comparison with one
variant injected into every run (issue 28: variants are modules, not config flags).

* ``align_real``: the alignment ties the heatmap to plain Grad-CAM of D's raw logit (where D sees *real*)
  instead of the gradient of G's loss softplus(-D) (where D sees *fake*; the official code's and ours).
  Result: ``gan_align_real.json`` (+ ``gan_align_real/``).
* ``sel_layer``: the official SEL placement, a SEL before every modulated conv and to-RGB
  (:class:`genlens.gan.networks.LayerSelBlock`). Result: ``gan_sel_layer.json``.
* ``heat_encoder``: the official per-centre conv heatmap encoder (:class:`genlens.gan.spatial.HeatmapEncoder`)
  with the official, wider sigmas of levels 2/3 (:func:`genlens.gan.spatial.sample_official_heatmaps`).
  Result: ``gan_heat_encoder.json``.

The recorded runs (2 seeds x 80.9 kimg, half width, 2 CPU processes; the result files hold the numbers and,
from before issue 28, the config flags that then selected the variant):

    python experiments/gan_variants.py align_real --archs eqgan-sa --kimg 80 --evals 16 --parallel 2 --device cpu
    python experiments/gan_variants.py sel_layer --archs eqgan-sa --kimg 80 --evals 16 --parallel 2 --device cpu
    python experiments/gan_variants.py heat_encoder --archs eqgan-sa --kimg 80 --evals 16 --parallel 2 --device cpu

Every other argument is bench/gan.py's (``--run-root``, ``--pause-after-s``, ``--resume``, ``--quick``, ...).
"""
from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import gan as bench_gan
from gan_runs import Variant

from genlens.gan.networks import Generator, LayerSelBlock
from genlens.gan.spatial import HeatmapEncoder, alignment_loss, sample_official_heatmaps

HERE = Path(__file__).resolve().parent


def real_logit(logits: torch.Tensor) -> torch.Tensor:
    """Grad-CAM of the class "real": D's raw logit, summed (Selvaraju et al. 2017, eq. 1-2)."""
    return logits.sum()


VARIANTS = {
    "align_real": Variant("align_real", alignment=partial(alignment_loss, cam_score=real_logit)),
    "sel_layer": Variant("sel_layer", make_generator=partial(Generator, block=LayerSelBlock)),
    "heat_encoder": Variant("heat_encoder", make_generator=partial(Generator, heat_encoder=HeatmapEncoder,
                                                                     heat_sampler=sample_official_heatmaps)),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in VARIANTS:
        raise SystemExit(f"usage: gan_variants.py {{{','.join(VARIANTS)}}} [bench/gan.py arguments]")
    name, rest = argv[0], argv[1:]
    return bench_gan.main(rest, variant=VARIANTS[name], script=f"experiments/gan_variants.py {name}",
                          out=str(HERE / f"gan_{name}.json"), description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
