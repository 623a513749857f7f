"""FlexRel's relevance cost: LRP over the default profile's reference images against training on the same images
(its physical reference: one forward and one backward pass each, as LRP's one forward and one modified backward),
and against one training epoch.

VGG-16-BN ×0.25 at 32×32 (FashionMNIST padded), as the default profile trains it, and notebook 09's ResNet-18
(CIFAR stem, ×0.125, LRP on its canonized graph) on its training subset. Training time is the median training step
times the steps the images make; the goals: relevance ≤ 1.5× training on the same images, ≤ 5 % of an epoch.

    .venv/bin/python -m benchmarks.relevance_vs_epoch
"""

from __future__ import annotations

import time

import pandas as pd
import torch

from benchmarks import profile
from lib.core import timing
from lib.criteria import filters
from lib.params import profiles
from lib.params.flexrel import FlexRelParams
from lib.params.studies import residual
from lib.protocols import base_networks


def row(p: FlexRelParams, quick: bool) -> dict:
    """One network of section ``p``: its relevance time and one training epoch on ``p.train_subset`` images."""
    model = base_networks.place(base_networks.build(p, 0), torch.device("cpu"))
    x = torch.randn(p.relevance_images, 1, p.image_size, p.image_size).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (p.relevance_images,))
    step = timing.train_step_seconds(model, x[: p.batch_size], y[: p.batch_size], repeats=3 if quick else 5)
    epoch, steps = step * -(-p.train_subset // p.batch_size), step * p.relevance_images / p.batch_size
    start = time.perf_counter()
    filters.relevance(model, x, y, unfolded_input=p.unfolded_input)
    relevance = time.perf_counter() - start
    return {
        "network": f"{p.model} x{p.width:g}",
        "reference_images": p.relevance_images,
        "relevance_s": relevance,
        "training_same_images_s": steps,
        "relevance_over_training": relevance / steps,
        "epoch_images": p.train_subset,
        "epoch_s": epoch,
        "relevance_over_epoch": relevance / epoch,
    }


def run(quick: bool = False) -> pd.DataFrame:
    p, b = profiles.load("flexrel", profile(quick)), profiles.load("studies", profile(quick))
    return pd.DataFrame([row(p, quick), row(residual(p, b), quick)])


if __name__ == "__main__":
    print(run().to_string())
