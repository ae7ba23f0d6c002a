"""bench/prompts_evaluator.py: pre-registered runs of the CLI, summarised over seeds with intervals."""
from __future__ import annotations


def _eval(acc: float, per_prompt: list[float]) -> dict:
    return {"prompts": {"accuracy": acc, "judge": "genlens-eval", "anchors": {"caption_round": 1},
                        "accuracy_interval": {"estimate": acc, "low": acc - 0.1, "high": acc + 0.1},
                        "per_prompt": [{"accuracy": a} for a in per_prompt]}}


def test_commands_name_the_registered_protocol(bench_script) -> None:
    bench = bench_script("prompts_evaluator")
    cmd = bench.command("validation", 2)
    c = bench.CONFIG
    assert cmd[:4] == ["genlens", "diffusion", "eval", c["model"]]
    for flag, value in (("--prompt-set", "validation"), ("--seed", "2"), ("--judge", "genlens-eval"),
                        ("--anchors", str(c["anchors"])), ("--k", str(c["k"]))):
        assert cmd[cmd.index(flag) + 1] == value
    assert cmd[cmd.index("--out") + 1].endswith("prompts-validation/seed2")


def test_summary_and_table(bench_script) -> None:
    bench = bench_script("prompts_evaluator")
    sets = bench.summarize({"validation": [_eval(a, [a, a]) for a in (0.6, 0.7, 0.65)]})
    v = sets["validation"]
    assert v["per_seed"] == [0.6, 0.7, 0.65] and abs(v["interval"]["estimate"] - 0.65) < 1e-12
    assert v["interval"]["low"] < 0.65 < v["interval"]["high"] and v["prompts"] == 2 and v["caption_round"] == 1
    text = bench.table({"config": bench.CONFIG, "sets": sets})
    assert "| validation (headline) | 2 | 65.0 [" in text and "60.0 / 70.0 / 65.0" in text
