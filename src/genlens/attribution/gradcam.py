"""Grad-CAM: one torch-native implementation, differentiable, on the model's device.

Grad-CAM (Selvaraju et al., ICCV 2017, arXiv 1610.02391, eq. 1-2): for a layer's activations
A (B, C, h, w) and a scalar score y per sample,

    w_c = mean_{ij} dy/dA_cij                  (channel weights, "neuron importance")
    CAM = relu(sum_c w_c A_c)                   relu="after_sum"  (the paper)
    CAM = sum_c relu(w_c A_c)                   relu="per_channel" (EqGAN-SA's variant, arXiv 2112.00718)

Grad-CAM++ (Chattopadhay et al., WACV 2018, arXiv 1710.11063, eq. 19) replaces the plain mean by
w_c = sum_ij a_cij relu(g_cij) with a_cij = g^2 / (2 g^2 + sum_ab A_cab g^3).

The same code serves explanations (``handle_cam``) and GAN training: the target may be any callable
mapping the model output to a per-sample score (B,) or a scalar (e.g. softplus(-D(G(z))).mean()), and
with ``create_graph=True`` the CAM stays in the autograd graph *through the activations* (the channel
weights are detached unless ``detach_weights=False``), so a loss on the CAM reaches the inputs and the
generator behind them. Gradients are taken with ``torch.autograd.grad``: no ``.grad`` of any parameter is
touched, and the model's train/eval mode is never changed here (``handle_cam`` uses ``eval_mode``).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genlens.attribution.hooks import ActivationCapture
from genlens.errors import GenlensError
from genlens.registry import Registry

Target = int | torch.Tensor | Callable[[torch.Tensor], torch.Tensor] | None
RELU_MODES = ("after_sum", "per_channel", "none")


@dataclass
class CAMResult:
    cam: torch.Tensor  # (B, h, w) raw CAM at the layer's resolution (no upsampling, no normalisation)
    output: torch.Tensor  # the model's output (logits); detached unless create_graph=True
    activations: torch.Tensor  # (B, C, h, w)
    gradients: torch.Tensor  # (B, C, h, w) d score / d activations
    weights: torch.Tensor  # (B, C) channel weights
    target: torch.Tensor | None  # (B,) class indices, or None for a callable target


class GradCAM:
    """Grad-CAM of ``layer`` inside ``model`` (an nn.Module or any callable, e.g. a ModelHandle).

    Subclasses override :meth:`get_cam_weights`. Options are checked here, at construction.
    ``reshape`` maps the layer output to (B, C, h, w); by default 4-D outputs are used as they are and
    token outputs (B, N, D) become (B, D, h, w) after dropping prefix (class/register) tokens.
    """

    def __init__(self, model: Callable[[torch.Tensor], torch.Tensor], *, layer: nn.Module,
                 reshape: Callable[[torch.Tensor], torch.Tensor] | None = None, relu: str = "after_sum",
                 detach_weights: bool = True) -> None:
        if not callable(model):
            raise TypeError(f"model must be callable, got {type(model).__name__}")
        if not isinstance(layer, nn.Module):
            raise GenlensError(f"layer must be an nn.Module (got {type(layer).__name__}); "
                               "pass e.g. model.stages[-1] or handle.layer('stages.2')")
        if relu not in RELU_MODES:
            raise GenlensError(f"unknown relu mode '{relu}'; choose one of: {', '.join(RELU_MODES)}")
        self.model = model
        self.layer = layer
        self.reshape = reshape
        self.relu = relu
        self.detach_weights = detach_weights
        self.layer_name = _module_name(model, layer)

    # --- the one hook to override --------------------------------------------------------------
    def get_cam_weights(self, activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) activations and gradients -> (B, C) channel weights. Grad-CAM: spatial mean."""
        return gradients.mean(dim=(2, 3))

    # --- computation ---------------------------------------------------------------------------
    def compute(self, inputs: torch.Tensor, *, target: Target = None,
                create_graph: bool = False) -> CAMResult:
        """Forward, score, gradient and the raw CAM (B, h, w) at the layer's resolution.

        Runs with grad enabled even inside ``torch.no_grad()``. With ``create_graph=False`` every returned
        tensor is detached and the graph is freed; with ``True`` the graph is kept so that both the CAM and
        the model output can still be back-propagated.
        """
        with torch.enable_grad(), ActivationCapture(self.layer, name=self.layer_name) as cap:
            output = self.model(inputs)
        raw = cap.output
        with torch.enable_grad():
            score, index = _scores(output, target, batch=inputs.shape[0])
            second_order = create_graph and not self.detach_weights
            (grads,) = torch.autograd.grad(score.sum(), raw, create_graph=second_order,
                                           retain_graph=create_graph)
        acts = self._spatial(raw)
        grads = self._spatial(grads)
        if not create_graph:
            acts, output = acts.detach(), output.detach()
        with torch.set_grad_enabled(create_graph):
            weights = self.get_cam_weights(acts, grads)
            if self.detach_weights:
                weights = weights.detach()
            cam = _combine(weights, acts, self.relu)
        return CAMResult(cam=cam, output=output, activations=acts, gradients=grads, weights=weights,
                         target=index)

    def __call__(self, inputs: torch.Tensor, *, target: Target = None, create_graph: bool = False,
                 upsample_to: int | tuple[int, int] | None = None, normalize: bool = True) -> torch.Tensor:
        """CAM (B, H, W): raw CAM, bilinearly upsampled to ``upsample_to`` if given, min-max normalised per
        image to [0, 1] if ``normalize``."""
        cam = self.compute(inputs, target=target, create_graph=create_graph).cam
        if upsample_to is not None:
            cam = upsample_cam(cam, upsample_to)
        return normalize_cam(cam) if normalize else cam

    def _spatial(self, x: torch.Tensor) -> torch.Tensor:
        if self.reshape is not None:
            out = self.reshape(x)
            if out.ndim != 4:
                raise GenlensError(f"reshape must return (B, C, h, w); it returned shape {tuple(out.shape)}")
            return out
        if x.ndim == 4:
            return x
        if x.ndim == 3:
            return tokens_to_map(x, num_prefix_tokens=_num_prefix_tokens(self.model))
        raise GenlensError(
            f"layer '{self.layer_name}' outputs shape {tuple(x.shape)} with no spatial grid; pick a "
            "convolutional stage or a token block, or pass reshape= to map it to (B, C, h, w)"
        )


CAM_METHODS: Registry[GradCAM] = Registry("CAM method")
CAM_METHODS.register("gradcam", paper="arXiv 1610.02391")(GradCAM)


@CAM_METHODS.register("gradcam++", paper="arXiv 1710.11063")
class GradCAMPlusPlus(GradCAM):
    """Grad-CAM++ channel weights (Chattopadhay et al. 2018, eq. 19, with the exp(score) trick: the
    higher-order derivatives become powers of the first one)."""

    def get_cam_weights(self, activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        g2 = gradients.pow(2)
        g3 = g2 * gradients
        sum_a = activations.sum(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        denom = 2 * g2 + sum_a * g3
        safe = torch.where(denom != 0, denom, torch.ones_like(denom))
        alpha = torch.where(gradients != 0, g2 / safe, torch.zeros_like(g2))
        return (alpha * F.relu(gradients)).sum(dim=(2, 3))


def grad_cam(model_or_callable: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor, *,
             layer: nn.Module, target: Target = None, create_graph: bool = False,
             reshape: Callable[[torch.Tensor], torch.Tensor] | None = None, relu: str = "after_sum",
             upsample_to: int | tuple[int, int] | None = None, normalize: bool = True,
             method: str = "gradcam", detach_weights: bool = True) -> torch.Tensor:
    """CAM (B, H, W) of ``layer`` for ``target`` on ``inputs`` (already in the model's input space).

    ``target``: None = each sample's predicted class; an int or (B,) integer tensor of class indices; or a
    callable ``output -> (B,) or scalar`` score. ``upsample_to=None`` keeps the layer resolution
    (e.g. (B, 7, 7)); ``normalize=False`` returns the raw CAM. The model's mode is not changed.
    """
    cam = CAM_METHODS.create(method, model=model_or_callable, layer=layer, reshape=reshape, relu=relu,
                             detach_weights=detach_weights)
    return cam(inputs, target=target, create_graph=create_graph, upsample_to=upsample_to, normalize=normalize)


# --- small pieces ----------------------------------------------------------------------------------
def upsample_cam(cam: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """(B, h, w) -> (B, H, W), bilinear."""
    size = (size, size) if isinstance(size, int) else tuple(int(s) for s in size)
    if tuple(cam.shape[-2:]) == size:
        return cam
    return F.interpolate(cam.unsqueeze(1), size=size, mode="bilinear", align_corners=False).squeeze(1)


def normalize_cam(cam: torch.Tensor, eps: float = 1e-8, *, detach_range: bool = False) -> torch.Tensor:
    """Min-max normalise each (h, w) map to [0, 1]; a constant map becomes zeros. Differentiable; with
    ``detach_range`` the minimum and maximum are constants for autograd (a loss on the map then reshapes
    the whole map instead of mostly moving its two extreme pixels)."""
    flat = cam.flatten(1)
    lo = flat.min(dim=1).values.view(-1, 1, 1)
    hi = flat.max(dim=1).values.view(-1, 1, 1)
    if detach_range:
        lo, hi = lo.detach(), hi.detach()
    return (cam - lo) / (hi - lo).clamp_min(eps)


def tokens_to_map(tokens: torch.Tensor, *, num_prefix_tokens: int | None = None) -> torch.Tensor:
    """(B, N, D) tokens -> (B, D, h, w) with h = w = sqrt(N - prefix), dropping the prefix tokens.

    With ``num_prefix_tokens`` unknown: no prefix when N is a square, else the smallest prefix (<= 8)
    that leaves a square grid. timm patch tokens are row-major, so a plain reshape restores the grid.
    """
    b, n, d = tokens.shape
    candidates = [num_prefix_tokens] if num_prefix_tokens else []
    candidates += list(range(min(n, 9)))
    for p in candidates:
        side = math.isqrt(n - p)
        if side > 0 and side * side == n - p:
            return tokens[:, p:, :].transpose(1, 2).reshape(b, d, side, side)
    raise GenlensError(
        f"cannot arrange {n} tokens into a square grid; pass reshape= mapping (B, N, D) to (B, D, h, w)"
    )


def _combine(weights: torch.Tensor, acts: torch.Tensor, relu: str) -> torch.Tensor:
    maps = weights[:, :, None, None] * acts  # (B, C, h, w)
    if relu == "per_channel":
        return F.relu(maps).sum(dim=1)
    cam = maps.sum(dim=1)
    return F.relu(cam) if relu == "after_sum" else cam


def _scores(output: object, target: Target, *, batch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-sample score (B,) (or a scalar for callables) and the class indices used, if any."""
    if callable(target) and not isinstance(target, torch.Tensor):
        score = target(output)
        if not isinstance(score, torch.Tensor):
            raise GenlensError(f"the target callable returned {type(score).__name__}; "
                               "return a tensor (B,) or a scalar")
        if score.ndim == 0:
            return score, None
        if score.numel() == batch and score.ndim <= 2:
            return score.reshape(batch), None
        raise GenlensError(f"the target callable returned shape {tuple(score.shape)}; "
                           "return (B,) or a scalar")
    if not isinstance(output, torch.Tensor) or output.ndim != 2:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise GenlensError(f"class targets need (B, classes) logits, the model returned {shape}; "
                           "pass a callable target instead")
    b, k = output.shape
    if target is None:
        index = output.detach().argmax(dim=1)
    elif isinstance(target, bool) or not isinstance(target, (int, torch.Tensor)):
        raise GenlensError("target must be None, a class index, an index tensor or a callable; "
                           f"got {target!r}")
    else:
        index = torch.as_tensor(target, device=output.device)
        if index.is_floating_point() or index.is_complex() or index.dtype == torch.bool:
            raise GenlensError(f"class index tensor must be integer, got {index.dtype}")
        index = index.long().expand(b) if index.ndim == 0 else index.long().reshape(-1)
        if index.numel() != b:
            raise GenlensError(f"got {index.numel()} class indices for a batch of {b}; "
                               "give one per image or one int")
        bad = index[(index < 0) | (index >= k)]
        if bad.numel():
            raise GenlensError(f"class index {int(bad[0])} is out of range; "
                               f"this model has classes 0..{k - 1}")
    return output.gather(1, index.view(b, 1)).squeeze(1), index


def _num_prefix_tokens(model: object) -> int | None:
    for m in (model, getattr(model, "model", None)):
        p = getattr(m, "num_prefix_tokens", None)
        if isinstance(p, int):
            return p
    return None


def _module_name(model: object, layer: nn.Module) -> str:
    root = model if isinstance(model, nn.Module) else getattr(model, "model", None)
    if isinstance(root, nn.Module):
        for name, mod in root.named_modules():
            if mod is layer:
                return name or type(layer).__name__
    return type(layer).__name__


# --- handles: [0, 1] images, class names, default layers -------------------------------------------
def default_layer(handle) -> str:
    """A sensible CAM layer per architecture: a CNN's last stage, a transformer's / mixer's last block.

    For a ViT that pools the class token, the last block's *output* patch tokens never reach the logits
    (their gradient is exactly zero), so we take that block's ``norm1``: its patch tokens feed the last
    attention, through which the class token reads them (the usual choice for ViT Grad-CAM).
    """
    if getattr(handle, "meta", {}).get("cam_layer"):  # chosen when the handle was made (genlens.wrap)
        return handle.meta["cam_layer"]
    m = handle.model
    stages, blocks = getattr(m, "stages", None), getattr(m, "blocks", None)
    if isinstance(stages, nn.Module) and len(stages):
        return f"stages.{len(stages) - 1}"
    if isinstance(blocks, nn.Module) and len(blocks):
        last = f"blocks.{len(blocks) - 1}"
        if getattr(m, "global_pool", None) == "token" and hasattr(blocks[-1], "norm1"):
            return f"{last}.norm1"
        return last
    if isinstance(getattr(m, "layer4", None), nn.Module):  # torchvision ResNets
        return "layer4"
    tops = sorted({n.split(".")[0] for n in handle.named_layers()})
    raise GenlensError(f"no default Grad-CAM layer for {handle.name} ({handle.arch}); pass layer=, "
                       f"top-level layers: {', '.join(tops)}")


def handle_cam(handle, images01: torch.Tensor, *, layer: str | None = None,
               target: int | str | torch.Tensor | Callable[[torch.Tensor], torch.Tensor] | None = None,
               method: str = "gradcam", relu: str = "after_sum", create_graph: bool = False,
               upsample: bool = True, normalize: bool = True) -> torch.Tensor:
    """Grad-CAM for a :class:`~genlens.models.handle.ModelHandle` on [0, 1] images (B, C, H, W).

    The handle normalises (and resizes) the images; ``layer`` is a name such as ``"stages.2"`` or
    ``"blocks.5"`` (None: :func:`default_layer`); ``target`` is a class name or index, an index tensor, a
    callable on the logits, or None for the predicted class. The model runs in eval mode inside an
    explicit ``eval_mode`` context (BatchNorm running statistics, no dropout) and every submodule's mode
    is restored afterwards. Returns (B, H, W) CAMs on the model's device, upsampled to the images' size
    if ``upsample`` and in [0, 1] if ``normalize``.
    """
    from genlens.utils.modes import eval_mode

    module = handle.layer(layer or default_layer(handle))
    if isinstance(target, (str, int)) and not isinstance(target, bool):
        target = handle.class_index(target)
    x = images01.to(handle.device)
    with eval_mode(handle.model):
        return grad_cam(handle, x, layer=module, target=target, create_graph=create_graph, relu=relu,
                        method=method, upsample_to=tuple(x.shape[-2:]) if upsample else None,
                        normalize=normalize)
