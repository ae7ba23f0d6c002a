"""``genlens models list``: every shipped model, as a table or one JSON object."""
from __future__ import annotations

import json


def test_models_list_json_has_every_kind(cli):
    code, out, err = cli(["models", "list", "--json"])
    assert code == 0, err
    rows = json.loads(out)["models"]
    assert {"classifier", "clip", "gan", "diffusion-class", "diffusion-text"} <= {r["kind"] for r in rows}
    assert all({"name", "kind", "task", "metric", "value"} <= r.keys() for r in rows)
    assert next(r for r in rows if r["name"] == "fmnist-cnn")["value"] > 0.9


def test_models_list_table(cli):
    code, out, _ = cli(["models", "list"])
    assert code == 0
    assert "fmnist-clip" in out and "fmnist-eqgan" in out and "%" in out
