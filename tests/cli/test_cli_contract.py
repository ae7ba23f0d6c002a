"""The CLI contract, walked from the typer app: every command, every option, a battery of bad values.

Each bad value must give exit 2, nothing on stdout and exactly one line on stderr, never a traceback. The
commands run in-process in validate-only mode (``GENLENS_VALIDATE_ONLY=1``), so they stop right after the
checks of :mod:`genlens.cli.validate` and a valid but huge value never starts work. Which values an option
legitimately accepts (``--seed 0``, ``--anchors 0``) is declared in ``validate.RULES``, not here; a new
option is covered without anyone writing a test for it.
"""
from __future__ import annotations

import math
import os
import stat

import pytest
import typer.main
from PIL import Image

from genlens.cli import validate
from genlens.cli.main import app

ROOT = typer.main.get_command(app)


def _leaves(group, prefix=""):
    for name, cmd in group.commands.items():
        path = f"{prefix} {name}".strip()
        if hasattr(cmd, "commands"):
            yield from _leaves(cmd, path)
        else:
            yield path, cmd


LEAVES = dict(_leaves(ROOT))


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Valid and invalid things to point at; the working folder is a scratch folder (default --out)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv(validate.VALIDATE_ONLY_ENV, "1")
    monkeypatch.delenv("GENLENS_DATA", raising=False)
    image = tmp_path / "image.png"
    Image.new("L", (28, 28)).save(image)
    full = tmp_path / "full"
    full.mkdir()
    (full / "x.txt").write_text("x")
    empty = tmp_path / "empty"
    empty.mkdir()
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    readonly.chmod(stat.S_IRUSR | stat.S_IXUSR)
    yield {"image": image, "full": full, "empty": empty, "readonly": readonly, "tmp": tmp_path}
    readonly.chmod(stat.S_IRWXU)


def _valid(rule, places) -> str:
    return {"out": str(places["tmp"] / "out"), "in_dir": str(places["full"]), "in_file": str(places["image"]),
            "in_path": str(places["image"]), "count": str(max(1, int(rule.lo or 1))),
            "number": str(_valid_number(rule)), "text": "fmnist-cnn", "device": "cpu"}[rule.kind]


def _valid_number(rule) -> float:
    for x in (0.5, 1.0, 0.0, 2.0, 3.0):
        if rule.accepts_number(x):
            return x
    raise AssertionError(f"no simple valid value for {rule}")


def _bad(rule, param, places) -> list[str]:
    """The battery for one option, minus what its rule (or typer's own min/max) declares valid."""
    if rule.kind in ("count", "number"):
        numbers = ["0", "-3", "nan", "inf", "-inf", "1e30"] + (["1e12"] if rule.kind == "count" else [])
        bad = [v for v in numbers if not (rule.accepts_number(float(v)) and _within_typer(param, float(v)))]
        return bad + ["", "abc"] + (["2.5"] if rule.kind == "count" else [])
    if rule.kind in ("text", "device"):
        return ["", "   ", "a\x01b", "bell\x07"] + (["gpu", "cuda:x"] if rule.kind == "device" else [])
    readonly, image = str(places["readonly"]), str(places["image"])
    if rule.kind == "out":
        return ["", image, "/dev/null", readonly, os.path.join(readonly, "sub"), os.path.join(image, "sub")]
    missing = str(places["tmp"] / "missing")
    if rule.kind == "in_dir":
        return ["", missing, image, str(places["empty"]), "/dev/null"]
    if rule.kind == "in_file":
        return ["", missing, "..", str(places["full"])]
    return ["", missing]


def _within_typer(param, x: float) -> bool:
    lo, hi = getattr(param, "min", None), getattr(param, "max", None)
    return math.isfinite(x) and (lo is None or x >= lo) and (hi is None or x <= hi) and (
        _annotation(param) is not int or float(x).is_integer())


def _annotation(param):
    return validate._base_type(param)


def _base_args(path, cmd, places) -> tuple[list[str], dict[str, int]]:
    """A valid command line for ``path``: its required arguments and options; where each argument sits."""
    args, where = [], {}
    for param in cmd.params:
        if param.param_type_name == "argument" and (param.required or param.default is None):
            rule = validate.rule_for(path, param)
            if rule is None or rule.kind == "any":
                continue
            where[param.name] = len(args)
            args += [_valid(rule, places)] * (2 if param.nargs == -1 else 1)
    for param in cmd.params:
        if param.param_type_name == "option" and param.required:
            args += [param.opts[0], _valid(validate.rule_for(path, param), places)]
    return args, where


def _run(capsys, args: list[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        ROOT.main(args=args, prog_name="genlens")
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


@pytest.mark.parametrize("path", list(LEAVES))
def test_every_option_refuses_bad_values_in_one_line(path, places, capsys):
    cmd = LEAVES[path]
    base, where = _base_args(path, cmd, places)
    code, out, err = _run(capsys, [*path.split(), *base])
    assert (code, out) == (0, ""), f"the valid line {base} fails: {err}"
    failures = []
    for param in cmd.params:
        rule = validate.rule_for(path, param)
        if rule is None:
            continue
        for bad in _bad(rule, param, places):
            if param.param_type_name == "argument":
                if param.name not in where:
                    continue
                args = list(base)
                args[where[param.name]] = bad
            else:
                args = [*base, param.opts[0], bad]
            code, out, err = _run(capsys, [*path.split(), *args])
            one_line = err.count("\n") == 1 and err.startswith("genlens: error: ") and "Traceback" not in err
            if code != 2 or out or not one_line:
                failures.append(f"{param.opts[0] if param.opts else param.name} {bad!r}: exit {code}, "
                                f"stdout {out[:60]!r}, stderr {err[:200]!r}")
    assert not failures, f"genlens {path}:\n" + "\n".join(failures)


@pytest.mark.parametrize("path", list(LEAVES))
def test_every_path_option_is_declared(path):
    """A path option must say whether it is written (``out``) or read (``in_dir``/``in_file``/``in_path``)."""
    for param in LEAVES[path].params:
        rule = validate.rule_for(path, param)
        assert rule is None or rule.kind != "any", f"declare {param.opts} of '{path}' in validate.RULES"


def test_usage_errors_are_one_line_from_the_entry_point(cli):
    for args in (["cam", "fmnist-cnn", "x.png", "--alpha", "2"], ["cam"], ["nosuch"], ["--bogus"],
                 ["zoo", "eval", "fmnist-cnn", "--limit", "x"]):
        code, out, err = cli(args)
        assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("genlens: error: "), (args, err)


def test_validate_only_does_no_work(cli, tmp_path, monkeypatch):
    """A valid but huge request stops after the checks: nothing is written."""
    monkeypatch.setenv(validate.VALIDATE_ONLY_ENV, "1")
    out = tmp_path / "never"
    code, stdout, err = cli(["data", "show", "--n", "100000", "--out", str(out / "grid.png")])
    assert code == 0 and stdout == "" and not out.exists(), err


def test_rules_name_real_options():
    """Every key of the table names an option or argument that exists (a renamed flag updates the table)."""
    names = {o for _, c in LEAVES.items() for p in c.params for o in p.opts}
    scoped = {f"{path} {o}" for path, c in LEAVES.items() for p in c.params for o in (*p.opts, p.name)}
    for key in validate.RULES:
        assert key in names or key in scoped, key


def test_count_of_checked_cases_is_large():
    """The walk is not vacuous: it sees every command group and hundreds of options."""
    assert {p.split()[0] for p in LEAVES} >= {"zoo", "data", "metrics", "gan", "diffusion", "cam", "invert"}
    assert sum(len(c.params) for c in LEAVES.values()) > 150


def test_stray_library_errors_become_one_line(cli, monkeypatch, tmp_path):
    """A file-system error, a refused unpickling or invalid JSON from deep in a command: one line, exit 2."""
    import json
    import pickle

    import genlens.models.load as load

    for exc in (PermissionError(13, "Permission denied", str(tmp_path / "x")), pickle.UnpicklingError("Weights only load failed"),
                json.JSONDecodeError("Expecting value", "{", 1)):
        def boom(*_a, exc=exc, **_k):
            raise exc

        monkeypatch.setattr(load, "load_model", boom)
        code, out, err = cli(["dead", "fmnist-cnn", "--out", str(tmp_path / "o")])
        assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("genlens: error: "), err


def test_typer_runner_gets_the_same_one_line():
    """In-process through typer's own test runner (not genlens.cli.main.main): same line, same exit code."""
    from typer.testing import CliRunner

    for args in (["cam"], ["data", "show", "--n", "-3"], ["gan", "sample", "x", "--n", "0"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2 and result.stderr.count("\n") == 1, (args, result.stderr)
        assert result.stderr.startswith("genlens: error: ") and result.stdout == ""


@pytest.mark.parametrize("args", [
    ["diffusion", "sample", "fmnist-ddpm", "--class", "Sneaker"],
    ["diffusion", "eval", "fmnist-ddpm"],
    ["gan", "sample", "fmnist-eqgan"],
    ["cam", "fmnist-cnn", "IMAGE"],
    ["invert", "fmnist-cnn", "--class", "Sneaker"],
], ids=" ".join)
def test_shipped_names_pass_the_edge(args, places, capsys):
    """A model argument is a shipped name or a folder: the edge must not demand that a name exist as a path."""
    args = [str(places["image"]) if a == "IMAGE" else a for a in args] + ["--out", str(places["tmp"] / "o")]
    code, _, err = _run(capsys, args)
    assert (code, err) == (0, ""), err
