"""What every section of ``params.yaml`` shares: a frozen pydantic model that forbids unknown keys and checks
types strictly, the field types with their allowed ranges, and the choice lists more than one section uses.

A section's own choices live in its module (:mod:`lib.params.flexrel`, ...): a stored run records the code it
executed and the module-level values that code read (:mod:`lib.core.code`), so editing one section's choices
recomputes only the runs whose code read them.
Every list here is plain data (no torch); ``tests/test_params.py`` ties each one to its implementation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

DATASETS = ("MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "CelebA", "ImageNet")
#: Where a run computes (:func:`lib.core.train.device`): CUDA if available, the CPU, or CUDA.
DEVICES = ("auto", "cpu", "cuda")
#: :func:`lib.core.train.make_optimizer`'s optimizers and :func:`lib.core.train.make_scheduler`'s schedules.
OPTIMIZERS = ("sgd", "nesterov", "adam")
SCHEDULES = ("constant", "cosine", "onecycle")
#: Data shifts (:func:`lib.core.data.shift`): none, rotation by 30°, additive Gaussian noise of 0.5 standard deviations.
SHIFTS = ("none", "rotate", "noise")
#: How pruning amounts apply (:func:`lib.core.prune.prune`): the same fraction per layer,
#: or one ranking over all layers.
SCOPES = ("layer", "global")
#: Which training and test images a seed uses (:func:`lib.core.data.subset`): the first ``train_subset`` /
#: ``test_subset`` of the official splits, the same for every seed, or subsets of those sizes drawn per seed from the
#: whole splits (the data's sampling is then a source of variance in every interval, Bouthillier et al. 2021).
SUBSETS = ("first", "per_seed")
#: The rank paper's two readings of its contribution (:data:`lib.criteria.contribution.CONTRIBUTION_PRESETS`).
READINGS = ("paper", "original_code")


class ParamsError(ValueError):
    """``params.yaml`` is malformed: the message names the key, the value and what is allowed."""


def _distinct_seeds(seeds: list[int]) -> list[int]:
    if not seeds:
        raise ValueError("is empty; give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError("repeats a seed; give distinct seeds")
    return seeds


def _no_zero(levels: list[float]) -> list[float]:
    if 0.0 in levels:
        raise ValueError("contains 0; the unpruned network is always included")
    return levels


#: A count of things (epochs, images, batches): at least one.
Count = Annotated[int, Field(ge=1, le=10**9)]
#: A pruning level: the fraction of units removed, 0 ≤ level < 1.
Level = Annotated[float, Field(ge=0.0, lt=1.0)]
#: Pruning levels, 0 excluded (the unpruned network is always measured).
Levels = Annotated[list[Level], AfterValidator(_no_zero)]
#: A share in [0, 1] (δ, relative accuracy targets).
Share = Annotated[float, Field(ge=0.0, le=1.0)]
#: Seeds: at least one, none repeated.
Seeds = Annotated[list[int], AfterValidator(_distinct_seeds)]
#: A learning rate.
Rate = Annotated[float, Field(gt=0.0, le=10.0)]


def message(error: dict, fields: list[str], where: Callable[[str], str]) -> str:
    """One line for one of pydantic's errors: the key (``where(key)``: where in the file it is set), the value,
    and what is allowed (``fields``: the section's keys)."""
    loc = [str(x) for x in error["loc"]]
    if not loc:  # a check across keys: its message names them
        return f"params.yaml: {error['msg'].removeprefix('Value error, ')}"
    key = loc[0]
    name = f"{where(key)}.{key}" + "".join(f"[{i}]" for i in loc[1:])
    kind, value, msg = error["type"], error.get("input"), error["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return f"params.yaml: unknown key {name} (value {value!r}); allowed keys: {fields}"
    if kind == "missing":
        return f"params.yaml: missing key {name}; the section needs {fields}"
    if kind == "literal_error":
        return f"params.yaml: {name} = {value!r} is not allowed; choose one of {error['ctx']['expected']}"
    if kind.endswith("_type") or kind == "int_from_float":
        return f"params.yaml: {name} = {value!r} has the wrong type; {msg}"
    if kind.startswith(("greater_than", "less_than", "too_short", "too_long")):
        return f"params.yaml: {name} = {value!r} is out of range; {msg}"
    return f"params.yaml: {name} = {value!r} {msg}"


class Section(BaseModel):
    """One section of ``params.yaml``: its fields are the only keys allowed, with their types and ranges."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    #: The section's name in ``params.yaml``.
    SECTION: ClassVar[str]

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes``, checked like ``params.yaml`` (a bad value raises :class:`ParamsError`)."""
        try:
            return type(self).model_validate({**self.model_dump(), **changes})
        except ValidationError as err:
            first = err.errors(include_url=False)[0]
            raise ParamsError(message(first, list(type(self).model_fields), lambda _: self.SECTION)) from None


class OnDevice(Section):
    """A section whose runs choose their device and mixed precision.

    Attributes
    ----------
    device
        ``auto`` (CUDA if available), ``cpu`` or ``cuda``.
    amp
        Mixed precision (bfloat16 autocast) where the run is on CUDA; CPUs always compute in float32, so it
        has no effect there (``true`` with ``device: cpu`` is an error).
    """

    device: Literal[DEVICES]
    amp: bool

    @model_validator(mode="after")
    def _amp_needs_cuda(self) -> Self:
        if self.amp and self.device == "cpu":
            raise ValueError(
                f"{self.SECTION}.amp is true but {self.SECTION}.device is 'cpu'; mixed precision runs on "
                "CUDA only (use device 'auto' or 'cuda', or amp: false)"
            )
        return self
