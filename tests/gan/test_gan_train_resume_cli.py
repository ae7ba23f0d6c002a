"""``genlens gan train --resume``: a finished run is a note and changes nothing; a longer run keeps its history."""
from __future__ import annotations

import json
import subprocess
import sys

import genlens.gan.data
from genlens.utils.io import sha256_file

HOLD = """
import sys, time
from genlens.training.lock import run_lock
with run_lock(sys.argv[1], command="genlens gan train"):
    print("held", flush=True)
    time.sleep(60)
"""


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


def test_a_held_run_folder_is_refused_before_any_work(tmp_path, cli, monkeypatch):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        monkeypatch.setattr(genlens.gan.data, "load_gan_data", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
        code, _, err = cli(["gan", "train", "--tiny", "--steps", "1", "--run-dir", run_dir, "--device", "cpu"])
    finally:
        proc.kill()
        proc.wait()
    assert code == 2 and "in use by" in err and len(err.strip().splitlines()) == 1, err
    assert list(run_dir.iterdir()) == []
