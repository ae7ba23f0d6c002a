"""Renamed flags: rewritten for their command only, with one notice line."""
from __future__ import annotations

import pytest

from genlens.cli import renamed
from genlens.cli.main import app


@pytest.fixture
def table(monkeypatch):
    monkeypatch.setattr(renamed, "RENAMED", {("gan train", "--batch-size"): "--batch", ("metrics", "--extractor"): "--features"})


def test_rewrites_only_in_its_command(table):
    notes = []
    assert renamed.rename_flags(["gan", "train", "--batch-size", "8"], warn=notes.append) == ["gan", "train", "--batch", "8"]
    assert renamed.rename_flags(["gan", "train", "--batch-size=8"], warn=notes.append) == ["gan", "train", "--batch=8"]
    assert renamed.rename_flags(["metrics", "fid", "a", "b", "--extractor", "x"], warn=notes.append)[-2] == "--features"
    assert renamed.rename_flags(["gan", "sample", "--batch-size", "8"], warn=notes.append)[2] == "--batch-size"
    assert len(notes) == 3 and all("\n" not in n and "renamed" in n for n in notes)


def test_every_new_name_exists_and_no_old_name_is_still_live():
    """Each entry's new flag is an option of its command, and its old flag is no longer one."""
    import typer.main

    group = typer.main.get_command(app)
    for (path, old), new in renamed.RENAMED.items():
        cmd = group
        for word in path.split():
            cmd = cmd.commands[word]
        commands = cmd.commands.values() if hasattr(cmd, "commands") else [cmd]
        opts = [set(o for p in c.params for o in p.opts) for c in commands]
        assert any(new in o for o in opts), (path, new)
        assert not any(old in o for o in opts), (path, old)


def test_an_old_spelling_still_works_with_a_note(cli, tmp_path, monkeypatch):
    """``data download --dest`` (now ``--out``) still reaches the command, with one notice line."""
    import genlens.data.fashion_mnist as fm

    seen = []
    monkeypatch.setattr(fm, "download_fashion_mnist", lambda dest: seen.append(dest) or dest)
    code, _, err = cli(["data", "download", "--dest", tmp_path])
    assert code == 0, err
    assert seen == [tmp_path]
    assert "--dest is renamed --out" in err
