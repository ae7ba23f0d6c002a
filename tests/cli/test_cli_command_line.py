"""The command recorded in manifests and run.json: the entry point's argv, or, in-process without it (typer's
test runner, notebooks), the command rebuilt from the click context rather than the host's sys.argv."""
from __future__ import annotations

import typer
from typer.testing import CliRunner

from genlens.cli.common import command_line, invocation

probe = typer.Typer()
seen: list[str] = []


@probe.command()
def train(folder: str, steps: int = typer.Option(10, "--steps"), lr: float = typer.Option(1e-3, "--lr"),
          resume: bool = typer.Option(False, "--resume/--no-resume"), tag: list[str] = typer.Option([], "--tag")) -> None:
    seen.append(command_line())


@probe.command()
def other() -> None:
    seen.append(command_line())


def test_rebuilt_from_the_click_context_without_the_entry_point():
    seen.clear()
    res = CliRunner().invoke(probe, ["train", "runs/a b", "--steps", "20", "--resume", "--tag", "x", "--tag", "y"])
    assert res.exit_code == 0, res.output
    # defaults (--lr) are left out; the path with a space is quoted; pytest's own argv appears nowhere
    assert seen == ["genlens train 'runs/a b' --steps 20 --resume --tag x --tag y"]


def test_the_entry_points_argv_wins_and_is_forgotten_afterwards():
    seen.clear()
    with invocation(["diffusion", "train", "--steps", "5"]):
        assert command_line() == "genlens diffusion train --steps 5"
    CliRunner().invoke(probe, ["other"])
    assert seen == ["genlens other"]
