"""``genlens gan train --resume``: a finished run is a note and changes nothing; a longer run keeps its history."""
from __future__ import annotations

import json

from genlens.utils.io import sha256_file


def _hashes(folder):
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_finished_run_is_a_note_and_resume_keeps_the_whole_history(fmnist_dir, tmp_path, cli):
    run_dir = tmp_path / "run"
    base = ["gan", "train", "--arch", "stylegan2", "--tiny", "--batch", "4", "--limit", "16", "--run-dir", run_dir,
            "--device", "cpu", "--json", "--data-dir", fmnist_dir]
    code, _, err = cli([*base, "--steps", "2"])
    assert code == 0, err
    before = _hashes(run_dir)
    assert any(k.startswith("model/") for k in before) and any("last" in k for k in before)

    code, out, err = cli([*base, "--steps", "2", "--resume"])
    lines = err.strip().splitlines()
    assert code == 0 and out == "" and len(lines) == 1, (code, out, err)
    assert lines[0].startswith("genlens: note:") and "already finished" in lines[0]
    assert _hashes(run_dir) == before  # model folder, checkpoints and run.json untouched

    code, _, err = cli([*base, "--steps", "4", "--resume"])
    assert code == 0, err
    metrics = json.loads((run_dir / "model" / "manifest.json").read_text())["metrics"]
    assert [s for s, _ in metrics["di_history"]] == [1, 2, 3, 4]
    assert metrics["steps"] == 4
