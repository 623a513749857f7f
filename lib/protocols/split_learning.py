"""Split-learning cost model (FlexRel Fig. 3).

The mobile device runs the layers up to and including ``cut_layer``; the edge server runs the rest.
Every epoch the device sends the cut layer's activations of every training sample uplink and receives
their gradients downlink (same size). Network time follows from the bytes sent and the link rates. The
server's computation time follows from its multiply-accumulates (forward, plus ``backward_factor`` × forward
for the backward pass) and an assumed throughput. The device's is either measured — the forward and backward
pass up to the cut, timed on this machine (``device_time: measured``, :func:`lib.core.timing.prefix_seconds`) — or
modelled like the server's from an assumed throughput (``device_time: assumed``: deterministic, derived from
the model's shape only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..core import stats, timing
from ..params.flexrel import FlexRelParams
from ..params.split_learning import SplitLearningParams
from . import base_networks, flexrel


def layer_macs(model: nn.Module, example_input: torch.Tensor) -> list[tuple[str, int, int]]:
    """``(module name, multiply-accumulates per sample, output values per sample)`` of every leaf module,
    in the order one forward pass calls them. Convolutions and linear layers carry the MACs; other
    leaves (BatchNorm, ReLU, pooling) count 0 MACs but report their output size."""
    names = {m: n for n, m in model.named_modules()}
    calls: list[tuple[str, int, int]] = []

    def hook(module, args, out):
        per_sample_out = out[0].numel()
        if isinstance(module, nn.Conv2d):
            macs = (
                per_sample_out * (module.in_channels // module.groups) * module.kernel_size[0] * module.kernel_size[1]
            )
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
    """Per-sample sizes of a model cut at one layer, and the device's measured seconds per sample (forward and
    backward; ``None``: not measured, modelled from ``device_macs``)."""

    device_macs: int
    server_macs: int
    cut_values: int
    device_seconds: float | None = None

    @classmethod
    def of(cls, calls: list[tuple[str, int, int]], cut_layer: str, device_seconds: float | None = None) -> "Split":
        """From :func:`layer_macs`' list, cutting after ``cut_layer``."""
        names = [c[0] for c in calls]
        if cut_layer not in names:
            raise ValueError(f"cut_layer {cut_layer!r} is not a leaf module of the model; choose one of {names}")
        i = names.index(cut_layer)
        return cls(sum(c[1] for c in calls[: i + 1]), sum(c[1] for c in calls[i + 1 :]), calls[i][2], device_seconds)


def cost(split: Split, samples: int, p: SplitLearningParams) -> dict[str, float]:
    """Seconds of computation and of network, and bytes transmitted, for one forward and one backward pass
    over ``samples`` through the split model: a training epoch, or (on the unpruned model and the reference
    images) the relevance computation, whose LRP backward pass costs about what a gradient pass costs and
    whose activations and cut-layer relevances cross the links like activations and gradients."""
    passes = 1.0 + p.backward_factor
    device = (
        split.device_seconds
        if split.device_seconds is not None
        else passes * split.device_macs / (p.device_gmacs * 1e9)
    )
    compute = samples * (device + passes * split.server_macs / (p.server_gmacs * 1e9))
    sent = samples * split.cut_values * p.bytes_per_value  # each way
    network = sent * 8 / (p.uplink_mbps * 1e6) + sent * 8 / (p.downlink_mbps * 1e6)
    return {"computation_s": compute, "network_s": network, "bytes": float(2 * sent)}


def device_side(
    p: FlexRelParams, sp: SplitLearningParams, nets: dict[float, nn.Module], repeats: int = 5
) -> dict[float, float | None]:
    """Per network, the split-learning device's measured seconds per training sample (forward and backward up to
    ``sp.cut_layer`` at the protocol's batch size, on this machine's CPU: :func:`lib.core.timing.prefix_seconds`), or
    ``None`` for each when ``sp.device_time`` is ``assumed`` (the cost model then uses ``sp.device_gmacs``)."""
    if sp.device_time == "assumed":
        return {f: None for f in nets}
    x = torch.randn(p.batch_size, *base_networks.Images.of(p).example().shape[1:]).contiguous(
        memory_format=torch.channels_last
    )
    return {f: timing.prefix_seconds(net, x, sp.cut_layer, repeats=repeats) / len(x) for f, net in nets.items()}


def time_to_target(
    p: FlexRelParams,
    sp: SplitLearningParams,
    retention_frame: pd.DataFrame,
    targets_rel: list[float],
    schedules: dict[str, tuple[int, int, int | None]] | None = None,
) -> pd.DataFrame:
    """Fig. 3, per seed, method and target: the pruning level at which retention accuracy first falls below
    ``target × unpruned accuracy`` (:func:`lib.core.stats.crossing` on the factor axis, interpolated between grid
    levels), and the modelled learning time and data of reaching the target there: ``epochs_pre`` epochs of
    the unpruned network + relevance on the reference images (relevance and FlexRel only) + ``epochs_post``
    epochs of the pruned network, each split into computation and network time by :func:`cost`
    (``sp``: :class:`lib.params.split_learning.SplitLearningParams`); the pruned network's costs are interpolated
    linearly between the grid levels around the crossing. ``schedules``: named
    ``(epochs before pruning, epochs after, training images per epoch after pruning or None for all)`` (column
    ``schedule``; default: the section's own, named ``regime``), e.g. the paper's 10 + 40 epochs on the whole training
    set. Columns ``post_total_s`` and ``post_bytes``: the part spent after pruning."""
    levels = sorted(set(retention_frame.factor))
    nets = flexrel.pruned_networks(p, levels)
    x0 = base_networks.Images.of(p).example()
    measured = device_side(p, sp, nets)
    splits = {f: Split.of(layer_macs(net, x0), sp.cut_layer, measured[f]) for f, net in nets.items()}
    schedules = schedules or {"regime": (p.epochs_pre, p.epochs_post, p.post_subset)}
    full = splits[0.0]
    pre, rel = cost(full, flexrel.samples_per_epoch(p), sp), cost(full, p.relevance_images, sp)
    mean = retention_frame.groupby(["seed", "method", "factor"], as_index=False).test_acc.mean()
    rows = []
    for name, (epochs_pre, epochs_post, post_subset) in schedules.items():
        post = pd.DataFrame(
            [cost(splits[f], flexrel.samples_per_epoch(p, post_subset), sp) for f in levels], index=levels
        )
        for (seed, method), curve in mean.groupby(["seed", "method"]):
            reference = float(curve[curve.factor == 0].test_acc.iloc[0])
            uses_relevance = method in ("relevance", "flexrel")
            for t in targets_rel:
                factor = stats.crossing(curve, t * reference, x="factor")
                at = {k: float(np.interp(factor, levels, post[k])) for k in post}
                row = {
                    "schedule": name,
                    "seed": seed,
                    "method": method,
                    "target_rel": t,
                    "factor": factor,
                    "relevance_s": (rel["computation_s"] + rel["network_s"]) if uses_relevance else 0.0,
                    "computation_s": epochs_pre * pre["computation_s"] + epochs_post * at["computation_s"],
                    "network_s": epochs_pre * pre["network_s"] + epochs_post * at["network_s"],
                    "bytes": epochs_pre * pre["bytes"]
                    + epochs_post * at["bytes"]
                    + (rel["bytes"] if uses_relevance else 0.0),
                    "post_total_s": epochs_post * (at["computation_s"] + at["network_s"]),
                    "post_bytes": epochs_post * at["bytes"],
                }
                row["total_s"] = row["relevance_s"] + row["computation_s"] + row["network_s"]
                rows.append(row)
    return pd.DataFrame(rows)
