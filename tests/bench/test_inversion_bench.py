"""Smoke test of bench/inversion.py: a --quick run writes a well-formed result file, PNGs and a table."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_inversion_quick_writes_json(tmp_path):
    out = tmp_path / "inversion.json"
    cmd = [sys.executable, str(BENCH / "inversion.py"), "--quick", "--out", str(out)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=230)
    assert proc.returncode == 0, proc.stderr[-2000:]

    result = json.loads(out.read_text())
    cfg = result["config"]
    assert result["benchmark"] == "inversion" and cfg["quick"] is True
    assert cfg["archs"] == ["fmnist-cnn", "fmnist-mixer"]
    assert set(result["methods"]) == {"pii", "pii-paper", "deepdream", "deepinversion"}
    for key in ("torch", "cpu", "torch_threads", "date"):
        assert key in result["env"]

    for method, m in result["methods"].items():
        for arch in cfg["archs"]:
            r = m["per_arch"][arch]
            if method == "deepinversion" and arch != "fmnist-cnn":
                assert r["status"] == "n/a"  # no BatchNorm in the Mixer
                continue
            assert r["status"] == "ok" and r["images"] == 10
            # every method runs at the same step budget (rounding per stage aside)
            assert abs(r["steps"] - cfg["budget_steps"]) <= 3
            for k in ("cross_top1", "cross_top5", "own_top1"):
                assert 0.0 <= r[k] <= 1.0
            assert r["cross_top1"] <= r["cross_top5"]
            assert set(r["judges"]) == {"fmnist-cnn", "fmnist-vit", "fmnist-mixer", "fmnist-resmlp"}
            assert 1.0 <= r["inception_score"]["mean"] <= 10.0
            assert r["wall_s"] > 0 and r["images_per_cpu_s"] > 0
            assert (tmp_path / "inversion" / f"{method}_{arch}.png").stat().st_size > 0
        s = m["summary"]
        assert s["pairs"] == 3 * sum(m["per_arch"][a]["status"] == "ok" for a in cfg["archs"])
        assert 0.0 <= s["cross_top1_mean"] <= 1.0
    assert result["config"]["presets"]["pii-paper"]["ensemble"] == cfg["ensemble"]

    sys.path.insert(0, str(BENCH))
    try:
        from table import inversion_table
    finally:
        sys.path.remove(str(BENCH))
    table = inversion_table(result)
    assert "| pii | fmnist-cnn |" in table and "| deepinversion | fmnist-mixer | n/a" in table
