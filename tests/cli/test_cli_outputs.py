"""Outputs named from user text stay inside --out, whatever the text."""
from __future__ import annotations

import pytest
import torch

from genlens.cli.common import safe_child, write_named_images
from genlens.errors import GenlensError

NASTY = ["..", ".", "../../escape", "a/../../b", "bell\x07\x1b[31m", "/etc/passwd", "C:\\x", "  "]


def test_named_images_stay_inside_out(tmp_path):
    out = tmp_path / "out"
    images = torch.rand(len(NASTY), 1, 4, 4)
    write_named_images(out, images, NASTY, n=1, upscale=1, grid_upscale=1)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(out in p.parents for p in written)
    assert all(all(ord(c) >= 32 for c in p.name) and not p.name.startswith(".") for p in out.rglob("*"))
    assert (out / "grid.png").is_file() and len([p for p in out.iterdir() if p.is_dir()]) == len(set(NASTY)) - 1


def test_safe_child_refuses_what_cannot_be_confined(tmp_path, monkeypatch):
    import genlens.utils.images as images

    assert safe_child(tmp_path, "..").parent == tmp_path
    monkeypatch.setattr(images, "safe_name", lambda name, **_: name)  # a broken sanitiser is still caught
    with pytest.raises(GenlensError, match="outside"):
        safe_child(tmp_path, "../x")


def test_emit_json_is_strict(capsys):
    import json

    from genlens.cli.common import emit_json

    emit_json({"fid": float("nan"), "curve": torch.tensor([1.0, float("inf")]), "ok": 2.5})
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and "NaN" not in line and "Infinity" not in line
    obj = json.loads(line, parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert obj["fid"] is None and obj["curve"] == [1.0, None] and obj["ok"] == 2.5
    assert set(obj["nulls"]) == {"fid", "curve[1]"} and "nan" in obj["nulls"]["fid"]


@pytest.mark.parametrize("args", [
    ["diffusion", "sample", "--prompt", "..", "--anchors", "0", "--n", "1", "--steps", "2"],
    ["invert", "clip", "--prompt", "../..", "--steps-scale", "0.01"],
], ids=["diffusion-sample", "invert-clip"])
def test_end_to_end_outputs_stay_inside_out(cli, tmp_path, args):
    out = tmp_path / "a" / "out"
    code, _, err = cli([*args, "--out", str(out), "--device", "cpu"])
    assert code == 0, err
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(out in p.parents for p in written), written
