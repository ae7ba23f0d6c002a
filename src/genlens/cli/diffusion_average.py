"""``genlens diffusion average``: a weight average ("model soup") of diffusion model folders."""
from __future__ import annotations

from pathlib import Path

import typer

from genlens.cli.common import JsonOpt, command_line, emit_json, err_console
from genlens.errors import GenlensError


def average_cmd(
    inputs: list[Path] = typer.Argument(..., help="Two or more diffusion model folders of one architecture, or "
                                        "EMA snapshots (.safetensors) of it; the first folder gives the config."),
    out: Path = typer.Option(..., "--out", help="Model folder to write (weights, config, manifest)."),
    weights: str | None = typer.Option(None, "--weights", help="Relative weights, comma-separated, one per input "
                                       "(default: equal)."),
    json_out: bool = JsonOpt,
) -> None:
    """Average the weights of models fine-tuned from a common start (a "model soup"; Wortsman et al. 2022) into a
    new model folder whose manifest records every input's sha256 and the command that made it. The first
    folder's recommended sampling settings are kept; re-measure them with `diffusion eval`.

    Example: genlens diffusion average runs/ddpm-a runs/ddpm-b --out runs/ddpm-soup
    """
    from genlens.diffusion.average import provenance, read_ingredient, soup
    from genlens.diffusion.unet import Denoiser, UNetConfig
    from genlens.models.weights_io import load_state_into, save_model_folder
    from genlens.utils.config_io import from_dict

    if len(inputs) < 2:
        raise GenlensError(f"averaging needs at least two inputs, got {len(inputs)}; pass two or more model folders")
    ws = [1.0] * len(inputs)
    if weights is not None:
        try:
            ws = [float(v) for v in weights.split(",")]
        except ValueError:
            raise GenlensError(f"--weights '{weights}' is not a comma-separated list of numbers, e.g. 1,1,2") from None
    if len(ws) != len(inputs):
        raise GenlensError(f"--weights has {len(ws)} values for {len(inputs)} inputs; give one per input")
    if out.resolve() in {Path(i).resolve() for i in inputs}:
        raise GenlensError(f"--out '{out}' is one of the inputs; write the average to a new folder")
    ingredients = [read_ingredient(p, weight=w) for p, w in zip(inputs, ws, strict=True)]
    state, config = soup(ingredients)
    model = Denoiser(from_dict(UNetConfig, config["unet"], where=f"'{inputs[0]}' unet"))
    load_state_into(model, state, what="the averaged weights", arch=config["kind"])
    sources = provenance(ingredients)
    save_model_folder(out, model, config=config, command=command_line(), metrics={},
                      dtype=next(iter(state.values())).dtype, extra={"soup": sources})
    result = {"out": str(out), "inputs": sources}
    if json_out:
        emit_json(result)
    else:
        err_console.print(f"wrote {out}: the average of {len(inputs)} models "
                          f"(weights {', '.join(format(s['weight'], '.2f') for s in sources)})")
