"""``genlens diffusion train --resume``: the model folder's manifest keeps the whole run's loss history."""
import json

import genlens.diffusion.train as diffusion_train


def test_resumed_run_manifest_covers_every_step(run, tiny_fmnist, tmp_path, monkeypatch):
    data = tiny_fmnist(n_train=16, n_test=8)
    out = tmp_path / "trained"
    args = ["train", "--cond", "class", "--steps", "4", "--batch", "4", "--tiny", "--device", "cpu",
            "--data-dir", data, "--out", out, "--json"]
    loop_train = diffusion_train.train
    with monkeypatch.context() as patch:  # the first call stops after step 2, as an interrupted run does
        patch.setattr(diffusion_train, "train", lambda **kw: loop_train(**{**kw, "stop_at_step": 2}))
        code, _, err = run(args)
    assert code == 0, err
    first = json.loads((out / "manifest.json").read_text())["metrics"]["history"]
    assert [h["step"] for h in first] == [1, 2]
    code, _, err = run([*args, "--resume"])
    assert code == 0, err
    metrics = json.loads((out / "manifest.json").read_text())["metrics"]
    assert [h["step"] for h in metrics["history"]] == [1, 2, 3, 4]
    assert metrics["history"][:2] == first and metrics["final_loss"] == metrics["history"][-1]["loss"]
