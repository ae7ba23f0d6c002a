"""``genlens tour``: the HTML report of every capability on the embedded defaults."""
from __future__ import annotations

from pathlib import Path

import typer

from genlens.cli.common import DataDirOpt, DeviceOpt, SeedOpt, err_console


def tour(out: Path = typer.Option(Path("out/tour"), "--out", help="Folder for index.html and PNGs."),
         results: Path | None = typer.Option(None, "--results", help="Folder of benchmark result files to show "
                                             "(bench/results in a checkout); without it those parts show a note."),
         screenshots: Path | None = typer.Option(None, "--screenshots", help="Folder of explorer screenshots to "
                                                 "show (docs/explorer in a checkout; `genlens explore --screenshots "
                                                 "DIR` writes one)."),
         layout_gan: Path | None = typer.Option(None, "--layout-gan", help="A trained layout GAN folder for the "
                                                "Scenes section (`genlens gan train --arch layout --out DIR`); "
                                                "default: the shipped scenes-gan-layout when it is trained."),
         text_diffusion: Path | None = typer.Option(None, "--text-diffusion", help="A text diffusion folder for "
                                                    "the Diffusion section's prompt gallery (`genlens diffusion train "
                                                    "--cond text --out DIR`); a model of a captioned folder shows its "
                                                    "own captions. Default: the shipped fmnist-ddpm-text."),
         seed: int = SeedOpt, device: str = DeviceOpt, data_dir: Path = DataDirOpt,
         quick: bool = typer.Option(False, "--quick", help="Smaller sample counts (for tests).")) -> None:
    """Write the tour: out/tour/index.html with the data, the zoo and a section per capability.

    Example: genlens tour --out out/tour --results bench/results --screenshots docs/explorer
    """
    from genlens.report.tour import build_tour

    index = build_tour(out, seed=seed, device=device, data_dir=data_dir, results=results, quick=quick,
                       screenshots=screenshots, layout_gan=layout_gan,
                       text_diffusion=text_diffusion, log=lambda msg: err_console.print(msg))
    err_console.print(f"tour written -> {index}")
