"""The tour: one HTML page (plus PNGs and tour.json) showing every capability on the embedded defaults.

Each capability contributes a section function ``(ctx) -> html``; later issues add theirs to
``SECTIONS``. Everything is computed here from the shipped models and data, nothing is pasted in, except
the benchmark results a caller hands over as ``results`` (a folder such as a checkout's ``bench/results``):
the installed package never looks for them itself, and without them those parts show a note.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genlens.errors import GenlensError
from genlens.report import html as H
from genlens.utils.io import atomic_write, atomic_write_json


@dataclass
class TourContext:
    out: Path
    seed: int
    device: str
    data_dir: Path | None
    quick: bool
    log: Callable[[str], None]
    results: Path | None = None  # benchmark result files (bench/results in a checkout); None: not shown
    screenshots: Path | None = None  # explorer screenshots (docs/explorer in a checkout); None: not shown
    layout_gan: Path | None = None  # a trained layout GAN folder to show (else the shipped one, if any)
    text_diffusion: Path | None = None  # a text diffusion folder for the prompt gallery (else fmnist-ddpm-text)
    numbers: dict[str, Any] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict)

    def data(self, split: str):
        if split not in self._cache:
            from genlens.data.fashion_mnist import load_fashion_mnist

            self._cache[split] = load_fashion_mnist(split, data_dir=self.data_dir)
        return self._cache[split]

    def result_path(self, name: str) -> Path | None:
        """``results/name`` when the tour was given a results folder, else None (the section shows a note)."""
        return None if self.results is None else self.results / name

    def test_subset(self):
        d = self.data("test")
        return d.take(500) if self.quick else d  # quick (tests): enough to tell a 91 % model from chance


def section_data(ctx: TourContext) -> str:
    from genlens.data.sample import per_class_sample
    from genlens.utils.images import save_grid

    train, test = ctx.data("train"), ctx.data("test")
    save_grid(per_class_sample(train, 12, seed=ctx.seed), ctx.out / "data" / "grid.png", nrow=12, upscale=3)
    counts = train.labels.bincount(minlength=train.num_classes).tolist()
    ctx.numbers["data"] = {"train": len(train), "test": len(test), "class_counts_train": dict(zip(train.class_names, counts))}
    rows = [(i, n, c) for i, (n, c) in enumerate(zip(train.class_names, counts))]
    return (f"<p>Fashion-MNIST (Xiao et al. 2017): {len(train):,} training and {len(test):,} test images, 28×28 "
            "grayscale, read offline from the IDX files of Debian's <code>dataset-fashion-mnist</code>.</p>"
            + H.figure("data/grid.png", "12 random training images per class, one class per row", width=560)
            + H.table(["index", "class", "training images"], rows))


def section_zoo(ctx: TourContext) -> str:
    from genlens.models.load import load_model
    from genlens.models.zoo import ZOO, get_spec
    from genlens.models.zoo.evaluate import evaluate_classifier
    from genlens.report.plots import confusion_png

    test = ctx.test_subset()
    rows, per_class_rows, figs, results = [], {}, [], {}
    for name in ZOO.available():
        t0 = time.perf_counter()
        handle = load_model(name, device=ctx.device)
        rep = evaluate_classifier(handle, test)
        secs = time.perf_counter() - t0
        spec = get_spec(name)
        params = sum(p.numel() for p in handle.model.parameters())
        manifest = handle.meta.get("manifest", {})
        results[name] = {"top1": rep.top1, "top5": rep.top5, "per_class": rep.per_class, "n": rep.n,
                         "params": params, "eval_seconds": round(secs, 2)}
        rows.append((name, spec.arch, f"{params / 1e6:.2f} M", f"{100 * rep.top1:.2f}%", f"{100 * rep.top5:.2f}%",
                     f"{100 * spec.target_top1:.0f}%", manifest.get("metrics", {}).get("device", "?"),
                     f"{manifest.get('metrics', {}).get('train_seconds', float('nan')):.0f} s"))
        for cname, acc in rep.per_class.items():
            per_class_rows.setdefault(cname, []).append(f"{100 * acc:.1f}%")
        confusion_png(rep.confusion, handle.class_names, ctx.out / "zoo" / f"{name}-confusion.png",
                      title=f"{name}: top-1 {100 * rep.top1:.2f}%")
        figs.append(H.figure(f"zoo/{name}-confusion.png", f"{name} confusion matrix (rows: true class, %)", width=420))
        ctx.log(f"  {name}: top-1 {100 * rep.top1:.2f}% ({secs:.1f} s)")
    ctx.numbers["zoo"] = results
    names = ZOO.available()
    return (f"<p>Four classifiers built with timm's constructors and trained by <code>genlens zoo train</code>; "
            f"accuracy measured now on {test and len(test):,} test images.</p>"
            + H.table(["model", "arch", "params", "top-1", "top-5", "target top-1", "trained on", "train time"], rows)
            + "<h3>Per-class accuracy</h3>"
            + H.table(["class", *names], [(c, *v) for c, v in per_class_rows.items()])
            + "".join(figs))


def section_metrics(ctx: TourContext) -> str:
    from genlens.metrics import compute_fid, compute_inception_score, compute_kid, judge
    from genlens.models.load import load_model

    test = ctx.data("test")
    n = 500 if ctx.quick else 5000
    a, b = test.float_images(slice(0, n)), test.float_images(slice(n, 2 * n))
    fid = compute_fid(a, b, device=ctx.device)
    kid = compute_kid(a, b, subset_size=min(1000, n), device=ctx.device)
    iscore = compute_inception_score((test.take(1000) if ctx.quick else test).float_images(), device=ctx.device)
    noisy = (b + 0.15 * torch.randn(b.shape, generator=torch.Generator().manual_seed(ctx.seed))).clamp(0, 1)
    fid_noisy = compute_fid(a, noisy, device=ctx.device)
    rows = [("FID, test half A vs half B", f"{fid.value:.3f}", fid.extractor, f"{fid.n_real} / {fid.n_fake}"),
            ("FID, half A vs half B + noise σ=0.15", f"{fid_noisy.value:.3f}", fid_noisy.extractor,
             f"{fid_noisy.n_real} / {fid_noisy.n_fake}"),
            ("KID, half A vs half B", f"{kid.value:.5f} ± {kid.std:.5f}", kid.extractor, f"{kid.n_real} / {kid.n_fake}"),
            ("Inception Score, test images", f"{iscore.value:.3f} ± {iscore.std:.3f}", iscore.extractor,
             f"{iscore.n_fake}")]
    judge_rows = []
    sub = test.take(500 if ctx.quick else 2000)
    for name in ("fmnist-vit", "fmnist-mixer", "fmnist-resmlp"):
        rep = judge(load_model(name, device=ctx.device), sub.float_images(), sub.labels)
        judge_rows.append((name, f"{100 * rep.top1:.1f}%", f"{100 * rep.top5:.1f}%", rep.n))
    ctx.numbers["metrics"] = {"fid_real_halves": fid.to_dict(), "fid_noisy": fid_noisy.to_dict(),
                              "kid_real_halves": kid.to_dict(), "is_test": iscore.to_dict()}
    return ("<p>FID, KID and IS are functions of feature tensors; the default extractor <code>genlens-fmnist</code> is "
            "the shipped CNN's penultimate layer. Real-vs-real numbers are the floor any generator is compared "
            "with; adding noise shows the scale.</p>"
            + H.table(["measure", "value", "extractor", "samples (real / fake)"], rows)
            + "<h3>Judges</h3><p>The judge classifies a set with another model and reports accuracy per intended "
              "class; on real test images it gives each judge's ceiling:</p>"
            + H.table(["judge", "top-1", "top-5", "images"], judge_rows))


def section_cam(ctx: TourContext) -> str:
    from genlens.attribution.gradcam import default_layer, handle_cam
    from genlens.attribution.overlay import overlay
    from genlens.data.sample import per_class_sample
    from genlens.models.load import load_model
    from genlens.models.zoo import ZOO
    from genlens.utils.images import save_grid

    test = ctx.data("test")
    images = per_class_sample(test, 1, seed=ctx.seed)  # one test image per class, class order
    labels = torch.arange(test.num_classes)
    rows, layers = [images.expand(-1, 3, -1, -1)], []
    for name in ZOO.available():
        handle = load_model(name, device=ctx.device)
        cams = handle_cam(handle, images.to(handle.device), target=labels.to(handle.device)).detach().cpu()
        rows.append(overlay(images, cams, alpha=0.5))
        layers.append((name, default_layer(handle)))
    save_grid(torch.cat(rows), ctx.out / "cam" / "grid.png", nrow=len(labels), upscale=4)
    return ("<p>Grad-CAM (Selvaraju et al. 2017) of the true class on one test image per class: first row the "
            "images, then one row per model (" + ", ".join(f"{n}: <code>{H.esc(layer)}</code>" for n, layer in layers)
            + "). One torch-native implementation, checked against captum's LayerGradCam in the tests and kept "
              "differentiable so EqGAN-SA can train through it.</p>"
            + H.figure("cam/grid.png", "columns: " + ", ".join(test.class_names), width=900))


def section_dead(ctx: TourContext) -> str:
    from genlens.analysis import dead_unit_census
    from genlens.models.load import load_model
    from genlens.models.zoo import ZOO
    from genlens.report.plots import bar_png

    test = ctx.data("test").take(500 if ctx.quick else 5000)
    figs, rows, numbers = [], [], {}
    for name in ZOO.available():
        report = dead_unit_census(load_model(name, device=ctx.device), test.float_images())
        numbers[name] = report.to_dict()
        rows.append((name, len(report.layers), report.total_units, report.total_dead,
                     f"{100 * report.total_dead / max(1, report.total_units):.2f}%"))
        bar_png({c.name: 100 * c.fraction_dead for c in report.layers}, ctx.out / "dead" / f"{name}.png",
                title=f"{name}: % dead units per activation layer", ylabel="% dead", ylim=(0, 100))
        figs.append(H.figure(f"dead/{name}.png", f"{name}", width=420))
    ctx.numbers["dead_units"] = numbers
    return (f"<p>A unit (conv channel or MLP feature) is dead if its ReLU/GELU output never exceeds 0 on any of "
            f"{len(test):,} test images (<code>genlens dead MODEL</code>).</p>"
            + H.table(["model", "activation layers", "units", "dead", "dead %"], rows) + "".join(figs))


def section_inversion(ctx: TourContext) -> str:
    from genlens.report.inversion_section import section_inversion as build

    return build(ctx)


def _later(issue: int, what: str) -> Callable[[TourContext], str]:
    def fn(ctx: TourContext) -> str:
        return f"<p class='todo'>Not built yet: {H.esc(what)} arrives with issue #{issue}.</p>"

    return fn


SECTIONS: list[tuple[str, str, Callable[[TourContext], str]]] = [
    ("data", "Data", section_data),
    ("zoo", "Model zoo", section_zoo),
    ("metrics", "Metrics", section_metrics),
    ("cam", "Grad-CAM", section_cam),
    ("dead", "Dead units", section_dead),
    ("inversion", "Inversion", section_inversion),
    ("gan", "GANs and EqGAN-SA", lambda ctx: __import__("genlens.report.gan_section",
                                                        fromlist=["section_gan"]).section_gan(ctx)),
    ("scenes", "Scenes and layouts", lambda ctx: __import__("genlens.report.scenes_section",
                                                            fromlist=["section_scenes"]).section_scenes(ctx)),
    ("scenes-eqgan", "EqGAN-SA on scenes", lambda ctx: __import__("genlens.report.scenes_heatmap",
                                                                  fromlist=["x"]).section_scenes_eqgan(ctx)),
    ("scenes-diffusion", "Layout diffusion", lambda ctx: __import__("genlens.report.scenes_diffusion",
                                                                    fromlist=["x"]).section_layout_diffusion(ctx)),
    ("diffusion", "Diffusion", lambda ctx: __import__("genlens.report.diffusion_section",
                                                      fromlist=["section_diffusion"]).section_diffusion(ctx)),
    ("audit", "Audits", lambda ctx: __import__("genlens.report.audit_section",
                                               fromlist=["section_audit"]).section_audit(ctx)),
    ("explorer", "Explorer", lambda ctx: __import__("genlens.report.explorer_section",
                                                    fromlist=["section_explorer"]).section_explorer(ctx)),
]


def build_tour(out: str | Path, *, seed: int = 0, device: str = "cpu", data_dir: Path | None = None,
               results: str | Path | None = None, quick: bool = False, screenshots: str | Path | None = None,
               layout_gan: str | Path | None = None, text_diffusion: str | Path | None = None,
               log: Callable[[str], None] = lambda m: None) -> Path:
    """Write ``out/index.html`` (+ PNGs, tour.json). ``results``: a folder of benchmark result files to show;
    ``screenshots``: a folder of explorer screenshots (``explorer-<panel>.png``) to show; ``layout_gan``: a
    trained layout GAN folder for the Scenes section (default: the shipped scenes-gan-layout, when trained);
    ``text_diffusion``: a text diffusion folder for the Diffusion section's prompt gallery (default: the shipped
    fmnist-ddpm-text; a model of its images' own captions shows those captions)."""
    from genlens.utils.device import resolve_device

    out = Path(out)
    if results is not None and not Path(results).is_dir():
        raise GenlensError(f"tour results folder {results} does not exist; pass a folder of benchmark results "
                           "(bench/results in a checkout) or leave --results out")
    if screenshots is not None and not Path(screenshots).is_dir():
        raise GenlensError(f"tour screenshots folder {screenshots} does not exist; pass docs/explorer in a checkout "
                           "or write one with `genlens explore --screenshots DIR`")
    if layout_gan is not None and not Path(layout_gan).is_dir():
        raise GenlensError(f"tour layout GAN folder {layout_gan} does not exist; pass a folder written by `genlens "
                           "gan train --arch layout --out DIR` or leave --layout-gan out")
    if text_diffusion is not None and not Path(text_diffusion).is_dir():
        raise GenlensError(f"tour text diffusion folder {text_diffusion} does not exist; pass a folder written by "
                           "`genlens diffusion train --cond text --out DIR` or leave --text-diffusion out")
    out.mkdir(parents=True, exist_ok=True)
    ctx = TourContext(out=out, seed=seed, device=str(resolve_device(device)), data_dir=data_dir, quick=quick, log=log,
                      results=None if results is None else Path(results),
                      screenshots=None if screenshots is None else Path(screenshots),
                      layout_gan=None if layout_gan is None else Path(layout_gan),
                      text_diffusion=None if text_diffusion is None else Path(text_diffusion))
    t_all = time.perf_counter()
    parts, timings = [], {}
    for anchor, title, fn in SECTIONS:
        log(f"tour: {title}")
        t0 = time.perf_counter()
        parts.append((anchor, title, fn(ctx)))
        timings[anchor] = round(time.perf_counter() - t0, 2)
    total = time.perf_counter() - t_all
    subtitle = (f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {ctx.device} in {total:.0f} s "
                f"(seed {seed}{', quick mode' if quick else ''}). Numbers: tour.json.")
    atomic_write_json(out / "tour.json", {"numbers": ctx.numbers, "seconds": timings, "seed": seed, "quick": quick})
    text = H.page("genlens tour", subtitle, parts)
    atomic_write(out / "index.html", lambda p: p.write_text(text))
    return out / "index.html"
