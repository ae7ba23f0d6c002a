"""Every group and command explains itself with an example."""
from __future__ import annotations

import pytest
from typer.main import get_command

from genlens.cli.main import app


def _paths(cmd, prefix=()):
    yield prefix
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        if not getattr(sub, "hidden", False):
            yield from _paths(sub, (*prefix, name))


PATHS = list(_paths(get_command(app)))


def test_the_tree_has_the_expected_commands():
    assert {("zoo", "list"), ("zoo", "train"), ("zoo", "eval"), ("data", "info"), ("data", "download"),
            ("data", "show"), ("tour",)} <= set(PATHS)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "genlens")
def test_help_shows_an_example(cli, path):
    code, out, err = cli([*path, "--help"])
    assert code == 0, err
    assert "Example" in out
    assert "Usage" in out


def test_no_arguments_shows_help(cli):
    code, out, err = cli([])
    assert "Usage" in out + err
    assert code in (0, 2)  # click's no_args_is_help exits 0 on older, 2 on newer versions


def test_hidden_smoke_options_stay_hidden(cli):
    for path in (["zoo", "eval"], ["zoo", "train"]):
        code, out, _ = cli([*path, "--help"])
        assert code == 0 and "--limit" not in out
