"""Smoke test of bench/inversion.py: a --quick run writes a well-formed result file, PNGs and a table.

The run happens once per module; the peers (lucent, torch-dreams) are in it when their libraries are
installed (``make bench``), and their test is skipped otherwise.
"""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
OURS = {"pii", "pii-paper", "deepdream", "deepinversion"}
PEER_MODULES = {"lucent": "lucent", "torch-dreams": "torch_dreams"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("bench") / "inversion.json"
    cmd = [sys.executable, str(BENCH / "inversion.py"), "--quick", "--threads", "1", "--out", str(out)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=230)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text()), out.parent




def _check_row(r: dict[str, Any], cfg: dict[str, Any]) -> None:
    assert r["status"] == "ok" and r["images"] == 10
    # every method runs at the same step budget (rounding per stage aside)
    assert abs(r["steps"] - cfg["budget_steps"]) <= 3
    for k in ("cross_top1", "cross_top5", "own_top1"):
        assert 0.0 <= r[k] <= 1.0
    assert r["cross_top1"] <= r["cross_top5"]
    assert set(r["judges"]) == {"fmnist-cnn", "fmnist-vit", "fmnist-mixer", "fmnist-resmlp"}
    assert 1.0 <= r["inception_score"]["mean"] <= 10.0
    assert r["wall_s"] > 0 and r["images_per_cpu_s"] > 0
    assert r["seeds"] == cfg["seeds"] and [s["seed"] for s in r["per_seed"]] == cfg["seeds"]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_inversion_quick_writes_json(quick_run, bench_script):
    result, out_dir = quick_run
    cfg = result["config"]
    assert result["benchmark"] == "inversion" and cfg["quick"] is True
    assert cfg["archs"] == ["fmnist-cnn", "fmnist-mixer"] and cfg["seeds"] == [0]
    installed = {p for p, mod in PEER_MODULES.items() if importlib.util.find_spec(mod) is not None}
    assert set(result["methods"]) == OURS | installed and set(cfg["peers"]) == installed
    for key in ("torch", "cpu", "torch_threads", "date"):
        assert key in result["env"]

    for method in OURS:
        m = result["methods"][method]
        assert m["peer"] is False
        for arch in cfg["archs"]:
            r = m["per_arch"][arch]
            if method == "deepinversion" and arch != "fmnist-cnn":
                assert r["status"] == "n/a"  # no BatchNorm in the Mixer
                continue
            _check_row(r, cfg)
            assert (out_dir / "inversion" / f"{method}_{arch}.png").stat().st_size > 0
        s = m["summary"]
        assert s["pairs"] == 3 * sum(m["per_arch"][a]["status"] == "ok" for a in cfg["archs"])
        assert 0.0 <= s["cross_top1_mean"] <= 1.0
    assert result["config"]["presets"]["pii-paper"]["ensemble"] == cfg["ensemble"]

    table = bench_script("table").inversion_table(result)
    assert "| pii | fmnist-cnn | 1 |" in table and "| deepinversion | fmnist-mixer | | n/a" in table


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_inversion_quick_includes_peers(request, bench_script):
    for mod in PEER_MODULES.values():
        pytest.importorskip(mod)
    result, out_dir = request.getfixturevalue("quick_run")
    cfg = result["config"]
    for peer in PEER_MODULES:
        m = result["methods"][peer]
        assert m["peer"] is True and cfg["presets"][peer]["steps"] == cfg["budget_steps"]
        for arch in cfg["archs"]:
            r = m["per_arch"][arch]
            _check_row(r, cfg)
            assert r["steps"] == cfg["budget_steps"]  # one model call per step, counted by the wrapper
            assert (out_dir / "inversion" / f"{peer}_{arch}.png").stat().st_size > 0
        assert m["summary"]["pairs"] == 3 * len(cfg["archs"])
    table = bench_script("table").inversion_table(result)
    for peer in PEER_MODULES:
        assert f"| {peer} | fmnist-cnn | 1 |" in table
        assert f"| **{peer}** | **mean of 6 pairs** |" in table
    peer_rows = [line for line in table.splitlines() if line.startswith(("| lucent", "| torch-dreams", "| **lucent",
                                                                          "| **torch-dreams"))]
    assert len(peer_rows) == 2 * (len(cfg["archs"]) + 1)
    assert all(re.search(r"\| \**\d+\.\d\dx\** \|", line) for line in peer_rows)  # "vs pii speed" on each
