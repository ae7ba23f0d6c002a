"""``genlens metrics fid|kid|is|judge`` on image folders or .npz files."""
from __future__ import annotations

import typer

app = typer.Typer(help="Metrics on image folders or .npz files (filled in below).", no_args_is_help=True)
