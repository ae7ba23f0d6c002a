"""Entry point: ``genlens`` (or ``python -m genlens.cli.main``). One typer app, one file per group."""
from __future__ import annotations

import sys

import typer

from genlens.cli import audit as audit_cmd
from genlens.cli import clip as clip_cmd
from genlens.cli import data as data_cmd
from genlens.cli import diffusion as diffusion_cmd
from genlens.cli import gan as gan_cmd
from genlens.cli import locator as locator_cmd
from genlens.cli import metrics as metrics_cmd
from genlens.cli import models as models_cmd
from genlens.cli import tour as tour_cmd
from genlens.cli import zoo as zoo_cmd
from genlens.cli.cam import cam as cam_cmd
from genlens.cli.dead import dead as dead_cmd
from genlens.cli.explore import explore as explore_cmd
from genlens.cli.invert import invert as invert_cmd
from genlens.cli.root import RootGroup
from genlens.cli.visualize import visualize as visualize_cmd

app = typer.Typer(
    name="genlens",
    cls=RootGroup,
    help="See what image models learned and make them generate.\n\n"
         "Examples:\n\n  genlens models list\n\n  genlens zoo list\n\n  genlens zoo eval fmnist-cnn --json\n\n"
         "  genlens metrics fid real_dir fake_dir\n\n  genlens tour --out out/tour",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(models_cmd.app, name="models")
app.add_typer(zoo_cmd.app, name="zoo")
app.add_typer(data_cmd.app, name="data")
app.add_typer(metrics_cmd.app, name="metrics")
app.add_typer(gan_cmd.app, name="gan")
app.add_typer(clip_cmd.app, name="clip")
app.add_typer(diffusion_cmd.app, name="diffusion")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(locator_cmd.app, name="locator")
app.command("tour")(tour_cmd.tour)
app.command("cam")(cam_cmd)
app.command("invert")(invert_cmd)
app.command("dead")(dead_cmd)
app.command("visualize")(visualize_cmd)
app.command("explore")(explore_cmd)


def main(argv: list[str] | None = None) -> None:
    """Run the app; a :class:`GenlensError` becomes one line on stderr and exit code 2."""
    from genlens.cli.common import invocation
    from genlens.errors import GenlensError

    try:
        with invocation(sys.argv[1:] if argv is None else argv):
            app(args=argv, prog_name="genlens")
    except GenlensError as exc:
        sys.stderr.write(f"genlens: error: {exc}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("genlens: interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
