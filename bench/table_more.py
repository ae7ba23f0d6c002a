"""The bench/README.md sections of the spatial (issue 27), audit (issue 33) and explorer (issue 31) benchmarks.

Each function renders one result file, as ``bench/table.py``'s :data:`TABLES` names it: numbers formatted from
the file, the pre-registered settings the file copies, its date and machine, and every verdict word the file
holds, unchanged (``met`` / ``at the bar`` / ``missed``; a boolean ``true`` / ``false`` as met / missed). Where a
file holds a target but no verdict, the target is printed beside the number and no verdict is made up.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

QUICK = "**Quick smoke run: not a real measurement.**"
SPATIAL_TARGETS = {"median_error_px": "error", "slope": "slope", "r2": "R²", "class_right": "class",
                   "count_right": "count"}  # result key -> short name in the "targets" column
EQGAN_COMMAND = ("python bench/spatial.py --generator layout-gan:scenes-gan-layout --generator "
                 "layout-diffusion:runs/diffusion/scenes-ddpm-layout --baseline free-gan:runs/spatial/scenes-gan-s0/model "
                 "--sa-plan .")  # docs/spatial.md, after bench/spatial_train.py has trained the GAN runs


def _g(x: float | None) -> str:
    """Three significant figures; a dash for a missing value."""
    return "–" if x is None else f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def _pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f} %"


def _word(met: bool | str | None) -> str:
    """A verdict as the file holds it: a word (met / at the bar / missed) unchanged, a boolean of older files as
    met / missed, None as n/a."""
    return "n/a" if met is None else met if isinstance(met, str) else "met" if met else "missed"


def _where(env: dict[str, Any]) -> str:
    return (f"{env['cpu']} ({env['device']}), {env['torch_threads']} torch threads, torch {env['torch']}, "
            f"{env['date'][:10]}")


# --- spatial.json -----------------------------------------------------------------------------------------------
def _locator(loc: dict[str, Any]) -> str:
    t = loc["test"]
    rows = ["| objects per scene | objects | recall | class accuracy |", "|---:|---:|---:|---:|"]
    rows += [f"| {k} | {v['objects']:,} | {_pct(v['recall'])} | {_pct(v['class_accuracy'])} |"
             for k, v in t["by_count"].items()]
    rows.append(f"| **all** | **{t['objects']:,}** | **{_pct(t['recall'])}** | **{_pct(t['class_accuracy'])}** |")
    return (f"Locator `{loc['folder']}` (threshold {loc['threshold']}) on {loc['test_scenes']:,} real test scenes: "
            f"median centre error {_g(t['median_centre_error_px'])} px (p90 {_g(t['p90_centre_error_px'])} px; a hit "
            f"within {t['radius_px']} px), precision {_pct(t['precision'])}, count accuracy {_pct(t['count_accuracy'])}"
            ". Its class accuracy is the ceiling of every generator's class right.\n\n" + "\n".join(rows))


def _editing(result: dict[str, Any]) -> str:
    rows = ["| generator | slope | R² | error px | class right | count right | object found | FID edited vs "
            "unedited | targets |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, g in result["generators"].items():
        s = {k: v.get("mean") for k, v in g["over_seeds"].items() if isinstance(v, dict)}
        words: dict[str, list[str]] = {}
        for key, met in g["targets_met"].items():
            words.setdefault(_word(met), []).append(SPATIAL_TARGETS.get(key, key))
        verdicts = "; ".join(f"{w}: {', '.join(ks)}" for w, ks in words.items())
        rows.append(f"| {name} | {_g(s.get('slope'))} | {_g(s.get('r2'))} | {_g(s.get('median_error_px'))} | "
                    f"{_pct(s.get('class_right'))} | {_pct(s.get('count_right'))} | {_pct(s.get('object_found'))} | "
                    f"{_g(s.get('fid_edited_vs_unedited'))} | {verdicts} |")
    cfg, targets = result["config"], result["targets"]
    with_interval = any("low" in v for g in result["generators"].values() for v in g["over_seeds"].values()
                        if isinstance(v, dict))
    judged = "judged on the 95 % t interval over seeds" if with_interval else "against the mean over seeds"
    return ("\n".join(rows) + f"\n\nMeans over evaluation seeds {', '.join(map(str, cfg['seeds']))}, "
            f"{cfg['n_edits']:,} edits each (moves up to {cfg['max_move']:.3g} of the canvas; per-seed values with "
            f"95 % bootstrap intervals, {cfg['resamples']} draws, in the file). Targets, {judged}: "
            + ", ".join(f"{SPATIAL_TARGETS.get(k, k)} {v}" for k, v in targets.items())
            + f". \"(floor)\" and \"(untrained)\" rows: an untrained generator of the same shape. FID under "
            f"`{result['extractor']}`. Layouts: {result['layouts']}.")


def _quality(q: dict[str, Any]) -> str:
    seeds = [str(s) for s in q["seeds"]]
    rows = ["| generator | " + " | ".join(f"FID seed {s}" for s in seeds) + f" | mean | FID / {q['baseline']} "
            f"[95 % CI] | verdict (target < {q['target_ratio']}) |", "|---|" + "---:|" * (len(seeds) + 2) + "---|"]
    for name, f in q["fid"].items():
        r = q["ratios"].get(name)
        ratio = ("(baseline)" if name == q["baseline"] else "" if r is None
                 else f"{_g(r['estimate'])} [{_g(r['low'])}, {_g(r['high'])}]")
        verdict = "" if r is None else f"**{r['verdict'] or 'n/a'}**"
        rows.append(f"| {name} | " + " | ".join(_g(f["per_seed"][s]) for s in seeds)
                    + f" | {_g(f['mean'])} | {ratio} | {verdict} |")
    return (f"Sample quality: FID of {q['n']:,} samples against {q['n']:,} real test scenes per seed, under "
            f"`{q['extractor']}`; {q['sampling']}. Interval: {q['interval']}.\n\n" + "\n".join(rows))


def _eqgan(comparison: dict[str, Any] | None) -> str:
    if comparison is None:
        return (f"EqGAN-SA comparison: not run yet (`eqgan_sa_comparison` is null); `{EQGAN_COMMAND}` runs it once "
                "`bench/spatial_train.py` has trained the GAN runs ([docs/spatial.md](../docs/spatial.md)).")
    diffs = "; ".join(f"training seed {d['training_seed']}: {_g(d['value'])} [{_g(d['low'])}, {_g(d['high'])}]"
                      for d in comparison["slope_difference"])
    return (f"EqGAN-SA comparison (means over evaluation seeds; DI: {comparison['di_definition']}):\n\n"
            f"{comparison['table']}\n\nSlope EqGAN-SA minus SEL-only, 95 % bootstrap over edits: {diffs or 'none'}. "
            f"Verdict: **{comparison['verdict']}**.")


def spatial_table(result: dict[str, Any]) -> str:
    """bench/results/spatial.json: the locator, the editing table, sample quality and the EqGAN-SA comparison."""
    parts = [_locator(result["locator"]), _editing(result), _quality(result["sample_quality"]),
             _eqgan(result.get("eqgan_sa_comparison")),
             f"{_where(result['env'])}; {result['seconds']:.0f} s."]
    if result["config"].get("quick"):
        parts.append(QUICK)
    return "\n\n".join(parts)


# --- spatial_train.json ------------------------------------------------------------------------------------------
def spatial_train_table(result: dict[str, Any]) -> str:
    """bench/results/spatial_train.json: every run with a recorded segment; the plan's other runs named below."""
    from spatial_train import GPU_RUNS, PLAN

    runs = result.get("runs", {})
    rows = ["| run | kind | arch | seed | steps done / planned | kimg | segments | CPU-hours | wall hours | finished |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    rows += [f"| {name} | {r['kind']} | {r['arch']} | {r['seed']} | {r['steps_done']:,} / {r['steps']:,} | "
             f"{r['kimg']:g} | {len(r['segments'])} | {r['cpu_hours']:.2f} | {r['wall_hours']:.2f} | "
             f"{'yes' if r['finished'] else 'no'} |" for name, r in runs.items()]
    waiting = [r.name for r in PLAN if r.name not in runs]
    out = "\n".join(rows)
    if waiting:  # a run records its segment when the segment ends, so one training now is listed here too
        out += f"\n\nNo segment recorded yet (not started, or its first segment still running): {', '.join(waiting)}."
    gpu = [r.name for r in GPU_RUNS if r.name not in runs]
    if gpu:
        out += (f" Nor for the runs a lent GPU adds: {', '.join(gpu)}." if waiting
                else f"\n\nNot run (a lent GPU adds them): {', '.join(gpu)}.")
    out += (f"\n\nCPU-hours: {result['cpu_hours']}; {result['threads']} thread(s) per run. Last segment written "
            f"{result['env']['date'][:10]} on {result['env']['cpu']}.")
    return out + (f"\n\n{QUICK}" if result.get("smoke") else "")


# --- audit.json, audit_confirm.json ---------------------------------------------------------------------------------
# issue 33's targets, as bench/audit.py's docstring states them: the right class flagged in >= 9/10 planted models,
# <= 1/10 clean models flagged, every model audited in < 120 CPU-seconds
_PLANTED_MIN, _CLEAN_MAX, _CPU_SECONDS_BELOW = (9, 10), (1, 10), 120  # fractions as (numerator, denominator)


def _at_least(count: int, n: int, frac: tuple[int, int]) -> bool:
    """count / n >= frac, in integers (exact counts: no rounding at the bar)."""
    return count * frac[1] >= frac[0] * n


def _at_most(count: int, n: int, frac: tuple[int, int]) -> bool:
    """count / n <= frac, in integers."""
    return count * frac[1] <= frac[0] * n


def _backdoor(bd: dict[str, Any] | None) -> str:
    if bd is None:
        return "Backdoor part: not run yet (`bench/audit.py --parts backdoor`)."
    # Counts are exact, so each is met or missed outright (no interval); an incomplete run gets no verdict.
    word = (lambda ok: "met" if ok else "missed") if bd["complete"] else (lambda ok: "pending")
    (p, q), (c, d) = _PLANTED_MIN, _CLEAN_MAX
    rows = [f"| scale | planted models: right class flagged (target >= {p}/{q}) | clean models flagged "
            f"(target <= {c}/{d}) |", "|---|---:|---:|"]
    for scale, s in bd["summary"].items():
        planted, clean = s["backdoored_target_flagged"], s["clean_flagged"]
        ok_planted, ok_clean = _at_least(planted, s["backdoored"], (p, q)), _at_most(clean, s["clean"], (c, d))
        rows.append(f"| {scale} | {planted} / {s['backdoored']} ({word(ok_planted)}) | "
                    f"{clean} / {s['clean']} ({word(ok_clean)}) |")
    done = "" if bd["complete"] else " **Incomplete: the run has not audited every model yet.**"
    return ("\n".join(rows) + f"\n\nAudit CPU-seconds per model: median {_g(bd['audit_cpu_seconds_median'])}, max "
            f"{_g(bd['audit_cpu_seconds_max'])} (target < {_CPU_SECONDS_BELOW}: "
            f"{word(bd['audit_cpu_seconds_max'] < _CPU_SECONDS_BELOW)}); backdoor part {bd['cpu_hours']:.2f} "
            f"CPU-hours.{done}")


def _sweep(sw: dict[str, Any], cfg: dict[str, Any], names: list[str]) -> str:
    head = (f"Class sweep: `{cfg['aug']}` on `{cfg['model']}`, strengths {', '.join(map(str, cfg['strengths']))}, "
            f"seeds {', '.join(map(str, cfg['seeds']))}, {cfg['epochs']} epochs each; {sw['cpu_hours']:.2f} CPU-hours.")
    if not sw["complete"]:
        return head + f" **Incomplete: {len(sw['runs'])} of {len(cfg['strengths']) * len(cfg['seeds'])} points.**"
    top1 = ", ".join(f"{s}: {_pct(v, 2)}" for s, v in sw["mean_top1"].items())
    first, last = cfg["strengths"][0], cfg["strengths"][-1]
    rows = [f"| class | top-1 at {first} | top-1 at {last} | change, points [95 % CI] | |", "|---|---:|---:|---:|---|"]
    for name in names:
        c, per = sw["change_first_to_last"][name], sw["summary"][name]
        mark = "loses" if name in sw["losing_classes"] else "gains" if name in sw["gaining_classes"] else ""
        rows.append(f"| {name} | {_pct(per[0]['mean'])} | {_pct(per[-1]['mean'])} | {100 * c['mean_change']:+.2f} "
                    f"[{100 * c['ci'][0]:+.2f}, {100 * c['ci'][1]:+.2f}] | {mark} |")
    return (f"{head} Mean top-1 per strength: {top1}.\n\n" + "\n".join(rows) + "\n\nChange: last strength minus "
            "first, paired by seed, with its 95 % interval; \"loses\" / \"gains\": the file's losing and gaining "
            "classes.")


def audit_table(result: dict[str, Any]) -> str:
    """bench/results/audit.json or audit_confirm.json: the backdoor part and, where run, the class sweep."""
    cfg, env = result["config"], result["environment"]
    parts = [f"`{cfg['model']}`: {len(cfg['planted'])} copies fine-tuned with a planted trigger, "
             f"{len(cfg['clean_seeds'])} with the same fine-tuning and no poison; Neural Cleanse, {cfg['cleanse_steps']} "
             f"steps on {cfg['cleanse_images']} clean test images, both anomaly scales scored.",
             _backdoor(result.get("backdoor"))]
    if result.get("sweep"):
        parts.append(_sweep(result["sweep"], cfg["sweep"], result["class_names"]))
    parts.append(f"{_where(env)}; {result['cpu_hours']:.2f} CPU-hours in all.")
    if result.get("smoke"):
        parts.append(QUICK)
    return "\n\n".join(parts)


# --- explorer.json ----------------------------------------------------------------------------------------------------
def _stress(st: dict[str, Any] | None) -> str:
    if st is None:
        return "Load test: not run yet (`bench/explorer.py --stress`)."
    met = ", ".join(f"{k.replace('_', ' ')} {_word(v)}" for k, v in st["met"].items())
    return (f"Load test: {st['clients']} WebSocket clients x {st['rate']:g} requests/s for {st['seconds']:g} s: "
            f"{st['errors']} errors, request to frame p50 {st['p50']} ms / p95 {st['p95']} ms, "
            f"{_pct(st['drop_ratio'])} of {st['requests']:,} requests dropped as stale (newest wins), server memory "
            f"x{st['rss_ratio']} ({st['rss_start_mb']} -> {st['rss_end_mb']} MB; target below "
            f"x{st['targets']['rss_ratio_below']}). Verdicts: {met}. {st['env']['date'][:10]}.")


def _diffusion(d: dict[str, Any] | None) -> str:
    if d is None:
        return "Diffusion panel: not run yet (`bench/explorer.py --diffusion 5`)."
    t = d["targets"]
    return (f"Diffusion panel (`{d['model']}`, class {d['class']}, {d['steps']} steps, {d['runs']} runs): first frame "
            f"p50 {d['first_frame_ms_p50']} ms (max {d['first_frame_ms_max']}; target {t['first_frame_ms']:g}), final "
            f"p50 {d['final_ms_p50']} ms (max {d['final_ms_max']}; target {t['final_ms']:g}). {d['env']['date'][:10]}.")


def explorer_table(result: dict[str, Any]) -> str:
    """bench/results/explorer.json: drag latency, the load test and the diffusion panel."""
    cfg, t = result["config"], result["targets"]
    rows = ["| drag latency | p50 ms | p95 ms | frames | requests |", "|---|---:|---:|---:|---:|",
            f"| **pooled** | **{result['p50']}** | **{result['p95']}** | {result['frames']:,} | {result['requests']:,} |"]
    rows += [f"| repeat {i} | {r['p50']} | {r['p95']} | {r['frames']:,} | {r['requests']:,} |"
             for i, r in enumerate(result["repeats"], 1)]
    rows.append(f"| target | {t['p50']:g} | {t['p95']:g} | | |")
    page = result["page_load_to_first_frame_ms"]
    drag = (f"`{result['model']}`, {result['what']}; {cfg['repeats']} repeats of {cfg['seconds']:g} s at "
            f"{cfg['rate']:g} moves/s ({cfg['warmup']:g} s warm-up), {cfg['browser']}. Medians: server render "
            f"{result['server_render_ms_p50']} ms, server {result['server_ms_p50']} ms, frame arrived "
            f"{result['frame_arrived_ms_p50']} ms; page load to first frame {page['cold']} ms cold, "
            f"{page['models_loaded']} ms with the models loaded; {result['stale_dropped']:,} requests dropped as stale. "
            "The file holds targets, not verdicts.")
    env = result["env"]
    load = f", load average {env.get('load_average_start')} -> {env.get('load_average_end')}"
    return "\n\n".join([drag, "\n".join(rows), _stress(result.get("stress")), _diffusion(result.get("diffusion")),
                        _where(env) + load + "."])
