"""``genlens cam``: files, the one JSON object, one-line errors (on a local typer app)."""
from __future__ import annotations

import json

import pytest
import torch
import typer
from typer.testing import CliRunner

from genlens.cli.cam import cam
from genlens.errors import GenlensError
from genlens.utils.images import save_png


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Test root so that `cam` is a subcommand, as under `genlens`."""

    app.command("cam")(cam)
    return app


@pytest.fixture
def boot_png(tmp_path):
    img = torch.zeros(1, 28, 28)
    img[:, 8:24, 6:22] = 0.8  # a bright blob on black, like a Fashion-MNIST item
    return save_png(img, tmp_path / "item.png")


def test_cam_writes_files_and_one_json_object(app, boot_png, tmp_path):
    out = tmp_path / "cam"
    res = CliRunner().invoke(app, ["cam", "fmnist-cnn", str(boot_png), "--class", "Sneaker",
                                   "--out", str(out), "--device", "cpu", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["target"] == {"index": 7, "name": "Sneaker"} and data["layer"] == "stages.2"
    assert data["predicted"]["name"] in data["probabilities"]
    assert abs(sum(data["probabilities"].values()) - 1) < 1e-4
    for key in ("overlay", "heatmap", "run_json"):
        assert (tmp_path / "cam" / data["files"][key].split("/")[-1]).is_file()
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["model"] == "fmnist-cnn" and run["metrics"]["target"]["index"] == 7


@pytest.mark.parametrize(("args", "pattern"), [
    (["--class", "12"], "class index 12 is out of range"),
    (["--layer", "nope"], "has no layer 'nope'; top-level layers"),
])
def test_cam_errors_are_one_line(app, boot_png, tmp_path, args, pattern):
    res = CliRunner().invoke(app, ["cam", "fmnist-cnn", str(boot_png), "--out", str(tmp_path / "o"), *args])
    assert isinstance(res.exception, GenlensError) and pattern in str(res.exception)
    assert "\n" not in str(res.exception)
