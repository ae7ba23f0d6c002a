"""bench/diffusion_eval_table.py: README tables come from the eval files and only from them."""
from __future__ import annotations

import json


def _metric(value, n, std=None):
    return {"value": value, "n_fake": n, "std": std}


def test_renders_the_numbers_of_the_files_and_replaces_only_between_markers(tmp_path, bench_script):
    mod = bench_script("diffusion_eval_table")
    ev = {"accuracy": 0.912, "fid": _metric(1.234, 2000), "kid": _metric(0.0123, 2000, 0.001), "n": 2000,
          "guidance": 3.0, "sampler": "ddim", "steps": 20}
    cls = {"model": "x/fmnist-ddpm", "class_eval": ev,
           "reference": {"fid_test_halves": _metric(0.064, 5000), "fid_real_n": _metric(0.06, 2000)},
           "guidance_sweep": [{"guidance": 0.0, "fid": 9.5, "accuracy": 0.1, "n": 200, "judge": "fmnist-cnn"},
                              {"guidance": 3.0, "fid": 7.25, "accuracy": 0.9, "n": 200, "judge": "fmnist-cnn"}],
           "fast_vs_full": {"fast": ["ddim", 20], "full": ["ddpm", 1000], "n": 64, "ratio": 1.1, "speedup": 48.0}}
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "eval.json").write_text(json.dumps(cls))
    body = mod.render(tmp_path)
    assert "| 91.2 % | 2000 | ≥ 90 % |" in body and "| 1.234 | 2000 | ≤ 0.192 (3 × test halves) |" in body
    assert "| FID | 9.50 | 7.25 |" in body and "1.10 (target ≤ 1.2), 48× faster" in body
    assert "paraphrase" not in body  # no text eval file, no text rows
    cls["fast_vs_full_by_sampler"] = [cls["fast_vs_full"], {"fast": ["dpm++", 20], "full": ["ddpm", 1000], "n": 64,
                                                             "ratio": 0.95, "speedup": 47.0}]
    (tmp_path / "class" / "eval.json").write_text(json.dumps(cls))
    body = mod.render(tmp_path)
    assert "DDIM-20 / DDPM-1000 FID at n=64: 1.10 (target ≤ 1.2)" in body
    assert "DPM++-20 / DDPM-1000 FID at n=64: 0.95, 47× faster." in body
    readme = tmp_path / "README.md"
    readme.write_text("before\n<!-- diffusion:start -->\nold\n<!-- diffusion:end -->\nafter\n")
    assert mod.main(["--results", str(tmp_path), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "old" not in text and "91.2 %" in text


def test_anchored_and_plain_prompt_rows_say_how_the_prompts_were_conditioned(tmp_path, bench_script):
    mod = bench_script("diffusion_eval_table")
    ev = {"accuracy": 0.95, "fid": _metric(1.5, 200), "n": 200, "guidance": 3.0, "sampler": "ddim", "steps": 20}
    prompts = {"accuracy": 0.7912, "n": 400, "guidance": 3.0, "sampler": "ddim", "steps": 20,
               "anchors": {"k": 8, "prompt_weight": 0.0}}
    for folder, p in (("text", prompts), ("text-plain", {**prompts, "accuracy": 0.623, "anchors": {"k": 0}})):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "eval.json").write_text(json.dumps({"model": "x/fmnist-ddpm-text", "class_eval": ev,
                                                                  "prompts": p}))
    (tmp_path / "validation").mkdir()
    (tmp_path / "validation" / "eval.json").write_text(json.dumps({
        "model": "x/fmnist-ddpm-text", "class_eval": ev, "prompts": {**prompts, "accuracy": 0.795, "n": 200,
                                                                     "prompt_set": "validation"}}))
    body = mod.render(tmp_path)
    assert "| second held-out set (validation), `fmnist-ddpm-text`, s=3, DDIM 20, 8 nearest training captions " \
           "| 79.5 % | 200 |" in body
    assert "s=3, DDIM 20, 8 nearest training captions | 79.1 % | 400 | ≥ 75 % |" in body
    assert "s=3, DDIM 20, prompt alone | 62.3 % | 400 | ≥ 75 % |" in body


def test_rows_say_when_guidance_was_limited_to_an_interval(tmp_path, bench_script):
    mod = bench_script("diffusion_eval_table")
    ev = {"accuracy": 0.98, "fid": _metric(0.6, 2000), "kid": _metric(0.003, 2000, 0.001), "n": 2000,
          "guidance": 3.0, "sampler": "ddim", "steps": 20, "guidance_interval": [150, 600]}
    sweep = [{"guidance": 3.0, "fid": 0.7, "accuracy": 0.98, "n": 200, "guidance_interval": [150, 600]}]
    steps = [{"sampler": "ddim", "steps": 20, "n": 200, "fid": 0.7, "accuracy": 0.98, "seconds": 9,
              "guidance": 3.0, "guidance_interval": [150, 600]}]
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "eval.json").write_text(json.dumps({"model": "x/fmnist-ddpm", "class_eval": ev,
                                                              "guidance_sweep": sweep, "steps_sweep": steps}))
    body = mod.render(tmp_path)
    assert "| FID, s=3 guided at t 150–600, DDIM 20 | 0.6 | 2000 |" in body
    assert "every s, guided at t 150–600)" in body and "Steps sweep (s=3, guided at t 150–600)" in body
    ev.pop("guidance_interval")
    (tmp_path / "class" / "eval.json").write_text(json.dumps({"model": "x/fmnist-ddpm", "class_eval": ev}))
    assert "guided" not in mod.render(tmp_path)


def test_rows_name_the_autoguidance_guide_and_its_weight(tmp_path, bench_script):
    mod = bench_script("diffusion_eval_table")
    ev = {"accuracy": 0.97, "fid": _metric(0.3, 2000), "kid": _metric(0.002, 2000, 0.001), "n": 2000,
          "guidance": 3.0, "sampler": "ddim", "steps": 20, "guidance_interval": [150, 600]}
    sweep = [{"guidance": 3.0, "fid": 0.4, "accuracy": 0.97, "n": 200, "guidance_interval": [150, 600]}]
    run = {"model": "x/fmnist-ddpm", "class_eval": ev, "guidance_sweep": sweep,
           "guide_model": "w/fmnist-ddpm-guide", "guide_weight": 2.0, "guide_interval": None}
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "eval.json").write_text(json.dumps(run))
    body = mod.render(tmp_path)
    assert "| FID, s=3 guided at t 150–600, autoguided by `fmnist-ddpm-guide` (w=2), DDIM 20 | 0.3 | 2000 |" in body
    assert "guided at t 150–600, autoguided by `fmnist-ddpm-guide` (w=2)):" in body  # the sweep heading too
    run["guide_model"] = None
    (tmp_path / "class" / "eval.json").write_text(json.dumps(run))
    assert "autoguided" not in mod.render(tmp_path)


def test_rows_name_a_timestep_spacing_other_than_the_default(tmp_path, bench_script):
    mod = bench_script("diffusion_eval_table")
    ev = {"accuracy": 0.95, "fid": _metric(0.19, 2000), "kid": _metric(0.001, 2000, 0.001), "n": 2000,
          "guidance": 3.0, "sampler": "ddim", "steps": 20, "timestep_spacing": "power:1.5"}
    sweep = [{"guidance": 3.0, "fid": 0.5, "accuracy": 0.95, "n": 200, "timestep_spacing": "power:1.5"}]
    steps = [{"sampler": "ddim", "steps": 20, "n": 200, "fid": 0.5, "accuracy": 0.95, "seconds": 9, "guidance": 3.0,
              "timestep_spacing": "power:1.5"}]
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "eval.json").write_text(json.dumps({"model": "x/fmnist-ddpm", "class_eval": ev,
                                                              "guidance_sweep": sweep, "steps_sweep": steps}))
    body = mod.render(tmp_path)
    assert "| FID, s=3, DDIM 20 (timesteps power:1.5) | 0.19 | 2000 |" in body
    assert "DDIM 20 (timesteps power:1.5), the same initial noise" in body and "spaced power:1.5):" in body
    for row in (ev, sweep[0], steps[0]):
        row["timestep_spacing"] = "leading"
    (tmp_path / "class" / "eval.json").write_text(json.dumps({"model": "x/fmnist-ddpm", "class_eval": ev,
                                                              "guidance_sweep": sweep, "steps_sweep": steps}))
    assert "power" not in mod.render(tmp_path) and "leading" not in mod.render(tmp_path)
