"""Section ``studies`` (notebooks ``07``-``08``): studies beyond the papers, on section ``flexrel``'s base
networks and protocol, and the table of notebook 07's rows."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from lib.params.flexrel import FLEXREL_MODELS
from lib.params.schema import SHIFTS, Levels, Section

#: The rows of notebook 07: each unstated choice of the FlexRel paper as overrides of section ``flexrel`` for
#: FlexRel, and for the criterion it is compared with (``magnitude`` unless the row says otherwise).
VARIANTS: dict[str, dict[str, Any]] = {
    "composite=EpsilonGammaBox": {"flexrel": {"composite": "EpsilonGammaBox"}},
    "composite=EpsilonAlpha2Beta1": {"flexrel": {"composite": "EpsilonAlpha2Beta1"}},
    "target=predicted": {"flexrel": {"relevance_target": "predicted"}},
    "images=128": {"flexrel": {"relevance_images": 128}},
    "images=unseen": {"flexrel": {"relevance_split": "unseen"}},
    "scope=global": {"flexrel": {"scope": "global"}, "baseline": {"scope": "global"}},
    "normalisation=network_total": {"flexrel": {"normalisation": "network_total"}},
    "normalisation=network_mean": {"flexrel": {"normalisation": "network_mean"}},
    "magnitude=bn_folded": {"flexrel": {"partner": "magnitude_bn"}, "method": "magnitude_bn"},
}
#: Fields of section ``flexrel`` that notebooks 07-08 vary on a profile's section (``VARIANTS``, the second
#: architecture, the shifts, the partner, dynamic pruning): a stored run that differs from a profile's section only
#: in them is one of those studies' runs, and still current (:func:`lib.store.runs.why_stale`).
STUDY_FIELDS = ("model", "prune_linear", "composite", "relevance_target", "relevance_split", "relevance_images",
                "relevance_shift", "scope", "normalisation", "partner", "prune_steps", "test_shift")


class StudiesParams(Section):
    """Section ``studies``.

    Attributes
    ----------
    factors
        Pruning levels (fraction of filters per layer) every comparison is made at; default Fig. 4's.
    variants
        Rows of notebook 07's sensitivity table: names of ``VARIANTS``.
    second_model
        Notebook 08's second architecture for the δ sweep (a ``flexrel.model``, trained like the first).
    shifts
        Notebook 08's data shifts (``SHIFTS`` other than ``none``).
    prune_steps
        Notebook 08's dynamic relevance: steps to the same final width, relevance recomputed between them.
    cross_dataset
        Notebook 08's crossing of the papers: the dataset of the rank paper's MLP schedule scored by relevance.
    """

    SECTION: ClassVar[str] = "studies"
    factors: Annotated[Levels, Field(min_length=1)]
    variants: list[Literal[tuple(VARIANTS)]]
    second_model: Literal[FLEXREL_MODELS]
    shifts: list[Literal[SHIFTS[1:]]]
    prune_steps: Annotated[int, Field(ge=2, le=100)]
    cross_dataset: Literal["MNIST", "FashionMNIST"]
