"""Pruned inference: is a pruned network as much faster as its MACs say?

VGG-16-BN (the FlexRel protocol's network, at the default width ×0.25 and at full width) pruned per layer at
every Fig. 2 level of the default profile, notebook 09's ResNet-18 (×0.125, residual channels pruned as groups)
at its levels, and the rank paper's MLP at its final width: latency at batch 1,
throughput at batch 64, and the batch-64 speed-up over the unpruned network beside the MAC ratio. ``eager`` is
the network as trained (eval mode; channels_last, the ResNet in the default format:
``lib.protocols.base_networks.place``); ``round_to 8`` the same, pruned keeping channel counts a multiple of 8
(torch-pruning's ``round_to``); ``deploy`` the eager VGG through :func:`lib.core.timing.deployable` (BatchNorm folded,
convolution and ReLU fused). ``floor`` is the same depth with about one channel per layer: the per-layer overhead no
pruning removes, which bounds the speed-up at ``t0 / (t_floor + (t0 − t_floor) / MAC ratio)`` (``bound``).

    .venv/bin/python -m benchmarks.pruned_inference
"""

from __future__ import annotations

import pandas as pd
import torch

from benchmarks import profile
from lib.core import models, prune, timing
from lib.criteria import contribution
from lib.params import profiles
from lib.params.flexrel import FlexRelParams
from lib.params.rank import RankParams
from lib.params.studies import StudiesParams, residual
from lib.protocols import flexrel, train_time

BATCH = 64


def _timings(net: torch.nn.Module, x: torch.Tensor, repeats: int) -> dict:
    return {
        "latency_b1_ms": 1e3 * timing.inference_seconds(net, x[:1], repeats=repeats),
        f"b{BATCH}_s": timing.inference_seconds(net, x, repeats=repeats),
    }


def vgg_rows(p: FlexRelParams, width: float, repeats: int = 5) -> list[dict]:
    """Every mode and level of the profile's VGG at ``width``."""
    p = p.replace(width=width)
    x = torch.randn(BATCH, 1, p.image_size, p.image_size).contiguous(memory_format=torch.channels_last)
    floor = models.vgg16(10, 1, width=width / 64, image_size=p.image_size).to(memory_format=torch.channels_last)
    rows = []
    for mode in ("eager", "round_to 8", "deploy"):
        nets = flexrel.pruned_networks(p, [0.0, *p.factors], round_to=8 if mode == "round_to 8" else None)
        for level, net in [*nets.items(), ("floor", floor)]:
            run = timing.deployable(net, x) if mode == "deploy" else net
            rows.append(
                {
                    "network": f"vgg16_bn x{width:g}",
                    "mode": mode,
                    "level": level,
                    "macs": prune.count(net, x[:1])["macs"],
                    **_timings(run, x, repeats),
                }
            )
    return rows


def resnet_rows(p: FlexRelParams, b: StudiesParams, repeats: int = 5) -> list[dict]:
    """Notebook 09's ResNet-18, eager and ``round_to 8``, at its retention levels and its recovery level."""
    net = residual(p, b)
    x = torch.randn(BATCH, 1, net.image_size, net.image_size)
    floor = models.resnet18(10, 1, width=1 / 64).eval()
    levels = sorted({0.0, *b.factors, b.residual_recovery})
    rows = []
    for mode in ("eager", "round_to 8"):
        nets = flexrel.pruned_networks(net, levels, round_to=8 if mode == "round_to 8" else None)
        for level, m in [*nets.items(), ("floor", floor)]:
            rows.append(
                {
                    "network": f"resnet18 x{net.width:g}",
                    "mode": mode,
                    "level": level,
                    "macs": prune.count(m, x[:1])["macs"],
                    **_timings(m, x, repeats),
                }
            )
    return rows


def mlp_rows(p: RankParams, repeats: int = 5) -> list[dict]:
    """The rank paper's 784-50-30-10 MLP unpruned and at the width Algorithm 1 leaves: the project's own rounds
    (:func:`lib.protocols.train_time.prune_rounds`) with random scores and no training — the shape, not the choice of
    neurons or the weights, sets the speed."""
    net = train_time.build(p, "MNIST", 0)
    x = torch.randn(BATCH, 784)
    hidden = [a for a, _ in contribution.linear_pairs(net, x[:1])]
    final: dict[str, torch.nn.Module] = {}
    train_time.prune_rounds(
        net,
        method="random",
        schedule=p.model_dump(),
        layers=hidden,
        seed=0,
        example_input=x[:1],
        make_optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.0),
        fit_epoch=lambda m, opt: {},
        evaluate=lambda m: {},
        score=lambda m: {},
        on_event=lambda event, m: final.update({event: m}),
    )
    pruned = final["end"]
    level = round(1 - train_time.width(pruned, hidden) / train_time.width(net, hidden), 3)
    return [
        {
            "network": "mlp 784-50-30-10",
            "mode": "eager",
            "level": lev,
            "macs": prune.count(m, x[:1])["macs"],
            **_timings(m, x, repeats),
        }
        for lev, m in ((0.0, net), (level, pruned))
    ]


def summarise(rows: list[dict]) -> pd.DataFrame:
    """Add throughput, speed-up over the unpruned network, the MAC ratio and their ratio (the figure of merit:
    1 means the network is exactly as much faster as its MACs say)."""
    frame = pd.DataFrame(rows)
    key = ["network", "mode"]
    full = frame[frame.level.astype(str) == "0.0"].set_index(key)
    base = frame.set_index(key).index
    frame["images_per_s"] = BATCH / frame[f"b{BATCH}_s"]
    frame["speedup"] = full.loc[base, f"b{BATCH}_s"].to_numpy() / frame[f"b{BATCH}_s"]
    frame["mac_ratio"] = full.loc[base, "macs"].to_numpy() / frame.macs
    frame["speedup_over_mac_ratio"] = frame.speedup / frame.mac_ratio
    floor = frame[frame.level.astype(str) == "floor"].set_index(key)[f"b{BATCH}_s"].reindex(base).to_numpy()
    t0 = full.loc[base, f"b{BATCH}_s"].to_numpy()
    frame["bound"] = t0 / (floor + (t0 - floor) / frame.mac_ratio)
    return frame


def run(quick: bool = False) -> pd.DataFrame:
    """The profile's width and full width (``quick``: the smoke profile's width only)."""
    fp, rp, sp = (profiles.load(s, profile(quick)) for s in ("flexrel", "rank", "studies"))
    repeats = 2 if quick else 15
    widths = (fp.width,) if quick else (fp.width, 1.0)
    return summarise(
        [r for w in widths for r in vgg_rows(fp, w, repeats)] + resnet_rows(fp, sp, repeats) + mlp_rows(rp, repeats)
    )


if __name__ == "__main__":
    print(run().to_string())
