"""The GAN training loop: two optimizers, R1, optional alignment loss, EMA of G, exact resume.

One step (StyleGAN2 schedule, arXiv 1912.04958, with lazy R1):
  D step:  softplus(D(G(z))) + softplus(-D(x)) [+ r1_every * R1 every r1_every steps]
  G step:  softplus(-D(G(z))) [+ align_weight * alignment loss for ``arch="eqgan-sa"``], D frozen
  EMA of G.
A layout GAN (``arch="layout"``) gets ``layouts(idx)``, the layout channels of data items ``idx``: reals are
judged with their own layout, fakes are drawn for (and judged with) the layouts of random data items.
Reuses :mod:`genlens.training` pieces: ``DataOrder`` for the real batches, ``EMA``, atomic
``save_checkpoint`` / ``load_checkpoint`` (G and D saved together as one module, both optimizers as one
state), ``capture_rng_state`` (z, heatmaps and noise all come from one ``torch.Generator``, checkpointed),
and Accelerate for the device the same way :func:`genlens.training.train` does.

Several processes (``accelerate launch``): data-parallel without DDP, as StyleGAN2-ADA's loop does, since R1
and EqGAN-SA's Grad-CAM take a double backward: the initial weights are broadcast from rank 0, each process
takes its slice of every global batch and draws its own z / heatmaps / noise, and after each phase's backward
the phase's gradients are averaged (:func:`~genlens.training.distributed.average_gradients`), so every
process takes the same optimizer steps. Only rank 0 writes checkpoints (with every process's RNG state).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from accelerate.utils import gather_object
from torch import nn

from genlens.errors import GenlensError
from genlens.gan.config import MIGRATION as MODEL_MIGRATION
from genlens.gan.layout import with_layout
from genlens.gan.losses import d_loss, disequilibrium, g_loss, r1_penalty
from genlens.gan.networks import Discriminator, GanConfig, Generator, part_name
from genlens.gan.spatial import AlignmentResult, alignment_loss, frozen
from genlens.training.checkpoint import find_checkpoint, load_checkpoint, read_checkpoint_state, save_checkpoint
from genlens.training.data_order import DataOrder
from genlens.training.distributed import all_reduce_mean, average_gradients, broadcast_module, split_generators
from genlens.training.ema import EMA
from genlens.training.interrupt import DeferredInterrupt
from genlens.training.loop import _make_accelerator
from genlens.training.rng import capture_rng_state, restore_rng_state
from genlens.utils.config_io import Migration, from_dict, to_dict
from genlens.utils.seed import seed_everything


@dataclass(frozen=True)
class GanTrainConfig:
    """How to train; every field except ``RUN_CONTROL`` must match when resuming."""

    total_steps: int
    batch_size: int
    seed: int = 0
    lr_g: float = 2e-3
    lr_d: float = 2e-3
    betas: tuple[float, float] = (0.0, 0.99)
    r1_gamma: float = 0.1
    r1_every: int = 4  # lazy regularisation; 1 = every step
    align_weight: float = 1.0
    ema_decay: float = 0.999
    di_every: int = 0  # measure the disequilibrium indicator every this many steps (0: only at the end)
    di_samples: int = 256
    device: str = "auto"
    mixed_precision: str = "no"
    checkpoint_every: int = 0
    hflip: bool = False  # random horizontal flips of the real batches (drawn from the run's generator)

    RUN_CONTROL: ClassVar[tuple[str, ...]] = ("device", "checkpoint_every", "di_every", "di_samples")

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        if self.total_steps < 1 or self.batch_size < 1:
            raise GenlensError("total_steps and batch_size must be at least 1")
        if self.r1_every < 1:
            raise GenlensError(f"r1_every must be >= 1, got {self.r1_every}")
        if self.mixed_precision != "no":
            raise GenlensError("the GAN loop trains in full precision (R1 needs double backward); "
                               "use mixed_precision='no'")

    def identity(self) -> dict[str, Any]:
        return {k: v for k, v in to_dict(self).items() if k not in self.RUN_CONTROL}

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "GAN training config") -> GanTrainConfig:
        """Read a training config written by any genlens version (``TRAIN_MIGRATION``)."""
        return from_dict(cls, data, where=where, migration=TRAIN_MIGRATION)


# Options that left the configs (issue 28), with the only value that still means today's training.
TRAIN_MIGRATION = Migration(removed={"align_cam": "g-loss"}, added={"hflip": False})


class GanPair(nn.Module):
    """G and D in one module, so one checkpoint file holds both (``make_generator``: G with injected parts)."""

    def __init__(self, config: GanConfig, *, make_generator: Callable[[GanConfig], Generator] = Generator) -> None:
        super().__init__()
        self.G = make_generator(config)
        self.D = Discriminator(config)


class _Optimizers:
    """Both optimizers as one stateful object for ``save_checkpoint(optimizer=...)``."""

    def __init__(self, **optims: torch.optim.Optimizer) -> None:
        self.optims = optims

    def state_dict(self) -> dict[str, Any]:
        return {k: o.state_dict() for k, o in self.optims.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, o in self.optims.items():
            o.load_state_dict(state[k])


@dataclass
class GanRun:
    pair: GanPair
    ema: EMA
    history: list[dict[str, Any]]
    step: int
    past: list[dict[str, Any]] = field(default_factory=list)  # the records of the calls before this one

    @property
    def whole_history(self) -> list[dict[str, Any]]:
        """Every step's record since the run began (earlier calls: ``HISTORY_KEYS`` only, from the checkpoint)."""
        return self.past + self.history

    @property
    def G_ema(self) -> Generator:
        return self.ema.ema_model

    def metrics(self) -> dict[str, Any]:
        """The run's headline numbers: steps, the last DI and mean logits, DI over all the run's steps."""
        whole = self.whole_history
        last = whole[-1] if whole else {}
        return {"steps": self.step, "di": last.get("di"), "d_real": last.get("d_real"), "d_fake": last.get("d_fake"),
                "di_history": [[r["step"], r["di"]] for r in whole if r.get("di") is not None]}


# What every checkpoint keeps of each step's record (its ``history``), so a resumed run reports all its steps.
HISTORY_KEYS = ("step", "loss_d", "loss_g", "d_real", "d_fake", "di")


# Checkpoints written before the injected parts were recorded used the shipped ones; before the layout GAN
# (issue 27), no model had layout classes.
PARTS_ADDED = {"parts.block": "GBlock", "parts.heat_encoder": "MeanHeatmaps", "parts.heat_sampler": "sample_heatmaps",
               "parts.alignment": "alignment_loss", "model.class_names": [], "model.max_items": 0,
               "train.hflip": False}  # before --hflip, no run flipped


def _check_removed_options(found: Path) -> tuple[str, ...]:
    """Refuse a checkpoint trained with an option that left the configs (any value but today's behaviour);
    returns the removed keys it holds, which the config comparison then skips."""
    stored = read_checkpoint_state(found).get("config", {})
    where = f"checkpoint '{found}'"
    skip = []
    for part, migration in (("model", MODEL_MIGRATION), ("train", TRAIN_MIGRATION)):
        data = stored.get(part) or {}
        migration.apply(data, where=f"{where} {part} config")
        skip += [f"{part}.{k}" for k in migration.removed if k in data]
    return tuple(skip)


def measure_di(G: Generator, D: Discriminator, held_out: torch.Tensor, *, n: int, seed: int,
               batch: int = 128, layouts: Callable[[torch.Tensor], torch.Tensor] | None = None) -> float:
    """E[D(real)] - E[D(fake)] on ``n`` held-out reals and ``n`` fresh fakes (own generator: training
    randomness is untouched). A layout GAN: ``layouts(idx)`` are the held-out reals' layouts, and the fakes
    are drawn for (and judged with) the same layouts."""
    device = next(D.parameters()).device
    g = torch.Generator().manual_seed(seed)
    n = min(n, len(held_out))
    real_l, fake_l = [], []
    with torch.no_grad():
        for i in range(0, n, batch):
            m = min(batch, n - i)
            lay = None if layouts is None else layouts(torch.arange(i, i + m)).to(device)
            real_l.append(D(held_out[i:i + m].to(device), lay))
            z = torch.randn(m, G.config.z_dim, generator=g).to(device)
            fake_l.append(D(G(z, layout=lay, generator=g), lay))
    return disequilibrium(torch.cat(real_l), torch.cat(fake_l))


def train_gan(
    *,
    model_config: GanConfig,
    config: GanTrainConfig,
    data: torch.Tensor,
    held_out: torch.Tensor | None = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    stop_at_step: int | None = None,
    callback: Callable[[dict[str, Any]], None] | None = None,
    make_generator: Callable[[GanConfig], Generator] = Generator,
    alignment: Callable[..., AlignmentResult] = alignment_loss,
    layouts: Callable[[torch.Tensor], torch.Tensor] | None = None,
    held_out_layouts: Callable[[torch.Tensor], torch.Tensor] | None = None,
    labels: torch.Tensor | None = None,
) -> GanRun:
    """Train G and D on ``data`` (N, C, S, S) in [-1, 1], S the config's canvas; return the models, EMA and this call's history
    (``GanRun.whole_history``: the run's, earlier calls' records read from the checkpoint).

    ``callback(record)`` gets ``{"step", "total", "loss_d", "loss_g", "d_real", "d_fake"[, "r1", "align",
    "di"]}`` after every step on the main process (d_real / d_fake: mean raw logits of this step's batch; with
    several processes every value is the mean over them). On NaN/Inf (in any process) the run stops before
    touching the weights with a one-line error naming the step; ``run_dir/last`` is kept.

    Variants are injected, not configured: ``make_generator(model_config)`` builds G (e.g.
    ``functools.partial(Generator, block=LayerSelBlock)``), ``alignment(D, fake, heatmaps)`` is EqGAN-SA's
    alignment loss. The checkpoint records their names (``part_name``): a run resumes only with the same ones.
    A class-conditional config (``model_config.num_classes``) takes the reals' ``labels`` (N,); its fakes are
    drawn for uniform random classes, and D judges both with their classes (EqGAN-SA's alignment loss uses D's
    unconditional part).
    """
    s = model_config.resolution
    if data.ndim != 4 or tuple(data.shape[1:]) != (model_config.img_channels, s, s):
        raise GenlensError(f"GAN data must be (N, {model_config.img_channels}, {s}, {s}) in [-1, 1], "
                           f"got {tuple(data.shape)}; pad Fashion-MNIST 28 -> 32")
    if model_config.use_layout != (layouts is not None):
        raise GenlensError("a layout GAN trains with layouts (genlens.gan.layout.train_inputs) and only it does")
    k = model_config.num_classes
    if k and (labels is None or len(labels) != len(data) or int(labels.max()) >= k):
        raise GenlensError(f"a class-conditional GAN of {k} classes trains with one label in [0, {k}) per image")
    if config.hflip and layouts is not None:
        raise GenlensError("--hflip would mirror scenes away from their layouts; drop it for a layout GAN")
    accelerator = _make_accelerator(config)
    rank, world = accelerator.process_index, accelerator.num_processes
    # --batch is global: each process takes its slice (one line when it does not divide by the process count)
    order = DataOrder(len(data), batch_size=config.batch_size, seed=config.seed, num_processes=world,
                      process_index=rank)
    device = accelerator.device
    seed_everything(config.seed)
    pair = GanPair(model_config, make_generator=make_generator).to(device)  # never DDP-wrapped: see above
    broadcast_module(pair)  # every process starts from rank 0's weights (a resume then loads the checkpoint's)
    opt_g = torch.optim.Adam(pair.G.parameters(), lr=config.lr_g, betas=config.betas)
    opt_d = torch.optim.Adam(pair.D.parameters(), lr=config.lr_d, betas=config.betas)
    G, D = pair.G, pair.D
    ema = EMA(G, decay=config.ema_decay).to(device)
    optims = _Optimizers(g=opt_g, d=opt_d)
    gen = torch.Generator().manual_seed(config.seed)  # z, heatmaps, noise (CPU draws: device-independent)
    generators = {"gan": gen}
    identity = {"train": config.identity(), "model": to_dict(model_config), "num_items": len(data),
                "parts": {**pair.G.parts, "alignment": part_name(alignment)}}

    run_dir = Path(run_dir) if run_dir is not None else None
    found = find_checkpoint(run_dir) if run_dir is not None else None
    if found is not None and not resume:
        raise GenlensError(f"{run_dir} already holds a checkpoint; pass --resume to continue it or choose a "
                           "new run dir")
    step = 0
    past: list[dict[str, Any]] = []
    if found is not None:
        # total_steps may grow: the learning rates are constant (StyleGAN2 has no schedule) and the data order
        # does not depend on it, so a finished run extended to more steps equals one trained that long.
        saved = load_checkpoint(found, model=pair, config=identity, optimizer=optims, ema=ema,
                                ignore=("train.total_steps", *_check_removed_options(found)), added=PARTS_ADDED)
        step = int(saved["step"])
        past = [dict(r) for r in saved.get("history", [])]  # checkpoints before issue 29 kept none
        if step > config.total_steps:
            raise GenlensError(f"{run_dir} is already at step {step}, past the {config.total_steps} steps asked "
                               f"for; pass --steps {step} or more to continue it")
        order.load_state_dict(saved["data_order"])
        rngs = saved["rng"] if isinstance(saved["rng"], list) else [saved["rng"]]  # one process's dict before
        if len(rngs) == world:
            restore_rng_state(rngs[rank], generators=generators)
        else:  # another process count (as the shared loop): same data order, streams re-seeded from (seed, step)
            split_generators(generators, rank, salt=1_000_003 * step)
    elif world > 1:  # each process draws its own z / heatmaps / noise for its slice (rank 0 keeps the stream)
        split_generators(generators, rank)
    last_saved = step if found is not None else None
    end = config.total_steps if stop_at_step is None else min(config.total_steps, stop_at_step)

    def save(at_step: int) -> None:
        rng = capture_rng_state(generators=generators)
        rngs = gather_object([rng]) if world > 1 else [rng]
        if accelerator.is_main_process:
            save_checkpoint(run_dir, step=at_step, model=pair, config=identity, optimizer=optims, ema=ema,
                            state={"data_order": order.state_dict(), "rng": rngs, "num_processes": world,
                                   "history": past + [{k: r[k] for k in HISTORY_KEYS if k in r} for r in history]})
        accelerator.wait_for_everyone()

    def layout_of(idx: torch.Tensor | None) -> torch.Tensor | None:
        return None if layouts is None or idx is None else layouts(idx).to(device)

    def fakes(batch: int):
        z = torch.randn(batch, model_config.z_dim, generator=gen).to(device)
        heat = G.sample_heatmaps(batch, generator=gen) if model_config.use_sel else None
        lay = layout_of(torch.randint(len(data), (batch,), generator=gen) if layouts is not None else None)
        lab = torch.randint(k, (batch,), generator=gen).to(device) if k else None  # only conditional runs draw
        return G(z, heat, layout=lay, labels=lab, generator=gen), heat, lay, lab

    def check_finite(which: str, *values: torch.Tensor | None) -> list[float]:
        """The processes' mean of each value (0 for None); the first, the phase's total loss, must be finite."""
        stats = all_reduce_mean(torch.stack([torch.zeros((), device=device) if v is None
                                             else v.detach().float().reshape(()) for v in values]))
        means = stats.tolist()
        if not math.isfinite(means[0]):
            kept = ("no checkpoint was saved yet" if last_saved is None
                    else f"{run_dir}/last (step {last_saved}) is kept")
            raise GenlensError(f"{which} loss is {means[0]} at step {step + 1}; training stopped and {kept}; "
                               "lower the learning rate or raise r1_gamma")
        return means

    history: list[dict[str, Any]] = []
    with DeferredInterrupt() as interrupt:
        while step < end:
            start = time.perf_counter()
            idx = order.next_indices()
            real, real_layout = data[idx].to(device), layout_of(idx)
            real_labels = labels[idx].to(device) if k else None
            b = real.shape[0]
            if config.hflip:  # from the checkpointed generator, before this step's z: resume stays exact
                flip = (torch.rand(b, generator=gen) < 0.5).to(device)
                real = torch.where(flip[:, None, None, None], real.flip(-1), real)
            record: dict[str, Any] = {"step": step + 1, "total": config.total_steps}
            # --- D step
            with torch.no_grad():
                fake, _, fake_layout, fake_labels = fakes(b)
            lazy_r1 = config.r1_gamma > 0 and step % config.r1_every == 0
            if lazy_r1:
                r1, real_logits = r1_penalty(with_layout(D, real_layout, real_labels), real, gamma=config.r1_gamma)
            else:
                r1, real_logits = None, D(real, real_layout, real_labels)
            fake_logits = D(fake, fake_layout, fake_labels)
            loss_d = d_loss(real_logits, fake_logits)
            total_d = loss_d + (r1 * config.r1_every if r1 is not None else 0.0)
            _, mean_d, d_real, d_fake, mean_r1 = check_finite("D", total_d, loss_d, real_logits.mean(),
                                                              fake_logits.mean(), r1)
            opt_d.zero_grad(set_to_none=True)
            accelerator.backward(total_d)
            average_gradients(D.parameters())  # the data-parallel step (one process: nothing)
            opt_d.step()
            opt_d.zero_grad(set_to_none=True)
            # --- G step (D frozen: G's losses never reach D's .grad)
            with frozen(D):
                fake, heat, fake_layout, fake_labels = fakes(b)
                if model_config.use_alignment and config.align_weight > 0:
                    align = alignment(D, fake, heat)
                    loss_g = g_loss(align.logits)
                    total_g, align_loss = loss_g + config.align_weight * align.loss, align.loss
                else:
                    loss_g = g_loss(D(fake, fake_layout, fake_labels))
                    total_g, align_loss = loss_g, None
                _, mean_g, mean_align = check_finite("G", total_g, loss_g, align_loss)
                if align_loss is not None:
                    record["align"] = mean_align
                opt_g.zero_grad(set_to_none=True)
                accelerator.backward(total_g)
                average_gradients(G.parameters())
                opt_g.step()
                opt_g.zero_grad(set_to_none=True)
            ema.update(G)
            step += 1
            record.update(loss_d=mean_d, loss_g=mean_g, d_real=d_real, d_fake=d_fake,
                          images_per_s=b * world / max(time.perf_counter() - start, 1e-9))
            if r1 is not None:
                record["r1"] = mean_r1
            if held_out is not None and (layouts is None) == (held_out_layouts is None) and ((config.di_every and step % config.di_every == 0) or step == end):
                record["di"] = measure_di(G, D, held_out, n=config.di_samples, seed=config.seed + 7919,
                                          layouts=held_out_layouts)
            history.append(record)
            if callback is not None and accelerator.is_main_process:
                callback(record)
            stop = interrupt.requested if world == 1 else bool(all_reduce_mean(
                torch.tensor(float(interrupt.requested), device=device)) > 0)  # one process's Ctrl-C stops all
            if run_dir is not None and (stop or step == end
                                        or (config.checkpoint_every and step % config.checkpoint_every == 0)):
                save(step)
                last_saved = step
            if stop:
                raise KeyboardInterrupt
    return GanRun(pair=pair, ema=ema, history=history, step=step, past=past)
