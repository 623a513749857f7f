"""The two papers crossed (notebook 08): the rank paper's train-time schedule on its MLP, scored by FlexRel's LRP
relevance in place of the contribution, beside the contribution and random. Its verdicts are
:func:`lib.verdicts.study_claims.crossed_claims`.

A module of its own, importing neither notebook 07's table nor section ``studies``: its stored runs are keyed by
section ``rank`` and the code they execute only.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from ..core import train
from ..criteria import filters
from ..params.rank import CROSSED_READING, RankParams
from ..store import runs
from . import train_time

#: The crossed runs' ``(method, reading)``: the rank schedule scored by FlexRel's LRP relevance (eq. 1 per neuron,
#: true-class logits, every training image), by the contribution, and random.
CROSSED = (("rank", CROSSED_READING), ("rank", "paper"), ("random", "-"))


@dataclass(frozen=True)
class Crossed(train_time.RankRun):
    """A run of the rank paper's schedule as notebook 08 crosses it: scored by relevance (``reading`` =
    :data:`CROSSED_READING`; its code is this module's) or as :class:`lib.protocols.train_time.RankRun` scores it (then
    the same stored run as notebook 04's)."""

    def result(self) -> list[dict]:
        return runs.cached(self, self._relevance) if self.reading == CROSSED_READING else super().result()

    def _relevance(self) -> list[dict]:
        score = lambda model, batches: filters.relevance(model, *(torch.cat(t) for t in zip(*batches)))  # noqa: E731
        return train_time.train_time(
            self.view, torch.device(self.device), self.dataset, self.method, CROSSED_READING, self.seed, score
        )


def planned(r: RankParams, dataset: str) -> list[Crossed]:
    """The rank paper's train-time schedule on ``dataset`` scored by FlexRel's relevance, by the paper's contribution,
    and pruned at random, seed by seed."""
    device = str(train.device(r.device))
    return [
        Crossed(runs.View(r, train_time.GRID), seed, dataset, m, reading, device)
        for seed in r.seeds
        for m, reading in CROSSED
    ]


def frame(todo: list[runs.Run]) -> pd.DataFrame:
    """The rows of every :class:`Crossed` run among ``todo`` (runs notebook 04 made are read back)."""
    return pd.DataFrame([x for run in todo if isinstance(run, Crossed) for x in run.result()])
