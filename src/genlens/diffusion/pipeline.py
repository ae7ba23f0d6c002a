"""``DiffusionPipeline``: a trained denoiser with everything it needs to draw samples.

    pipe = DiffusionPipeline.from_folder("fmnist-ddpm")              # a shipped name or a model folder
    images = pipe.sample("Sneaker", 8, generator=torch.Generator().manual_seed(0))   # (8, 1, 28, 28) in [0, 1]
    scenes = DiffusionPipeline.from_folder("scenes-ddpm-layout").sample("Sneaker@0.25,0.7;Bag@0.7,0.3", 8)
    louder = pipe.sample("Sneaker", 8, config=replace(pipe.config, guidance=5))        # a sweep point

The pipeline owns the model's recommended sampling settings (its folder's config.json ``"sampling"`` block),
loads the autoguidance guide they name, and records where every setting came from: ``"user"`` (a keyword of
``from_folder``), ``"model"`` (the folder's recommendation) or ``"default"`` (:class:`SamplingConfig`'s).
``pipe.config`` is one frozen :class:`~genlens.diffusion.config.SamplingConfig`; ``sample(..., config=)`` or
``with_config`` draw with another. The command line, the evaluator and the tour all sample through it.
"""
from __future__ import annotations

import os
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genlens.data.captions import check_round
from genlens.diffusion.autoguidance import AutoGuided, check_guide_compatible
from genlens.diffusion.config import NoiseSchedule, SamplingConfig, TimestepSpacing, check_interval
from genlens.diffusion.guidance import check_guidance
from genlens.diffusion.io import TRAIN_HINTS, DiffusionBundle, load_diffusion
from genlens.diffusion.sample import num_steps, sample, sampling_config
from genlens.diffusion.spacing import spaced_timesteps
from genlens.errors import GenlensError
from genlens.utils.config_io import to_dict

SOURCES = ("user", "model", "default")


def resolve_model(path_or_name: str | os.PathLike) -> Path:
    """A model folder, or the folder of a shipped model named ``path_or_name`` (e.g. ``fmnist-ddpm``)."""
    path = Path(path_or_name)
    if path.is_dir() or len(path.parts) != 1:
        return path
    from genlens.models.load import shipped_folder

    folder = shipped_folder(str(path_or_name))
    if folder.is_dir():
        return folder
    if str(path_or_name) in TRAIN_HINTS:
        raise GenlensError(f"the shipped model '{path_or_name}' is not trained yet; train it with "
                           f"`{TRAIN_HINTS[str(path_or_name)]} --out DIR` and pass DIR")
    return path


def class_prompts(class_names) -> list[str]:
    """The plainest training caption of each class, "a photo of a <noun>": how a text model draws a class."""
    from genlens.data.captions import NOUNS

    return [f"a photo of a {NOUNS[i][0]}" for i in range(len(class_names))]


class DiffusionPipeline:
    """A loaded denoiser (``bundle``), its sampling ``config`` and where each setting came from (``sources``)."""

    def __init__(self, bundle: DiffusionBundle, config: SamplingConfig | None = None, *,
                 sources: dict[str, str] | None = None, device: str | torch.device | None = None,
                 verify: bool = True) -> None:
        self.bundle = bundle
        self.config = sampling_config(config)
        self.sources = {f.name: (sources or {}).get(f.name, "default") for f in fields(SamplingConfig)}
        self.device = torch.device(device) if device is not None else next(bundle.model.parameters()).device
        self.verify = verify
        self.class_tokens: tuple[torch.Tensor, torch.Tensor] | None = None  # text models: one prompt per class
        self._guides: dict[Path, tuple[nn.Module, str | None]] = {}
        self._encoder = None
        self.denoiser()  # a guide that is missing or does not match fails now, not at the first sample

    # ------------------------------------------------------------------------------------------ construction
    @classmethod
    def from_folder(cls, path_or_name: str | os.PathLike, *, device: str | torch.device = "cpu",
                    verify: bool = True, **overrides: Any) -> DiffusionPipeline:
        """Load a model folder (or shipped name) with its recommended settings; ``overrides`` (SamplingConfig
        field names, e.g. ``guidance=5``, ``guide_model=None``) win over them and are recorded as ``"user"``."""
        unknown = sorted(set(overrides) - {f.name for f in fields(SamplingConfig)})
        if unknown:
            raise GenlensError(f"unknown sampling setting(s) {', '.join(unknown)}; use fields of SamplingConfig: "
                               + ", ".join(f.name for f in fields(SamplingConfig)))
        bundle = load_diffusion(resolve_model(path_or_name), device=device, verify=verify)
        base = SamplingConfig(guidance=None) if bundle.kind == "diffusion-none" else SamplingConfig()
        if bundle.captions_from == "images":  # anchors are Fashion-MNIST captions: never for a model of its own
            base = replace(base, anchors=0)
        config = replace(base, **{**bundle.sampling, **overrides})
        if "guide_weight" in overrides and config.guide_model is None and config.guide_weight != 1.0:
            raise GenlensError(f"guide weight {config.guide_weight:g} needs a guide model, and this model recommends "
                               "none; pass --guide-model FOLDER (an earlier or smaller version of the same model)")
        sources = {k: "model" for k in bundle.sampling} | {k: "user" for k in overrides}
        pipe = cls(bundle, config, sources=sources, device=device, verify=verify)
        spaced_timesteps(config.timestep_spacing, num_steps(config), bundle.schedule.num_train_timesteps)
        return pipe

    @classmethod
    def from_model(cls, model: nn.Module, *, schedule: NoiseSchedule | None = None, class_names=(),
                   config: SamplingConfig | None = None, caption_round: int = 1, **settings: Any) -> DiffusionPipeline:
        """A pipeline around a denoiser in memory (training grids, tests); no folder, so no recommendations.
        ``caption_round``: a text model's training captions, the only ones its prompts are anchored to."""
        kind = f"diffusion-{model.cond_kind}"
        bundle = DiffusionBundle(model=model, schedule=schedule or NoiseSchedule(), kind=kind,
                                 class_names=tuple(class_names), caption_round=check_round(caption_round))
        if kind == "diffusion-none" and config is None and "guidance" not in settings:
            settings["guidance"] = None
        return cls(bundle, sampling_config(config, **settings), sources={k: "user" for k in settings})

    def with_config(self, config: SamplingConfig | None = None, **changes: Any) -> DiffusionPipeline:
        """The same model and guides with another config (``changes``: fields to replace, recorded as user)."""
        pipe = object.__new__(DiffusionPipeline)
        pipe.__dict__ = {**self.__dict__, "config": sampling_config(config or self.config, **changes),
                         "sources": {**self.sources, **{k: "user" for k in changes}}}
        if config is not None:
            pipe.sources.update({k: "user" for k in self.sources
                                 if getattr(config, k) != getattr(self.config, k)})
        pipe.denoiser()
        return pipe

    # ------------------------------------------------------------------------------------------ parts
    @property
    def model(self) -> nn.Module:
        return self.bundle.model

    @property
    def schedule(self) -> NoiseSchedule:
        return self.bundle.schedule

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.bundle.class_names

    @property
    def cond_kind(self) -> str:
        return self.bundle.model.cond_kind

    def guide_folder(self, config: SamplingConfig | None = None) -> Path | None:
        """The autoguidance guide's folder (relative names sit beside the model folder), or None."""
        config = config or self.config
        if not config.autoguided:
            return None
        folder = Path(config.guide_model)
        if not folder.is_absolute() and self.bundle.folder is not None:
            folder = self.bundle.folder.parent / folder
        return folder

    def denoiser(self, config: SamplingConfig | None = None) -> nn.Module:
        """The network to sample ``config`` with: the model, autoguided when the config names a guide."""
        config = config or self.config
        check_guidance(self.model, config.guidance)  # guidance on an unconditional model: one line
        self._check_anchors(config)
        folder = self.guide_folder(config)
        if folder is None:
            return self.model
        return AutoGuided(self.model, self._guide(folder)[0], config.guide_weight)

    def _check_anchors(self, config: SamplingConfig) -> None:
        """Anchors are Fashion-MNIST training captions: a model trained on its images' own captions takes none."""
        if config.anchors and self.bundle.captions_from == "images":
            raise GenlensError(f"anchoring retrieves Fashion-MNIST training captions, and this model was trained on "
                               f"its images' own captions; sample with --anchors 0 (got {config.anchors})")

    def _guide(self, folder: Path) -> tuple[nn.Module, str | None]:
        if folder not in self._guides:
            from genlens.models.weights_io import WEIGHTS_FILE
            from genlens.utils.io import read_json

            if not folder.is_dir():
                raise GenlensError(f"guide model folder '{folder}' does not exist; pass --guide-model FOLDER (an "
                                   "earlier or smaller version of the same model) or --guide-model none")
            guide = load_diffusion(folder, device=self.device, verify=self.verify)
            check_guide_compatible(self.bundle, guide)
            manifest = folder / "manifest.json"
            sha = read_json(manifest).get("sha256", {}).get(WEIGHTS_FILE) if manifest.is_file() else None
            self._guides[folder] = (guide.model, sha)
        return self._guides[folder]

    def record(self, config: SamplingConfig | None = None) -> dict[str, Any]:
        """What results carry: every setting (steps resolved), the guide's folder and sha256, and ``sources``."""
        config = config or self.config
        out = {**to_dict(config), "steps": num_steps(config), "sources": dict(self.sources)}
        folder = self.guide_folder(config)
        out["guide_model"] = str(folder) if folder is not None else None
        if folder is not None:
            out["guide_sha256"] = self._guide(folder)[1]
        return out

    # ------------------------------------------------------------------------------------------ conditions
    def encoder(self):
        if self._encoder is None:
            from genlens.text import load_text_encoder

            self._encoder = load_text_encoder(self.bundle.text_encoder or "minilm")
        return self._encoder

    def _encode(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        from genlens.diffusion.text import encode_prompts, token_layout

        return encode_prompts(self.encoder(), texts, **token_layout(self.model.config))

    def class_condition(self, labels: torch.Tensor) -> Any:
        """The condition asking for ``labels``: the labels (class model) or each class's plain prompt (text)."""
        labels = torch.as_tensor(labels, dtype=torch.long)
        if self.cond_kind == "class":
            return labels.to(self.device)
        if self.cond_kind != "text":
            raise GenlensError("this model is unconditional; class samples need a class- or text-conditional model")
        if self.bundle.captions_from == "images":
            raise GenlensError("this text model was trained on its images' own captions, not on class captions; "
                               "describe what to draw with a prompt (--prompt TEXT)")
        if self.class_tokens is None:
            self.class_tokens = self._encode(class_prompts(self.class_names))
        tokens, mask = self.class_tokens
        return tokens[labels.cpu()].to(self.device), mask[labels.cpu()].to(self.device)

    def own_prompts(self, limit: int = 8) -> list[str]:
        """A text model of its images' own captions: the first ``limit`` distinct captions of the data it
        recorded (``data.spec``, its training split), prompts it was taught; ``[]`` for any other model or when
        that data is no longer there. What the explorer and the tour draw instead of class prompts."""
        if self.cond_kind != "text" or self.bundle.captions_from != "images":
            return []
        from genlens.data.spec import spec_captions

        try:
            return list(dict.fromkeys(spec_captions(self.bundle.data.spec, split="train")))[:limit]
        except (GenlensError, OSError):  # the training folder moved or went away: the user types a prompt
            return []

    def prompt_condition(self, prompts: list[str], config: SamplingConfig | None = None):
        """(tokens, mask) of ``prompts``, anchored to their ``config.anchors`` nearest training captions (tokens
        then (P, 1 + K, T, D)), and the anchors found (None when plain; :mod:`genlens.diffusion.anchors`)."""
        from genlens.diffusion.anchors import AnchorConfig, condition_prompts

        if self.cond_kind != "text":
            raise GenlensError("prompts need a text-conditional model (e.g. the shipped fmnist-ddpm-text)")
        config = config or self.config
        self._check_anchors(config)
        _, (tokens, mask), found = condition_prompts(self.model, self.encoder(), prompts, AnchorConfig(k=config.anchors),
                                                     caption_round=self.bundle.caption_round)
        return (tokens.to(self.device), mask.to(self.device)), found

    def layout(self, what: Any) -> tuple[Any, list[str]]:
        """A :class:`~genlens.data.layout.Layout` (or its text, ``"Sneaker@0.25,0.7;Bag@0.7,0.3"``) checked for this
        layout model, and the notes saying what was clamped (:func:`genlens.diffusion.layout.resolve_layout`)."""
        from genlens.diffusion.layout import resolve_layout

        if self.cond_kind != "layout":
            raise GenlensError(f"layouts need a layout-conditional model (e.g. scenes-ddpm-layout); this one is "
                               f"{self.cond_kind}-conditional")
        return resolve_layout(what, self.model.config, self.class_names)

    def layout_condition(self, layouts: list[Any], n: int = 1) -> torch.Tensor:
        """Layout channels (len(layouts)·n, C, H, W) for ``n`` images of each layout (clamped silently; see
        :meth:`layout` for the notes)."""
        from genlens.diffusion.layout import layout_channels

        checked = [self.layout(x)[0] for x in layouts]
        return layout_channels(checked, self.model.config).repeat_interleave(n, 0).to(self.device)

    def condition(self, what: Any, n: int = 1, config: SamplingConfig | None = None) -> Any:
        """A condition for ``n`` images of ``what``: a class name or index (class models; a text model draws its
        plain prompt), a prompt (text models), a layout or its text (layout models), a list of those (``n``
        each), labels (B,), (tokens, mask) or layout channels as they are, or None (unconditional models)."""
        if what is None:
            if self.cond_kind != "none":
                raise GenlensError("choose what to draw: a class (class models), a prompt (text models) or a "
                                   "layout (layout models)")
            return None
        if self.cond_kind == "layout" and not (isinstance(what, torch.Tensor) and what.ndim == 4):
            return self.layout_condition(list(what) if isinstance(what, list) else [what], n)
        if isinstance(what, torch.Tensor):
            return self.class_condition(what) if what.dtype in (torch.long, torch.int) else what
        if isinstance(what, tuple) and len(what) == 2 and isinstance(what[0], torch.Tensor):
            return tuple(t.to(self.device) for t in what)
        items = list(what) if isinstance(what, (list, tuple)) else [what]
        if self.cond_kind == "text" and all(isinstance(i, str) for i in items):
            tokens, mask = self.prompt_condition(items, config)[0]
            return tokens.repeat_interleave(n, 0), mask.repeat_interleave(n, 0)
        from genlens.data.base import resolve_class

        labels = [resolve_class(str(i), self.class_names) if not isinstance(i, int) else i for i in items]
        return self.class_condition(torch.tensor(labels).repeat_interleave(n))

    # ------------------------------------------------------------------------------------------ sampling
    def sample(self, condition: Any = None, n: int = 1, *, generator: torch.Generator | None = None,
               callback=None, config: SamplingConfig | None = None, noise: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` images (per item of ``condition``; see :meth:`condition`) as (B, C, H, W) in [0, 1], drawn with
        ``config`` (default ``self.config``). ``callback(info)`` sees every step: ``step``, ``total``,
        ``timestep``, ``x_t`` (the noisy image) and ``x0`` (the predicted clean image). ``noise``: x_T given
        explicitly (see :func:`genlens.diffusion.sample.sample`)."""
        config = sampling_config(config or self.config)
        net = self.denoiser(config)
        cond = self.condition(condition, n, config)
        if isinstance(cond, tuple) and cond[0].ndim == 4:  # caption-anchored prompts
            from genlens.diffusion.anchors import AnchorConfig, AnchoredDenoiser

            net = AnchoredDenoiser(net, AnchorConfig(k=cond[0].shape[1] - 1))
        return sample(net, cond, config, n=n, schedule=self.schedule, generator=generator, callback=callback,
                      noise=noise)


# ----------------------------------------------------------------------------------------- recommendations
def recommend(folder: str | os.PathLike, changes: dict[str, Any], *, note: str | None = None
              ) -> tuple[dict[str, Any], str]:
    """Change the recommended sampling settings stored in ``folder`` (``changes``: SamplingConfig fields, as
    :func:`settings_from_flags` gives them; ``guide_model=None`` recommends no guide) and return them with their
    note. A guide must load and match before it is recommended; a guide beside the folder is stored by name."""
    from genlens.diffusion.io import write_sampling

    bundle = load_diffusion(folder, verify=False)
    settings, changes = dict(bundle.sampling), dict(changes)
    if bundle.kind == "diffusion-none" and changes.get("guidance_interval") is not None:
        raise GenlensError("this model is unconditional, so it has no guidance to limit; drop --guidance-interval")
    if "guide_model" in changes:
        guide = changes.pop("guide_model")
        settings.pop("guide_model", None)
        settings.pop("guide_weight", None)
        if guide is not None:
            sibling = Path(guide).parent == Path(folder).resolve().parent
            settings |= {"guide_model": Path(guide).name if sibling else guide,
                         "guide_weight": changes.pop("guide_weight", 2.0)}
    if "guide_weight" in changes and settings.get("guide_model") is None:
        raise GenlensError("--guide-weight needs a guide: pass --guide-model FOLDER as well")
    settings |= changes
    if settings.get("timestep_spacing") == "leading":
        settings.pop("timestep_spacing")  # the default: old folders keep their keys
    note = bundle.note if note is None else note
    if settings != bundle.sampling or note != bundle.note:
        DiffusionPipeline(bundle, replace(SamplingConfig(), **settings), verify=False)  # the guide loads and matches
        write_sampling(folder, settings, note)
    return settings, note


# ----------------------------------------------------------------------------------------- flags
OFF_WORDS = ("none", "off", "all")  # --guidance-interval none: guide at every step, whatever the model says
GUIDE_OFF_WORDS = ("none", "off")  # --guide-model none: no autoguidance, whatever the model says


def parse_interval(text: str, flag: str = "--guidance-interval") -> tuple[int, int] | None:
    """``"LO,HI"`` -> (lo, hi); ``none``/``off``/``all`` -> None (every step)."""
    if text.strip().lower() in OFF_WORDS:
        return None
    try:
        lo, hi = (int(p) for p in text.split(","))
    except ValueError:
        raise GenlensError(f"{flag} '{text}' must be two integer timesteps LO,HI (e.g. 150,700) or 'none' for "
                           "guidance at every step") from None
    return check_interval((lo, hi))


def settings_from_flags(*, sampler: str | None = None, steps: int | None = None, guidance: float | None = None,
                        guidance_interval: str | None = None, timestep_spacing: str | None = None,
                        guide_model: str | None = None, guide_weight: float | None = None,
                        anchors: int | None = None) -> dict[str, Any]:
    """The sampling settings a user gave on the command line (flags left out are absent, so the model's
    recommendation or the default applies), checked before any model loads. ``--guide-model none`` turns the
    guide off; a guide folder is taken relative to the working directory."""
    out: dict[str, Any] = {}
    for key, value in (("sampler", sampler), ("steps", steps), ("guidance", guidance), ("anchors", anchors),
                       ("guide_weight", guide_weight)):
        if value is not None:
            out[key] = value
    if guidance_interval is not None and guidance_interval.strip():
        out["guidance_interval"] = parse_interval(guidance_interval)
    if timestep_spacing is not None and timestep_spacing.strip():
        out["timestep_spacing"] = str(TimestepSpacing.parse(timestep_spacing))
    if guide_model is not None and guide_model.strip():
        off = guide_model.strip().lower() in GUIDE_OFF_WORDS
        out["guide_model"] = None if off else str(Path(guide_model).resolve())
    sampling_config(**out)  # a bad value is one line now, before a model loads
    return out
