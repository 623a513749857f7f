"""The FlexRel protocol (§IV): score once, prune whole filters, measure — cached per run.

Every seed's pre-pruning network (:mod:`lib.protocols.base_networks`, shared by notebooks 01-03) is the start
of each pruning run (seed,
method, pruning level, δ, random draw) prunes whole filters physically and takes two measurements:

- **retention** — held-out test accuracy after re-estimating BatchNorm statistics on ``bn_batches`` training
  batches, with no weight update (forward passes only: cheap, so a fine grid of levels and several random
  draws) — what a criterion alone preserves;
- **recovery** — test accuracy after ``epochs_post`` fine-tuning epochs with a learning rate decaying from
  ``lr_post`` to 0 (at the few ``recovery_factors``) — what survives training on.

Both go against the fraction of parameters (and MACs) removed: the per-layer filter fraction is the run's
setting, not its x-axis. Rows are tidy dicts for ``pandas.DataFrame``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from ..core import data, prune, train
from ..criteria import filters
from ..criteria.registry import CRITERIA, Reference
from ..params.catalogue import CRITERIA as CATALOGUE
from ..params.catalogue import NETWORKS
from ..params.flexrel import BASELINES, FLEXREL_METHODS, FlexRelParams
from ..store import runs
from . import base_networks
from .base_networks import Base, Images, Recipe, build, device, evaluate, fit, place

METHODS = FLEXREL_METHODS + BASELINES
#: Fields a kind of pruning run never reads, beyond :data:`lib.protocols.base_networks.GRID`, also left out of its key
#: (a run sees its section through a :class:`lib.store.runs.View` that raises on them): scores are computed before the
#: pruning and BatchNorm settings matter, retention before recovery's.
RECOVERY = ("epochs_post", "lr_post", "post_subset")
NOT_READ = {
    "flexrel-scores": ("scope", "bn_batches", "normalisation", "partner", "prune_steps", "test_shift", *RECOVERY),
    "flexrel-retention": RECOVERY,
    "flexrel-recovery": (),
}


def view(p: FlexRelParams, kind: str) -> runs.View:
    """The fields of ``p`` that a run of ``kind`` reads (and that its key covers)."""
    return runs.View(p, base_networks.GRID + NOT_READ[kind])


def _view(p: FlexRelParams | runs.View, kind: str) -> runs.View:
    """:func:`view` of a section, or a wider run's view narrowed to what a run of ``kind`` reads."""
    return p.narrow(NOT_READ[kind]) if isinstance(p, runs.View) else view(p, kind)


@dataclass(frozen=True)
class Scoring:
    """How units are scored, read from a run's section once (:meth:`of`): the LRP settings, whether hidden
    neurons are pruned too, and where the reference images come from (relevance, Taylor and contribution read
    them). Partner and normalisation are not here: they combine scores, and a score's key does not cover them."""

    composite: str
    relevance_target: str
    unfolded_input: str
    prune_linear: bool
    relevance_split: str
    relevance_images: int
    relevance_shift: str
    images: Images

    @classmethod
    def of(cls, q, seed: int) -> Scoring:
        """Section (or view) ``q``'s scoring of seed ``seed``'s network, on that seed's images."""
        return cls(
            q.composite,
            q.relevance_target,
            q.unfolded_input,
            q.prune_linear,
            q.relevance_split,
            q.relevance_images,
            q.relevance_shift,
            Images.of(q, seed),
        )


def criterion_scores(
    scoring: Scoring, model: nn.Module, names: Iterable[str] | None = None
) -> tuple[dict[str, prune.Scores], float]:
    """The scores of ``model`` on the layers the protocol prunes by each registered criterion of ``names``
    (:data:`lib.criteria.registry.CRITERIA`; default: every one that applies to ``model``), and the relevance time in
    seconds. The reference images (:func:`reference_images`) are loaded once, and only if a criterion reads them."""
    dev = next(model.parameters()).device
    layers = [n for n, m in prune.prunable_layers(model).items() if scoring.prune_linear or isinstance(m, nn.Conv2d)]
    reference = Reference(
        lambda: tuple(t.to(dev) for t in reference_images(scoring)),
        scoring.composite,
        scoring.relevance_target,
        scoring.unfolded_input,
        layers,
    )
    found, seconds = {}, 0.0
    for name in [n for n, c in CRITERIA.items() if c.applies(model)] if names is None else names:
        if "images" in CRITERIA[name].reads:
            reference.images()  # the relevance time is the LRP pass only (Fig. 3), not the images' loading
        start = time.perf_counter()
        found[name] = {n: v.cpu() for n, v in CRITERIA[name].score(model, reference).items() if n in layers}
        if name == "relevance":
            seconds = time.perf_counter() - start
    return found, seconds


@dataclass(frozen=True)
class Scores(runs.Run):
    """One criterion's scores of a seed's stored base network (a stored run): computed once per seed, read by
    every pruning run of that seed and criterion. ``device``: where the base network lives and the scores are
    computed."""

    criterion: str
    device: str
    kind: ClassVar[str] = "flexrel-scores"
    phase: ClassVar[int] = 1

    @classmethod
    def of(cls, p: FlexRelParams | runs.View, seed: int, criterion: str, dev: torch.device | str) -> Scores:
        """Section (or a pruning run's view) ``p``'s scores of ``seed`` by ``criterion``, on ``dev``."""
        return cls(_view(p, "flexrel-scores"), seed, criterion, str(dev))

    def key(self) -> dict:
        return {"seed": self.seed, "criterion": self.criterion, "device": self.device}

    def base(self) -> Base:
        """The base network the scores are of."""
        return Base.of(self.view, self.seed, torch.device(self.device))

    def inputs(self) -> list[runs.Run]:
        return [self.base()]

    def result(self) -> dict:
        """``{"seconds": relevance time, "scores": {layer: [score per unit]}}``."""
        return runs.cached(self, self._compute)

    def _compute(self) -> dict:
        s, sec = criterion_scores(Scoring.of(self.view, self.seed), self.base().result()[0], [self.criterion])
        return {"seconds": sec, "scores": {n: v.tolist() for n, v in s[self.criterion].items()}}


def unit_scores(
    q: runs.View, seed: int, names: Iterable[str], dev: torch.device
) -> tuple[dict[str, prune.Scores], float]:
    """The stored :class:`Scores` of ``seed``'s base network (on ``dev``) by each criterion of ``names`` (``q``: the
    pruning run's view), and their relevance time in seconds (0 without relevance)."""
    found, seconds = {}, 0.0
    for name in names:
        out = Scores.of(q, seed, name, dev).result()
        found[name] = {n: torch.tensor(v) for n, v in out["scores"].items()}
        seconds += out["seconds"]
    return found, seconds


def needs(p: FlexRelParams | runs.View, method: str) -> list[str]:
    """The criteria whose scores ``method`` reads: a criterion that scores its own, the combinator (FlexRel) its
    partner's and relevance's, the control (random) none."""
    role = CATALOGUE[method].role
    return {"combinator": [p.partner, "relevance"], "control": []}.get(role, [method])


def reference_images(scoring: Scoring) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``relevance_images`` reference images and labels (relevance, Taylor and contribution are computed on
    them): the first training images (``relevance_split: train``) or the training-split images right after
    ``train_subset`` (``unseen``, never trained on), under ``relevance_shift``."""
    images, n_images = scoring.images, scoring.relevance_images
    if scoring.relevance_split == "unseen":
        if not data.SPECS[images.dataset].in_memory:
            raise NotImplementedError(
                f"relevance_split 'unseen' is implemented for in-memory datasets, not {images.dataset}"
            )
        x, y = data.splits(
            images.dataset, images.image_size, images.train_subset + n_images, 1, channels_last=True, draw=images.draw
        )[:2]
        x, y = x[images.train_subset :], y[images.train_subset :]
    else:
        xs, ys, n = [], [], 0
        for xb, yb in images.batches("train", shuffle=False):
            xs.append(xb)
            ys.append(yb)
            n += len(yb)
            if n >= n_images:
                break
        x, y = torch.cat(xs)[:n_images], torch.cat(ys)[:n_images]
    return data.shift(x, images.dataset, scoring.relevance_shift), y


def _prunable(prune_linear: bool, model: nn.Module, s: prune.Scores) -> prune.Scores:
    """The scores of the layers the protocol prunes: convolution filters (and hidden neurons if ``prune_linear``)."""
    layers = prune.prunable_layers(model)
    return {n: v.cpu() for n, v in s.items() if prune_linear or isinstance(layers[n], nn.Conv2d)}


def canonical(p: FlexRelParams | runs.View, method: str, delta: float | None) -> tuple[str, float | None]:
    """The run a (method, δ) pair really is. With per-layer pruning FlexRel at δ = 0 ranks every layer
    exactly like its partner (magnitude unless ``partner`` says otherwise) and at δ = 1 exactly like relevance
    (min-max normalisation, per layer or over the network, keeps a layer's order), so those are the same
    runs — on a network whose pruning groups are single layers. A residual network's groups tie several layers,
    scored by the mean over them (:class:`lib.core.prune.ScoreImportance`); FlexRel normalises each layer before
    that mean, so there its δ = 0 and 1 are runs of their own. δ means something for FlexRel only."""
    if method not in METHODS:
        raise ValueError(f"method {method!r}; allowed: {list(METHODS)}")
    if CATALOGUE[method].role != "combinator":
        return method, None
    if delta is None:
        raise ValueError(f"method {method!r} needs a delta in [0, 1]")
    if p.scope == "layer" and delta in (0.0, 1.0) and not NETWORKS[p.model].residual:
        return (p.partner if delta == 0.0 else "relevance"), None
    return method, float(delta)


def coordinates(
    p: FlexRelParams | runs.View, seed: int, method: str, factor: float, delta: float | None, draw: int, device: str
) -> dict:
    """A pruning run's key: its seed, the run (method, δ) really is (:func:`canonical`), its factor, its draw (the
    control's only) and device. Raises on a factor outside (0, 1), an unknown method, or FlexRel without δ."""
    if not 0.0 < factor < 1.0:
        raise ValueError(f"a pruning run needs a factor in (0, 1), got {factor!r}")
    method, delta = canonical(p, method, delta)
    control = CATALOGUE[method].role == "control"
    return {
        "seed": seed,
        "method": method,
        "factor": factor,
        "delta": delta,
        "draw": draw if control else 0,
        "device": device,
    }


def step_widths(widths: dict[str, int], factor: float, steps: int) -> list[dict[str, int]]:
    """Per step, the units each layer keeps when pruning ``factor`` of ``widths`` in ``steps`` steps: about
    ``n·(1 − factor)^(s/steps)`` after step ``s``, ending exactly at one shot's ``⌊(1 − factor)·n⌋``.

    >>> step_widths({"a": 64}, 0.5, 3)
    [{'a': 51}, {'a': 40}, {'a': 32}]
    """
    final = {n: int(w * (1 - factor)) for n, w in widths.items()}
    return [
        {n: max(final[n], round(w * (1 - factor) ** (s / steps))) if s < steps else final[n] for n, w in widths.items()}
        for s in range(1, steps + 1)
    ]


#: What a pruning run measures: retention (pruned, BatchNorm re-estimated) or recovery (then fine-tuned).
MEASURES = ("retention", "recovery")


@dataclass(frozen=True)
class Pruning(runs.Run):
    """One pruning run (a stored run): ``seed``'s base network pruned by ``method`` (FlexRel at ``delta``; random:
    its ``draw``) at ``factor`` of the filters on ``device``, then measured (``measure``: :data:`MEASURES`).
    ``arm``: the label of the study arm that lists it (notebooks 07-09).

    Its fields keep what was asked; :meth:`key` files it canonically (:func:`canonical`: on a plain chain FlexRel
    at δ = 0 is the magnitude run), so asking for either reads one stored run, and :meth:`rows` say what was asked."""

    measure: str
    method: str
    factor: float
    delta: float | None
    draw: int
    device: str
    arm: str = ""
    phase: ClassVar[int] = 2

    def __post_init__(self) -> None:
        if self.measure not in MEASURES:
            raise ValueError(f"measure {self.measure!r}; allowed: {list(MEASURES)}")
        coordinates(self.view, self.seed, self.method, self.factor, self.delta, self.draw, self.device)

    @classmethod
    def of(
        cls,
        p: FlexRelParams,
        measure: str,
        seed: int,
        method: str,
        factor: float,
        delta: float | None = None,
        draw: int = 0,
        dev: torch.device | None = None,
        arm: str = "",
    ) -> Pruning:
        """The run of section ``p`` (on ``dev``, resolved once for a sweep by the caller; default: the device ``p``
        asks for)."""
        return cls(
            view(p, f"flexrel-{measure}"), seed, measure, method, factor, delta, draw, str(dev or device(p)), arm
        )

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"flexrel-{self.measure}"

    def key(self) -> dict:
        return coordinates(self.view, self.seed, self.method, self.factor, self.delta, self.draw, self.device)

    def base(self) -> Base:
        """The base network it prunes."""
        return Base.of(self.view, self.seed, torch.device(self.device))

    def inputs(self) -> list[runs.Run]:
        """The runs it reads: its base network and the scores of every criterion its method reads."""
        method = self.key()["method"]
        return [self.base(), *(Scores.of(self.view, self.seed, c, self.device) for c in needs(self.view, method))]

    def result(self) -> dict | list[dict]:
        """As stored: retention ``{"row": {...}}``, recovery one row per epoch (the canonical method and δ)."""
        if self.measure == "retention":
            return runs.cached(self, lambda: {"row": network(self)[1][0]})
        return runs.cached(self, lambda: network(self)[1])

    def rows(self) -> list[dict]:
        """:meth:`result` as rows, with the method, δ and draw that were asked."""
        out = self.result()
        asked = {"method": self.method, "delta": self.delta, "draw": self.draw}
        return [{**r, **asked} for r in ([out["row"]] if self.measure == "retention" else out)]


def retention(
    p: FlexRelParams,
    seed: int,
    method: str,
    factor: float,
    delta: float | None = None,
    draw: int = 0,
    dev: torch.device | None = None,
) -> dict:
    """One retention measurement (a :class:`Pruning` run's result): ``{"row": {...}}`` with the test accuracy and
    loss after pruning and BatchNorm re-estimation (no weight update), parameters and MACs."""
    return Pruning.of(p, "retention", seed, method, factor, delta, draw, dev).result()


def recovery(
    p: FlexRelParams,
    seed: int,
    method: str,
    factor: float,
    delta: float | None = None,
    draw: int = 0,
    dev: torch.device | None = None,
) -> list[dict]:
    """One recovery run (a :class:`Pruning` run's result): the pruned, BatchNorm-re-estimated network fine-tuned
    ``epochs_post`` epochs on ``post_subset`` training images with a cosine learning rate from ``lr_post`` to 0;
    one row per epoch."""
    return Pruning.of(p, "recovery", seed, method, factor, delta, draw, dev).result()


def network(run: Pruning) -> tuple[nn.Module, list[dict]]:
    """The network of a pruning run and its rows as stored (``retention``: pruned, BatchNorm re-estimated, one row;
    ``recovery``: then fine-tuned, one row per epoch), from the run's view only: its base network and scores are
    the stored runs of :meth:`Pruning.inputs`. Everything is resolved here, once, and handed down as plain objects.
    The store keeps the rows, not the network: :mod:`lib.publish.export` rebuilds it here."""
    q, where = run.view, run.key()
    seed, method, factor, delta = run.seed, where["method"], run.factor, where["delta"]
    dev, images = torch.device(run.device), Images.of(q, seed)
    net, _ = run.base().result()
    if CATALOGUE[method].role == "control":
        s, seconds, steps = (
            _prunable(q.prune_linear, net, prune.random_scores(net, 1000 * seed + where["draw"])),
            0.0,
            1,
        )
    else:
        found, seconds = unit_scores(q, seed, needs(q, method), dev)
        s, steps = _combine(found, net, method, delta, q.partner, q.normalisation), q.prune_steps

    def rescore(model: nn.Module) -> tuple[prune.Scores, float]:
        found, sec = criterion_scores(Scoring.of(q, seed), model, needs(q, method))
        return _combine(found, model, method, delta, q.partner, q.normalisation), sec

    x0 = images.example().to(dev)
    model, seconds = prune_in_steps(
        net,
        s,
        factor,
        steps,
        rescore,
        q.scope,
        x0,
        lambda: images.batches("train", seed, dev=dev),
        q.bn_batches,
        seconds,
    )
    common = {
        "method": method,
        "factor": factor,
        "delta": delta,
        "draw": where["draw"],
        "seed": seed,
        **prune.count(model, x0),
        "relevance_seconds": seconds,
    }
    if run.measure == "retention":
        return model, [{**common, "stage": "retention", **evaluate(model, images, dev, q.amp, q.test_shift)}]
    rows = fit(model, images, Recipe.recovery(q), seed, dev)
    return model, [{**common, "stage": "recovery", "epoch": e, **r} for e, r in enumerate(rows, 1)]


def _combine(
    found: dict[str, prune.Scores], model: nn.Module, method: str, delta: float | None, partner: str, normalisation: str
) -> prune.Scores:
    """A method's scores from every criterion's (:func:`criterion_scores`): the combinator (FlexRel) mixes relevance
    with its partner."""
    if CATALOGUE[method].role == "combinator":
        return filters.flexrel(
            found[partner], found["relevance"], delta, normalisation, filters.weights_per_unit(model)
        )
    return found[method]


def prune_in_steps(
    net: nn.Module,
    s: prune.Scores,
    factor: float,
    steps: int,
    rescore: Callable[[nn.Module], tuple[prune.Scores, float]],
    scope: str,
    x0: torch.Tensor,
    bn_loader: Callable[[], Iterable],
    bn_batches: int,
    seconds: float = 0.0,
) -> tuple[nn.Module, float]:
    """``net`` pruned by scores ``s`` at ``factor`` (``scope``: per layer or global), BatchNorm re-estimated on the
    first ``bn_batches`` batches of a fresh ``bn_loader()`` (the same batches at every step); with ``steps`` > 1, in
    steps to the one-shot widths (:func:`step_widths`), every score recomputed by ``rescore(model) → (scores, seconds)``
    on the network of the step before, BatchNorm re-estimated after each step. Returns the pruned network (on ``net``'s
    device) and ``seconds`` plus the rescoring's relevance time."""
    dev = x0.device
    layers = prune.prunable_layers(net)
    plan = step_widths({n: layers[n].weight.shape[0] for n in s}, factor, steps)
    model = net
    for step, widths in enumerate(plan):
        if step:
            s, sec = rescore(model)
            seconds += sec
        model = place(prune.prune(model, s, factor if steps == 1 else widths, scope, x0), dev)
        train.recalibrate_batchnorm(model, bn_loader(), bn_batches)
    return model, seconds


Plan = list[tuple[str, float, float | None, int]]


def fig2_plan(p: FlexRelParams, factors: list[float], draws: int = 1, baselines: bool = False) -> Plan:
    """Every method at every factor (FlexRel at ``p.delta``; ``draws`` independent draws of random), and the
    ``baselines`` if asked."""
    methods = [*p.methods, *(p.baselines if baselines else [])]
    return [
        (m, f, p.delta if CATALOGUE[m].role == "combinator" else None, d)
        for m in methods
        for f in factors
        for d in (range(draws) if CATALOGUE[m].role == "control" else [0])
    ]


def fig2_plans(p: FlexRelParams) -> tuple[Plan, Plan]:
    """Fig. 2's runs, listed once for notebook 01, :mod:`lib.scale.sweep` and :mod:`lib.scale.sizing`: retention
    of every method and baseline at every factor (``random_draws`` draws of random), and recovery of every method
    at the ``recovery_factors``."""
    return fig2_plan(p, p.factors, p.random_draws, baselines=True), fig2_plan(p, p.recovery_factors)


def fig4_plan(p: FlexRelParams) -> Plan:
    """FlexRel at every δ of the sweep and every factor of ``delta_factors``."""
    return [("flexrel", f, d, 0) for f in p.delta_factors for d in p.deltas]


def planned(
    p: FlexRelParams, measure: str, plan: Plan, dev: torch.device | None = None, arm: str = ""
) -> list[Pruning]:
    """``plan``'s :class:`Pruning` runs measuring ``measure`` for every seed of ``p``, seed by seed (on ``dev``;
    default: the device ``p`` asks for), labelled ``arm``."""
    dev = dev or device(p)
    return [Pruning.of(p, measure, seed, m, f, d, draw, dev, arm) for seed in p.seeds for m, f, d, draw in plan]


def bases(p: FlexRelParams, dev: torch.device | None = None, trains: bool = True) -> list[Base]:
    """Every seed's :class:`lib.protocols.base_networks.Base` network of ``p`` (``trains``: whether a missing one is
    trained, or refused with what to run)."""
    return [Base.of(p, seed, dev, trains) for seed in p.seeds]


def pretraining(todo: Iterable[runs.Run]) -> pd.DataFrame:
    """The pre-training rows (one per epoch) of every base network among ``todo``: their learning curves."""
    return pd.DataFrame([r for run in todo if isinstance(run, Base) for r in run.result()[1]])


def frame(todo: Iterable[Pruning]) -> pd.DataFrame:
    """The rows of pruning runs ``todo`` (all measuring the same, retention or recovery), read back or computed with
    a progress bar, plus the unpruned network of each seed as factor 0 of every method (each curve starts there),
    with ``params_removed``, ``macs_removed`` and ``dataset``."""
    todo = list(todo)
    measures = {r.measure for r in todo}
    if len(measures) != 1:
        raise ValueError(f"a frame is of pruning runs that measure one thing; got {sorted(measures) or 'no runs'}")
    rows = []
    for base in dict.fromkeys(r.base() for r in todo):
        model, pre = base.result()
        size = prune.count(model, Images.of(base.view).example().to(torch.device(base.device)))
        last = pre[-1]
        rows += [
            {
                "method": m,
                "factor": 0.0,
                "delta": None,
                "draw": 0,
                "seed": base.seed,
                **size,
                "relevance_seconds": 0.0,
                "stage": "unpruned",
                "test_acc": last["test_acc"],
                "test_loss": last["test_loss"],
                **({"epoch": todo[0].view.epochs_post} if measures == {"recovery"} else {}),
            }
            for m in sorted({r.method for r in todo})
        ]
    for run in tqdm(todo, desc=todo[0].measure):
        rows += run.rows()
    out = pd.DataFrame(rows)
    full = out[out.factor == 0].groupby("seed")[["params", "macs"]].first()
    out["params_removed"] = 1 - out.params / out.seed.map(full.params)
    out["macs_removed"] = 1 - out.macs / out.seed.map(full.macs)
    out["dataset"] = todo[0].view.dataset
    return out


def samples_per_epoch(p: FlexRelParams, limit: int | None = None) -> int:
    """Training images per epoch (the subset, or the whole training split; at most ``limit``)."""
    n = p.train_subset if p.train_subset is not None else len(data.labels(p.dataset, True))
    return n if limit is None else min(n, limit)


def pruned_networks(p: FlexRelParams, factors: list[float], round_to: int | None = None) -> dict[float, nn.Module]:
    """Per factor, an untrained network pruned at it as the protocol prunes (factor 0: unpruned), placed as it
    trains. With per-layer pruning every method and seed gives the same shape, so pruning at random shows it.
    ``round_to``: keep channel counts a multiple of it (:func:`lib.core.prune.prune`; the protocol does not)."""
    if p.scope != "layer":
        raise NotImplementedError("the pruned shape depends on the scores when scope is 'global'")
    model = build(p, 0).eval()
    x0 = Images.of(p).example()
    s = _prunable(p.prune_linear, model, prune.random_scores(model, 0))
    return {
        f: place(prune.prune(model, s, f, p.scope, x0, round_to=round_to) if f else model, torch.device("cpu"))
        for f in factors
    }
