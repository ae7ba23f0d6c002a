"""bench/audit.py at a size below its smoke size: the backdoor part scores planted and clean models."""
from __future__ import annotations

from dataclasses import replace


def test_backdoor_part_scores_planted_and_clean(bench_script, fmnist_dir):
    bench = bench_script("audit")
    config = replace(bench.SMOKE, n_backdoored=1, n_clean=1, plant_images=256, plant_limit_batches=1,
                     test_images=200, cleanse_steps=2, cleanse_images=10)
    lines = []
    part = bench.backdoor_part(config, lines.append)
    assert [r["clean"] for r in part["models"]] == [False, True]
    assert part["models"][0]["target"] == config.targets[0] and part["models"][1]["target"] is None
    for scale in ("l1", "log"):
        s = part["summary"][scale]
        assert s["backdoored"] == 1 and s["clean"] == 1
        assert s["backdoored_target_flagged"] == int(part["models"][0][f"correct_{scale}"])
    assert len(lines) == 2 and part["audit_cpu_seconds_max"] >= 0
