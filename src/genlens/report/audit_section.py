"""The tour's audit section, read from ``bench/audit.py``'s result file (``audit.json`` in the results folder the
tour is given): how many planted and clean models Neural Cleanse flagged, each planted model's recovered
triggers beside the PII inversions of their classes, and the class-dependent effects of the augmentation sweep
(per-class accuracy against strength, and each class's change with its 95 % interval over seeds).

Planting 20 models and training the sweep takes CPU-hours, far too long for ``make demo``, so nothing here is
computed live: the numbers and PNGs are the benchmark's own, shown with its date. Without the file the section
says which command writes it.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from genlens.report import html as H

RESULT = "audit.json"
COMMAND = "PYTHONPATH=src OMP_NUM_THREADS=1 python bench/audit.py --parts {part}"
INTRO = ("<p><code>genlens audit</code> (docs/audit.md): <code>plant</code> fine-tunes a backdoored copy of a "
         "classifier, <code>backdoor</code> looks for one without training data (Neural Cleanse, Wang et al. 2019: "
         "the smallest mask and pattern sending clean images to each class; a class whose mask is an outlier below "
         "the median, anomaly index above 2, is flagged), <code>classes</code> and <code>sweep</code> measure "
         "class-dependent effects of training choices (Balestriero, Bottou &amp; LeCun 2022). Backdoors built with "
         "digital signatures (Goldwasser et al. 2022) are undetectable by any test of this kind.</p>")


def _missing(part: str, results: Path) -> str:
    return (f"<p class='todo'>No {part} results in {H.esc(results / RESULT)}: run <code>"
            f"{H.esc(COMMAND.format(part=part))}</code> (it resumes where it stopped).</p>")


def _copy_png(ctx, results: Path, rel: str | None) -> str | None:
    """Copy ``results/rel`` next to the page; its page-relative path, or None when there is no such file."""
    if not rel or not (results / rel).is_file():
        return None
    dest = ctx.out / "audit" / Path(rel).name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(results / rel, dest)
    return f"audit/{dest.name}"


def _name(names: list[str], k: int | None) -> str:
    return "-" if k is None else (names[k] if 0 <= k < len(names) else str(k))


def _backdoor(ctx, results: Path, part: dict[str, Any], names: list[str]) -> str:
    models = part.get("models", [])
    scale_rows, numbers = [], {}
    for scale, s in part.get("summary", {}).items():
        scale_rows.append((scale, f"{s['backdoored_target_flagged']} of {s['backdoored']}",
                           f"{s['clean_flagged']} of {s['clean']}"))
        numbers[scale] = s
    rows, figs = [], []
    for m in models:
        flagged = m.get("flagged_log", [])
        asr = m.get("attack_success")
        label = f"clean #{m['index']}" if m["clean"] else f"planted #{m['index']}"
        rows.append((label, m["trigger"]["kind"], _name(names, m.get("target")),
                     "-" if asr is None else f"{100 * asr:.1f}%", f"{100 * m['clean_accuracy']:.2f}%",
                     ", ".join(_name(names, k) for k in m.get("flagged_l1", [])) or "none",
                     ", ".join(_name(names, k) for k in flagged) or "none",
                     f"{m.get('audit_cpu_seconds', float('nan')):.0f}"))
        src = _copy_png(ctx, results, m.get("grid_png"))
        if src and not m["clean"]:
            target = m.get("target")
            pii = m.get("pii_trigger_success")
            pii_text = "" if not pii or target is None else f"; PII of the target as a trigger: {100 * pii[target]:.0f}%"
            figs.append(H.figure(src, f"#{m['index']} ({m['trigger']['kind']} -> {_name(names, target)}): recovered "
                                 f"masks, mask x pattern, PII inversion, classes left to right; flagged (log): "
                                 f"{', '.join(_name(names, k) for k in flagged) or 'none'}{pii_text}", width=560))
    ctx.numbers["audit_backdoor"] = {"summary": numbers, "models": len(models),
                                     "audit_cpu_seconds_max": part.get("audit_cpu_seconds_max")}
    cpu = part.get("audit_cpu_seconds_max")
    return ("<h3>Backdoors planted and found</h3><p>Planted copies of the zoo CNN and clean copies fine-tuned the "
            "same way without poison, each audited on clean test images only. Target: the right class flagged in "
            "at least 9 of 10 planted models, at most 1 of 10 clean models flagged, under 2 CPU-minutes per audit"
            + ("" if cpu is None else f" (slowest here: {cpu:.0f} CPU-s)") + ".</p>"
            + H.table(["anomaly index on", "planted: right target flagged", "clean: any class flagged"], scale_rows)
            + H.table(["model", "trigger", "target", "attack success", "clean accuracy", "flagged (l1)",
                       "flagged (log)", "audit CPU-s"], rows)
            + "<p>Each planted model's recovered triggers beside the PII inversion of each class (does model "
              "inversion alone reveal the trigger, as DeepInspect relies on?):</p><div class='grid'>"
            + "".join(figs) + "</div>")


def _in_class_order(d: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """``d`` keyed by class name in the classes' order (the result file may have sorted its keys)."""
    return {n: d[n] for n in names if n in d} | {n: v for n, v in d.items() if n not in names}


def _sweep(ctx, part: dict[str, Any], config: dict[str, Any], names: list[str]) -> str:
    from genlens.report.audit_plots import change_png, sweep_png

    sc = config.get("sweep", {})
    aug = sc.get("aug", "random-crop")
    summary = _in_class_order(part.get("summary", {}), names)
    figs = []
    if summary:
        sweep_png(summary, ctx.out / "audit" / "sweep.png", aug=aug)
        figs.append(H.figure("audit/sweep.png", f"per-class test accuracy against {aug} strength (mean over seeds, "
                             "95 % t-interval)", width=900))
    changes = _in_class_order(part.get("change_first_to_last", {}), names)
    rows = []
    if changes:
        strengths = sc.get("strengths", [])
        span = f"{strengths[0]} -> {strengths[-1]}" if strengths else "first -> last"
        change_png(changes, ctx.out / "audit" / "change.png", title=f"{aug} {span}: change per class, 95 % interval "
                   "over seeds (paired by seed)")
        figs.append(H.figure("audit/change.png", f"accuracy change {span} per class (red: significant loss)", width=700))
        rows = [(n, f"{100 * c['mean_change']:+.1f}", f"[{100 * c['ci'][0]:+.1f}, {100 * c['ci'][1]:+.1f}]")
                for n, c in changes.items()]
    cpu_h = part.get("cpu_hours")
    ctx.numbers["audit_sweep"] = {"losing_classes": part.get("losing_classes", []),
                                  "gaining_classes": part.get("gaining_classes", []), "cpu_hours": cpu_h}
    top1 = part.get("mean_top1", {})
    return ("<h3>Class-dependent effects of augmentation</h3><p>The zoo CNN trained "
            f"{len(sc.get('seeds', []))} times (seeds {H.esc(sc.get('seeds', []))}) per {H.esc(aug)} strength "
            f"{H.esc(sc.get('strengths', []))}, {sc.get('epochs', '?')} epochs each"
            + ("" if cpu_h is None else f", {cpu_h:.2f} CPU-hours in all") + ". Mean top-1 per strength: "
            + H.esc(", ".join(f"{s}: {100 * v:.2f}%" for s, v in top1.items())) + ". Classes that lose significantly "
            f"(whole interval below 0): <b>{H.esc(', '.join(part.get('losing_classes', [])) or 'none')}</b>; that "
            f"gain: {H.esc(', '.join(part.get('gaining_classes', [])) or 'none')}.</p>"
            + "".join(figs) + H.table(["class", "change (points)", "95 % interval"], rows))


def section_audit(ctx) -> str:
    results = getattr(ctx, "results", None)
    if results is None:
        return INTRO + H.no_results("the audit benchmark (bench/audit.py)")
    path = Path(results) / RESULT
    if not path.is_file():
        return INTRO + _missing("backdoor", Path(results)) + _missing("sweep", Path(results))
    result = json.loads(path.read_text())
    names = result.get("class_names") or []
    when = result.get("environment", {}).get("date", "?")
    head = (f"<p>From the last <code>bench/audit.py</code> run ({H.esc(when)}"
            + (", <b>smoke sizes: proves the script runs, measures nothing</b>" if result.get("smoke") else "") + ").</p>")
    body = (_backdoor(ctx, Path(results), result["backdoor"], names) if result.get("backdoor")
            else _missing("backdoor", Path(results)))
    body += (_sweep(ctx, result["sweep"], result.get("config", {}), names) if result.get("sweep")
             else _missing("sweep", Path(results)))
    return INTRO + head + body
