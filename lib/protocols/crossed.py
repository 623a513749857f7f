"""The two papers crossed (notebook 08): the rank paper's train-time schedule on its MLP, scored by FlexRel's LRP
relevance in place of the contribution, beside the contribution and random. Its verdicts are
:func:`lib.verdicts.study_claims.crossed_claims`.

A module of its own, importing neither notebook 07's table nor section ``studies``: its stored runs are keyed by
section ``rank`` and the code they execute only.
"""

from __future__ import annotations

import pandas as pd
import torch

from lib.core import train
from lib.criteria import filters
from lib.params.rank import RankParams
from lib.protocols import train_time
from lib.store import runs


#: The papers crossed: FlexRel's LRP relevance (eq. 1 per neuron, true-class logits, every training image) as the
#: score of the rank paper's train-time schedule, in place of the contribution.
RELEVANCE = "relevance"


#: The crossed runs' ``(method, reading)``: the rank schedule scored by relevance, by the contribution, and random.
CROSSED = (("rank", RELEVANCE), ("rank", "paper"), ("random", "-"))


def crossed(r: RankParams, dataset: str, method: str, reading: str, seed: int) -> list[dict]:
    """One train-time run of the rank paper's schedule (cached): scored by relevance (``reading`` =
    :data:`RELEVANCE`) or as :func:`lib.protocols.train_time.run` scores it."""
    if reading != RELEVANCE:
        return train_time.run(r, dataset, method, reading, seed)

    def compute(q: runs.View) -> list[dict]:
        score = lambda model, batches: filters.relevance(model, *(torch.cat(t) for t in zip(*batches)))  # noqa: E731
        return train_time.train_time(q, train.device(r.device), dataset, method, RELEVANCE, seed, score)

    where = {**train_time.coordinates(r, dataset, method, "-", seed), "reading": RELEVANCE}
    return runs.cached("rank-run", runs.View(r, train_time.GRID), where, compute)


def crossed_runs(r: RankParams, dataset: str) -> pd.DataFrame:
    """The rank paper's train-time schedule on ``dataset`` scored by FlexRel's relevance, by the paper's
    contribution, and pruned at random (every seed; runs notebook 04 made are read back)."""
    return pd.DataFrame([x for seed in r.seeds for method, reading in CROSSED for x in crossed(r, dataset, method, reading, seed)])
