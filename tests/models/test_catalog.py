"""``shipped_models``: one row per shipped folder of any kind, read from config.json and manifest.json."""
from __future__ import annotations

import json

from genlens.models.catalog import WEIGHTS_ROOT, headline, shipped_models


def test_lists_every_shipped_folder_with_its_kind():
    rows = shipped_models()
    folders = sorted(p.name for p in WEIGHTS_ROOT.iterdir() if (p / "config.json").is_file())
    assert sorted(r.name for r in rows) == folders
    kinds = {r.name: r.kind for r in rows}
    assert kinds["fmnist-cnn"] == "classifier" and kinds["fmnist-clip"] == "clip"
    assert kinds["fmnist-gan"] == "gan" and kinds["fmnist-ddpm-text"] == "diffusion-text"
    by_name = {r.name: r for r in rows}
    cnn = json.loads((WEIGHTS_ROOT / "fmnist-cnn" / "manifest.json").read_text())["metrics"]["top1"]
    assert by_name["fmnist-cnn"].value == cnn and by_name["fmnist-cnn"].metric == "test top-1"
    assert by_name["fmnist-gan"].metric.startswith("FID")
    assert "guide" in by_name["fmnist-ddpm-guide"].task  # the manifest's role names the task


def test_headline_order_and_unknown_kinds(tmp_path):
    assert headline({"top1": 0.9, "fid": {"value": 3.0}}) == ("test top-1", 0.9)
    assert headline({"headline": {"metric": "judged accuracy", "value": 0.95}, "top1": 0.9}) == ("judged accuracy", 0.95)
    assert headline({"fid": {"value": 2.5, "extractor": "genlens-eval", "n_fake": 2000}}) == (
        "FID genlens-eval n=2000", 2.5)
    assert headline({}) == (None, None) and headline(None) == (None, None)
    (tmp_path / "new-thing").mkdir()
    (tmp_path / "new-thing" / "config.json").write_text(json.dumps({"kind": "locator"}))
    (tmp_path / "old-cnn").mkdir()
    (tmp_path / "old-cnn" / "config.json").write_text(json.dumps({"name": "old-cnn"}))
    (tmp_path / "old-cnn" / "manifest.json").write_text(json.dumps({"metrics": {"top1": 0.5}}))
    (tmp_path / "not-a-model").mkdir()
    rows = {r.name: r for r in shipped_models(tmp_path)}
    assert set(rows) == {"new-thing", "old-cnn"}
    assert rows["new-thing"].task == "locator" and rows["new-thing"].value is None
    assert rows["old-cnn"].kind == "classifier" and rows["old-cnn"].value == 0.5


def test_public_api_mirrors_the_cli():
    import genlens

    assert [r.name for r in genlens.shipped_models()] == [r.name for r in shipped_models()]
    assert len(genlens.load_data("digits:test", limit=3)) == 3
