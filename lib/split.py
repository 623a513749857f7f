"""Split-learning cost model (FlexRel Fig. 3).

The mobile device runs the layers up to and including ``cut_layer``; the edge server runs the rest.
Every epoch the device sends the cut layer's activations of every training sample uplink and receives
their gradients downlink (same size). Computation time follows from each side's multiply-accumulates
(forward, plus ``backward_factor`` × forward for the backward pass) and its throughput; network time
from the bytes sent and the link rates. Everything is derived from the model's shape, so the figure is
deterministic; measured wall times are reported beside it, not mixed into it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lib.config import SplitParams


def layer_macs(model: nn.Module, example_input: torch.Tensor) -> list[tuple[str, int, int]]:
    """``(module name, multiply-accumulates per sample, output values per sample)`` of every leaf module,
    in the order one forward pass calls them. Convolutions and linear layers carry the MACs; other
    leaves (BatchNorm, ReLU, pooling) count 0 MACs but report their output size."""
    names = {m: n for n, m in model.named_modules()}
    calls: list[tuple[str, int, int]] = []

    def hook(module, args, out):
        per_sample_out = out[0].numel()
        if isinstance(module, nn.Conv2d):
            macs = per_sample_out * (module.in_channels // module.groups) * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, nn.Linear):
            macs = module.in_features * module.out_features
        else:
            macs = 0
        calls.append((names[module], macs, per_sample_out))

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(example_input[:1])
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return calls


@dataclass(frozen=True)
class Split:
    """Per-sample sizes of a model cut at one layer."""

    device_macs: int
    server_macs: int
    cut_values: int

    @classmethod
    def of(cls, calls: list[tuple[str, int, int]], cut_layer: str) -> "Split":
        """From :func:`layer_macs`' list, cutting after ``cut_layer``."""
        names = [c[0] for c in calls]
        if cut_layer not in names:
            raise ValueError(f"cut_layer {cut_layer!r} is not a leaf module of the model; choose one of {names}")
        i = names.index(cut_layer)
        return cls(sum(c[1] for c in calls[: i + 1]), sum(c[1] for c in calls[i + 1 :]), calls[i][2])


def cost(split: Split, samples: int, p: SplitParams) -> dict[str, float]:
    """Seconds of computation and of network, and bytes transmitted, for one forward and one backward pass
    over ``samples`` through the split model: a training epoch, or (on the unpruned model and the reference
    images) the relevance computation, whose LRP backward pass costs about what a gradient pass costs and
    whose activations and cut-layer relevances cross the links like activations and gradients."""
    passes = 1.0 + p.backward_factor
    compute = samples * passes * (split.device_macs / (p.device_gmacs * 1e9) + split.server_macs / (p.server_gmacs * 1e9))
    sent = samples * split.cut_values * p.bytes_per_value  # each way
    network = sent * 8 / (p.uplink_mbps * 1e6) + sent * 8 / (p.downlink_mbps * 1e6)
    return {"computation_s": compute, "network_s": network, "bytes": float(2 * sent)}
