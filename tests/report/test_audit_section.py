"""The tour's audit section from a tiny fake ``audit.json``: counts, per-model rows, trigger grids copied, the
sweep plots drawn; and the note naming the command when the file (or one part of it) is missing."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from genlens.report.audit_section import COMMAND, section_audit

NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def _ctx(tmp_path: Path, results: Path | None) -> SimpleNamespace:
    return SimpleNamespace(out=tmp_path / "tour", results=results, numbers={})


def _png(path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (30, 10), 128).save(path)


def _model(index: int, clean: bool, flagged: list[int], target: int | None) -> dict:
    return {"index": index, "clean": clean, "trigger": {"kind": "patch", "size": 4}, "target": target,
            "clean_accuracy": 0.9123, "attack_success": None if clean else 0.987, "flagged_l1": [],
            "flagged_log": flagged, "audit_cpu_seconds": 31.0, "pii_trigger_success": [0.5] * 10,
            "grid_png": f"audit/{'clean' if clean else 'bd'}-{index}.png"}


def _fake(results: Path, *, sweep: bool = True) -> None:
    strengths = [0.0, 0.3]
    result = {
        "smoke": False, "class_names": NAMES, "environment": {"date": "2026-12-07T03:00:00+00:00"},
        "config": {"sweep": {"aug": "random-crop", "strengths": strengths, "seeds": [0, 1, 2], "epochs": 3}},
        "backdoor": {"models": [_model(0, False, [3], 3), _model(0, True, [], None)],
                     "summary": {"l1": {"backdoored_target_flagged": 0, "backdoored": 1, "clean_flagged": 0, "clean": 1},
                                 "log": {"backdoored_target_flagged": 1, "backdoored": 1, "clean_flagged": 0,
                                         "clean": 1}},
                     "audit_cpu_seconds_max": 31.0},
    }
    if sweep:
        result["sweep"] = {
            "summary": {n: [{"strength": s, "mean": 0.9 - 0.1 * s * (k == 6), "ci": [0.85, 0.95], "n_seeds": 3}
                            for s in strengths] for k, n in enumerate(NAMES)},
            "change_first_to_last": {n: {"mean_change": -0.04 if n == "Shirt" else 0.0,
                                         "ci": [-0.06, -0.02] if n == "Shirt" else [-0.01, 0.01]} for n in NAMES},
            "losing_classes": ["Shirt"], "gaining_classes": [], "mean_top1": {"0.0": 0.91, "0.3": 0.915},
            "cpu_hours": 1.25}
    (results / "audit.json").write_text(json.dumps(result, sort_keys=True))  # as atomic_write_json may write it
    _png(results / "audit" / "bd-0.png")
    _png(results / "audit" / "clean-0.png")


def test_section_reads_the_result_file(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    _fake(results)
    ctx = _ctx(tmp_path, results)
    html = section_audit(ctx)
    assert "1 of 1" in html and "0 of 1" in html  # planted target flagged / clean flagged, per scale
    assert "98.7%" in html and "91.23%" in html and "Dress" in html
    assert (ctx.out / "audit" / "bd-0.png").is_file() and 'src="audit/bd-0.png"' in html
    assert 'src="audit/clean-0.png"' not in html  # only planted models' triggers are shown as figures
    assert "PII of the target as a trigger: 50%" in html
    assert (ctx.out / "audit" / "sweep.png").stat().st_size > 1000
    assert (ctx.out / "audit" / "change.png").stat().st_size > 1000
    assert html.index("<td>T-shirt/top</td>") < html.index("<td>Ankle boot</td>")  # class order, not sorted keys
    assert "<b>Shirt</b>" in html and "1.25 CPU-hours" in html and "[-6.0, -2.0]" in html
    assert ctx.numbers["audit_sweep"]["losing_classes"] == ["Shirt"]
    assert ctx.numbers["audit_backdoor"]["summary"]["log"]["backdoored_target_flagged"] == 1
    assert "undetectable" in html


def test_a_missing_part_names_its_command(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    _fake(results, sweep=False)
    html = section_audit(_ctx(tmp_path, results))
    assert "1 of 1" in html
    assert COMMAND.format(part="sweep") in html and COMMAND.format(part="backdoor") not in html


def test_no_result_file_names_the_commands(tmp_path):
    html = section_audit(_ctx(tmp_path, tmp_path))
    assert COMMAND.format(part="backdoor") in html and COMMAND.format(part="sweep") in html
    assert "--results bench/results" in section_audit(_ctx(tmp_path, None))
