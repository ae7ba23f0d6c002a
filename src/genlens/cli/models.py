"""``genlens models list``: every shipped model of every kind, its task and headline number."""
from __future__ import annotations

import typer

from genlens.cli.common import JsonOpt, emit_json

app = typer.Typer(help="The models genlens ships (classifiers, generators, the CLIP model, evaluators).\n\n"
                  "Examples:\n\n  genlens models list\n\n  genlens models list --json", no_args_is_help=True)


@app.command("list")
def list_models(json_out: bool = JsonOpt) -> None:
    """List every shipped model: name, kind, task and headline number from its manifest (--json adds a
    description and the folder).

    Example: genlens models list --json
    """
    from dataclasses import asdict

    from genlens.models.catalog import shipped_models

    rows = shipped_models()
    if json_out:
        emit_json({"models": [asdict(r) for r in rows]})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "kind", "task", "headline")
    for r in rows:
        number = "-" if r.value is None else (f"{r.metric} {100 * r.value:.2f}%" if "top-1" in (r.metric or "")
                                             else f"{r.metric} {r.value:.4g}")
        table.add_row(r.name, r.kind, r.task, number)
    Console().print(table)
