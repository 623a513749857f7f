"""FlexRel on a network with depthwise convolutions: MobileNetV2, trained here, pruned by each criterion.

torchvision's MobileNetV2 at width ×0.5 (a one-channel stem at stride 1 for 32×32 FashionMNIST), trained by the
default profile's recipe (Nesterov one-cycle to 0.1, weight decay 5·10⁻⁴, batch 128) for ``EPOCHS`` epochs on the
first ``TRAIN`` training images, one network per seed; then 20 % and 40 % of every pruning group's channels removed
through torch-pruning (inverted residuals and depthwise convolutions coupled, the output layer found from the
graph) by FlexRel (δ = 0.5, raw magnitude as partner, relevance on 256 training images), raw and BatchNorm-folded
magnitude, torch-pruning's Taylor and random (3 draws), BatchNorm re-estimated on 10 training batches, and measured
on the first 2,000 test images with no weight update (retention). ``acc`` is the mean over seeds (random: over its
draws first), ``sd`` over seeds; ``speedup`` the batch-64 inference speed-up over the unpruned network beside
``mac_ratio``, its MACs over the pruned one's. A benchmark, not a verdict: few seeds, short training, and the
criteria were not tuned (nothing here was chosen after seeing its numbers).

    .venv/bin/python -m benchmarks.mobilenet_pruning
"""

from __future__ import annotations

import copy

import pandas as pd
import torch
import torch_pruning as tp
import torchvision
from torch import nn

from lib.core import data, prune, timing, train
from lib.criteria.importance import CriterionImportance, FlexRelImportance

TRAIN, TEST, EPOCHS, SEEDS, LEVELS, DRAWS = 10_000, 2_000, 3, (0, 1, 2), (0.2, 0.4), 3


def network(seed: int) -> nn.Module:
    """MobileNetV2 ×0.5 for one-channel 32×32 images, initialised from ``seed``."""
    torch.manual_seed(seed)
    model = torchvision.models.mobilenet_v2(num_classes=10, width_mult=0.5)
    stem = model.features[0][0]
    model.features[0][0] = nn.Conv2d(1, stem.out_channels, 3, 1, 1, bias=False)
    return model


def trained(seed: int, x: torch.Tensor, y: torch.Tensor, epochs: int) -> nn.Module:
    model = network(seed)
    batches = data.TensorLoader(x, y, 128, shuffle=True, seed=seed)
    opt = train.make_optimizer("nesterov", model.parameters(), 0.1, 0.9, 5e-4)
    sched = train.make_scheduler("onecycle", opt, epochs * len(batches))
    for _ in range(epochs):
        train.train_epoch(model, batches, opt, sched)
    return model.eval()


def importances(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, object]:
    return {
        "flexrel": FlexRelImportance(model, x, y, delta=0.5),
        "magnitude": CriterionImportance(model, "magnitude"),
        "magnitude_bn": CriterionImportance(model, "magnitude_bn"),
        "taylor": CriterionImportance(model, "taylor", x, y),
    }


def run(quick: bool = False) -> pd.DataFrame:
    train_n, epochs, seeds, draws, levels = (
        (512, 1, SEEDS[:1], 1, LEVELS[:1]) if quick else (TRAIN, EPOCHS, SEEDS, DRAWS, LEVELS)
    )
    if quick and data.absent("FashionMNIST") is not None:  # a code-path run where the data is not fetched (CI)
        g = torch.Generator().manual_seed(0)
        x_tr, x_te = torch.randn(train_n, 1, 32, 32, generator=g), torch.randn(TEST, 1, 32, 32, generator=g)
        y_tr, y_te = torch.randint(0, 10, (train_n,), generator=g), torch.randint(0, 10, (TEST,), generator=g)
    else:
        x_tr, y_tr, x_te, y_te = data.splits("FashionMNIST", 32, train_n, TEST)
    test = lambda m: train.evaluate(m, data.TensorLoader(x_te, y_te, 256))["acc"]  # noqa: E731
    rows = []
    for seed in seeds:
        base = trained(seed, x_tr, y_tr, epochs)
        macs, t0 = prune.count(base, x_te[:1])["macs"], timing.inference_seconds(base, x_te[:64], repeats=3)
        rows.append({"seed": seed, "criterion": "unpruned", "level": 0.0, "draw": 0, "test_acc": test(base)})
        reference = (x_tr[:256], y_tr[:256])
        for level in levels:
            runs = [(c, 0) for c in ("flexrel", "magnitude", "magnitude_bn", "taylor")] + [
                ("random", d) for d in range(draws)
            ]
            for criterion, draw in runs:
                model = copy.deepcopy(base)
                torch.manual_seed(1000 * seed + draw)
                imp = (
                    tp.importance.RandomImportance()
                    if criterion == "random"
                    else importances(model, *reference)[criterion]
                )
                # torch-pruning's random importance knows no output layer: it is named for every criterion alike
                ignored = [model.classifier[1]]
                tp.pruner.BasePruner(
                    model, x_tr[:1], importance=imp, pruning_ratio=level, ignored_layers=ignored
                ).step()
                train.recalibrate_batchnorm(model, data.TensorLoader(x_tr, y_tr, 128, shuffle=True, seed=seed), 10)
                size = prune.count(model, x_te[:1])["macs"]
                rows.append(
                    {
                        "seed": seed,
                        "criterion": criterion,
                        "level": level,
                        "draw": draw,
                        "test_acc": test(model),
                        "mac_ratio": macs / size,
                        "speedup": t0 / timing.inference_seconds(model, x_te[:64], repeats=3),
                    }
                )
    frame = pd.DataFrame(rows)
    per_seed = frame.groupby(["criterion", "level", "seed"], as_index=False).mean(numeric_only=True)
    out = per_seed.groupby(["level", "criterion"], as_index=False).agg(
        seeds=("seed", "nunique"),
        acc=("test_acc", "mean"),
        sd=("test_acc", "std"),
        mac_ratio=("mac_ratio", "mean"),
        speedup=("speedup", "mean"),
    )
    return out.sort_values(["level", "acc"], ascending=[True, False], ignore_index=True)


if __name__ == "__main__":
    print(run().to_markdown(index=False, floatfmt=".3g"))
