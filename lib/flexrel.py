"""The FlexRel protocol (§IV): train, score once, prune whole filters, measure — cached per run.

Every seed trains one pre-pruning network (shared by notebooks 01-03). From it, each pruning run (seed,
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

import dataclasses
import time
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from lib import data, models, prune, runs, scores, split, train
from lib.config import FLEXREL_METHODS, FlexRelParams, config_hash
from lib.report import crossing

#: Bump when the protocol's code changes in a way that changes results (invalidates cached runs).
VERSION = 2
PRE_KEYS = ("dataset", "model", "width", "image_size", "dropout", "train_subset", "test_subset", "batch_size", "optimizer",
            "lr", "lr_schedule", "momentum", "weight_decay", "epochs_pre")
SCORE_KEYS = PRE_KEYS + ("relevance_images", "unfolded_input", "prune_linear")
RETENTION_KEYS = SCORE_KEYS + ("scope", "bn_batches")
RECOVERY_KEYS = RETENTION_KEYS + ("epochs_post", "lr_post", "post_subset")
METHODS = FLEXREL_METHODS


def device(p: FlexRelParams) -> torch.device:
    """The torch device the profile asks for."""
    if p.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(p.device)


def _config(p: FlexRelParams, keys: Iterable[str], **extra) -> dict:
    fields = dataclasses.asdict(p)
    return {"version": VERSION, **{k: fields[k] for k in keys}, **extra}


@lru_cache(maxsize=2)
def _tensors(dataset: str, image_size: int, train_subset: int | None, test_subset: int | None):
    """Prepared in-memory splits ``(x_train, y_train, x_test, y_test)`` in channels-last layout (faster
    convolutions on CPU), read once per process."""
    out = []
    for is_train, limit in ((True, train_subset), (False, test_subset)):
        x, y = data.tensors(dataset, is_train, limit=limit)
        out += [data.prepare(x, dataset, image_size).contiguous(memory_format=torch.channels_last), y]
    return tuple(out)


def batches(p: FlexRelParams, part: str, seed: int = 0, shuffle: bool | None = None, limit: int | None = None):
    """A fresh loader over ``part`` (``train``: shuffled from ``seed``; ``test``: in order), optionally over
    the first ``limit`` samples: every training phase starts from the same batch order, whatever ran before
    it in this process."""
    train_split = part == "train"
    shuffle = train_split if shuffle is None else shuffle
    if data.SPECS[p.dataset].in_memory:
        x_tr, y_tr, x_te, y_te = _tensors(p.dataset, p.image_size, p.train_subset, p.test_subset)
        x, y = (x_tr, y_tr) if train_split else (x_te, y_te)
        return data.TensorLoader(x[:limit], y[:limit], p.batch_size if train_split else 256, shuffle=shuffle, seed=seed)
    size = p.train_subset if train_split else p.test_subset
    if limit is not None:
        size = limit if size is None else min(size, limit)
    return data.loader(p.dataset, train_split, p.batch_size, size=p.image_size, limit=size, shuffle=shuffle, seed=seed)


def build(p: FlexRelParams, seed: int) -> nn.Module:
    """A freshly initialised network for ``seed``."""
    torch.manual_seed(seed)
    spec = data.SPECS[p.dataset]
    return models.vgg16(spec.classes, spec.channels, p.width, batch_norm=p.model == "vgg16_bn", image_size=p.image_size,
                        dropout=p.dropout)


def _place(model: nn.Module, dev: torch.device) -> nn.Module:
    return model.to(dev, memory_format=torch.channels_last)


def _to(batches, dev: torch.device):
    return batches if dev.type == "cpu" else ((x.to(dev), y.to(dev)) for x, y in batches)


def _fit(model: nn.Module, p: FlexRelParams, seed: int, epochs: int, lr: float, schedule: str, limit: int | None,
         dev: torch.device) -> list[dict]:
    """Train ``epochs`` epochs from a fresh optimizer (schedule over the whole phase); one row per epoch."""
    torch.manual_seed(seed)
    train_batches = batches(p, "train", seed, limit=limit)
    opt = train.make_optimizer(p.optimizer, model.parameters(), lr, p.momentum, p.weight_decay)
    sched = train.make_scheduler(schedule, opt, epochs * len(train_batches))
    rows = []
    for _ in range(epochs):
        fit = train.train_epoch(model, _to(train_batches, dev), opt, sched)
        rows.append({"train_acc": fit["acc"], "train_loss": fit["loss"], **_eval(model, p, dev), "seconds": fit["seconds"]})
    return rows


#: Base networks already loaded in this process, by cache key: every pruning run starts from one, and building
#: and loading a VGG cost about as much as the retention measurement itself. Pruning works on a copy.
_LOADED: dict[str, tuple[nn.Module, list[dict]]] = {}


def pretrained(p: FlexRelParams, seed: int) -> tuple[nn.Module, list[dict]]:
    """The pre-pruning network of ``seed`` after ``epochs_pre`` epochs, and one row per epoch (cached; callers
    must not modify the network — :func:`lib.prune.prune` copies it)."""
    config = _config(p, PRE_KEYS, seed=seed)
    key = config_hash({**config, "device": str(device(p)), "runs": str(runs.RUNS), "data": str(data.DATA_ROOT)})
    if key not in _LOADED:
        _LOADED[key] = _load_or_train(p, seed, config)
    return _LOADED[key]


def _load_or_train(p: FlexRelParams, seed: int, config: dict) -> tuple[nn.Module, list[dict]]:
    dev = device(p)

    def fit(model: nn.Module) -> list[dict]:
        rows = _fit(_place(model, dev), p, seed, p.epochs_pre, p.lr, p.lr_schedule, None, dev)
        return [{"method": "unpruned", "factor": 0.0, "seed": seed, "stage": "pretrain", "epoch": e, **r}
                for e, r in enumerate(rows, 1)]

    model, rows = runs.cached_model("flexrel-pre", config, lambda: build(p, seed), fit)
    return _place(model, dev).eval(), rows


def example_input(p: FlexRelParams) -> torch.Tensor:
    spec = data.SPECS[p.dataset]
    return torch.zeros(1, spec.channels, p.image_size, p.image_size)


def unit_scores(p: FlexRelParams, seed: int, model: nn.Module) -> tuple[dict[str, scores.Scores], float]:
    """Magnitude (raw and BatchNorm-folded) and relevance scores of the pre-pruning ``model`` of ``seed`` (the
    layers the protocol prunes), and the measured relevance time in seconds; computed once per seed, cached."""

    def compute() -> dict:
        x, y = reference_images(p)
        dev = next(model.parameters()).device
        start = time.perf_counter()
        rel = scores.relevance(model, x.to(dev), y.to(dev), unfolded_input=p.unfolded_input)
        seconds = time.perf_counter() - start
        every = {"magnitude": scores.magnitude(model), "magnitude_bn": scores.magnitude(model, fold_batchnorm=True),
                 "relevance": rel}
        return {"seconds": seconds, **{k: {n: v.tolist() for n, v in _prunable(p, model, s).items()} for k, s in every.items()}}

    out = runs.cached("flexrel-scores", _config(p, SCORE_KEYS, seed=seed), compute)
    found = {k: {n: torch.tensor(v) for n, v in out[k].items()} for k in ("magnitude", "magnitude_bn", "relevance")}
    return found, out["seconds"]


def reference_images(p: FlexRelParams) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``relevance_images`` training images and labels (relevance is computed on them)."""
    xs, ys, n = [], [], 0
    for x, y in batches(p, "train", shuffle=False):
        xs.append(x)
        ys.append(y)
        n += len(y)
        if n >= p.relevance_images:
            break
    return torch.cat(xs)[: p.relevance_images], torch.cat(ys)[: p.relevance_images]


def _prunable(p: FlexRelParams, model: nn.Module, s: scores.Scores) -> scores.Scores:
    """The scores of the layers the protocol prunes: convolution filters (and hidden neurons if ``prune_linear``)."""
    layers = scores.prunable_layers(model)
    return {n: v.cpu() for n, v in s.items() if p.prune_linear or isinstance(layers[n], nn.Conv2d)}


def canonical(p: FlexRelParams, method: str, delta: float | None) -> tuple[str, float | None]:
    """The run a (method, δ) pair really is. With per-layer pruning FlexRel at δ = 0 ranks every layer
    exactly like magnitude and at δ = 1 exactly like relevance (min-max normalisation keeps a layer's
    order), so those are the same runs. δ means something for FlexRel only."""
    if method not in METHODS:
        raise ValueError(f"method {method!r}; allowed: {list(METHODS)}")
    if method != "flexrel":
        return method, None
    if delta is None:
        raise ValueError("method 'flexrel' needs a delta in [0, 1]")
    if p.scope == "layer" and delta in (0.0, 1.0):
        return ("magnitude" if delta == 0.0 else "relevance"), None
    return method, float(delta)


def _scores(p: FlexRelParams, seed: int, model: nn.Module, method: str, delta: float | None, draw: int) -> tuple[scores.Scores, float]:
    """The pruning scores of a method and the relevance time it needed (``draw``: which random draw)."""
    if method == "random":
        return _prunable(p, model, scores.random_scores(model, 1000 * seed + draw)), 0.0
    found, seconds = unit_scores(p, seed, model)
    if method == "flexrel":
        return scores.flexrel(found["magnitude"], found["relevance"], delta), seconds
    return found[method], (seconds if method == "relevance" else 0.0)


def _pruned(p: FlexRelParams, seed: int, method: str, factor: float, delta: float | None, draw: int):
    """The pruned network of a run after BatchNorm re-estimation, and its common row fields."""
    dev = device(p)
    base, _ = pretrained(p, seed)
    s, rel_seconds = _scores(p, seed, base, method, delta, draw)
    x0 = example_input(p).to(dev)
    model = _place(prune.prune(base, s, factor, p.scope, x0), dev)
    train.recalibrate_batchnorm(model, _to(batches(p, "train", seed), dev), p.bn_batches)
    common = {"method": method, "factor": factor, "delta": delta, "draw": draw, "seed": seed, **prune.count(model, x0),
              "relevance_seconds": rel_seconds}
    return model, common


def _run_config(p: FlexRelParams, keys, seed: int, method: str, factor: float, delta: float | None, draw: int) -> dict:
    method, delta = canonical(p, method, delta)
    if not 0.0 < factor < 1.0:
        raise ValueError(f"a pruning run needs a factor in (0, 1), got {factor!r}")
    return _config(p, keys, seed=seed, method=method, factor=factor, delta=delta, draw=draw if method == "random" else 0)


def retention(p: FlexRelParams, seed: int, method: str, factor: float, delta: float | None = None, draw: int = 0) -> dict:
    """One retention measurement (cached): ``{"row": {...}}`` with the test accuracy and loss after pruning and
    BatchNorm re-estimation (no weight update), parameters and MACs."""
    config = _run_config(p, RETENTION_KEYS, seed, method, factor, delta, draw)

    def compute() -> dict:
        model, common = _pruned(p, seed, config["method"], factor, config["delta"], config["draw"])
        return {"row": {**common, "stage": "retention", **_eval(model, p, device(p))}}

    return runs.cached("flexrel-retention", config, compute)


def recovery(p: FlexRelParams, seed: int, method: str, factor: float, delta: float | None = None, draw: int = 0) -> list[dict]:
    """One recovery run (cached): the pruned, BatchNorm-re-estimated network fine-tuned ``epochs_post`` epochs
    on ``post_subset`` training images with a cosine learning rate from ``lr_post`` to 0; one row per epoch."""
    config = _run_config(p, RECOVERY_KEYS, seed, method, factor, delta, draw)

    def compute() -> list[dict]:
        dev = device(p)
        model, common = _pruned(p, seed, config["method"], factor, config["delta"], config["draw"])
        rows = _fit(model, p, seed, p.epochs_post, p.lr_post, "cosine", p.post_subset, dev)
        return [{**common, "stage": "recovery", "epoch": e, **r} for e, r in enumerate(rows, 1)]

    return runs.cached("flexrel-recovery", config, compute)


def _eval(model: nn.Module, p: FlexRelParams, dev) -> dict:
    out = train.evaluate(model, _to(batches(p, "test"), dev))
    return {"test_acc": out["acc"], "test_loss": out["loss"]}


Plan = list[tuple[str, float, float | None, int]]


def fig2_plan(p: FlexRelParams, factors: list[float], draws: int = 1) -> Plan:
    """Every method at every factor (FlexRel at ``p.delta``; ``draws`` independent draws of random)."""
    return [(m, f, p.delta if m == "flexrel" else None, d) for m in p.methods for f in factors
            for d in (range(draws) if m == "random" else [0])]


def fig4_plan(p: FlexRelParams) -> Plan:
    """FlexRel at every δ of the sweep and every factor of ``delta_factors``."""
    return [("flexrel", f, d, 0) for f in p.delta_factors for d in p.deltas]


def _unpruned_rows(p: FlexRelParams, methods: Iterable[str]) -> list[dict]:
    """The pre-trained network of every seed as factor 0 of every method (each curve starts there)."""
    x0 = example_input(p).to(device(p))
    rows = []
    for seed in p.seeds:
        model, pre = pretrained(p, seed)
        size = prune.count(model, x0)
        last = pre[-1]
        rows += [{"method": m, "factor": 0.0, "delta": None, "draw": 0, "seed": seed, **size, "relevance_seconds": 0.0,
                  "stage": "unpruned", "test_acc": last["test_acc"], "test_loss": last["test_loss"]} for m in methods]
    return rows


def sweep_retention(p: FlexRelParams, plan: Plan) -> pd.DataFrame:
    """Retention rows of every seed and planned ``(method, factor, δ, draw)``, plus each seed's unpruned
    network as factor 0 of every method, with ``params_removed`` and ``macs_removed``. Finished runs are
    read from the cache, the others run (with a progress bar)."""
    jobs = [(seed, *job) for seed in p.seeds for job in plan]
    rows = _unpruned_rows(p, sorted({m for m, *_ in plan}))
    for seed, method, factor, delta, draw in tqdm(jobs, desc="retention"):
        rows.append({**retention(p, seed, method, factor, delta, draw)["row"], "requested_delta": delta})
    return _tidy(p, rows)


def sweep_recovery(p: FlexRelParams, plan: Plan) -> pd.DataFrame:
    """Recovery rows (every epoch) of every seed and planned run, with the unpruned networks as factor 0."""
    jobs = [(seed, *job) for seed in p.seeds for job in plan]
    rows = [{**r, "epoch": p.epochs_post} for r in _unpruned_rows(p, sorted({m for m, *_ in plan}))]
    for seed, method, factor, delta, draw in tqdm(jobs, desc="recovery"):
        rows += [{**r, "requested_delta": delta} for r in recovery(p, seed, method, factor, delta, draw)]
    return _tidy(p, rows)


def _tidy(p: FlexRelParams, rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    full = frame[frame.factor == 0].groupby("seed")[["params", "macs"]].first()
    frame["params_removed"] = 1 - frame.params / frame.seed.map(full.params)
    frame["macs_removed"] = 1 - frame.macs / frame.seed.map(full.macs)
    frame["dataset"] = p.dataset
    return frame


def pretraining(p: FlexRelParams) -> pd.DataFrame:
    """Every seed's pre-training rows (one per epoch): the base networks' learning curves."""
    return pd.DataFrame([r for seed in p.seeds for r in pretrained(p, seed)[1]])


def final_epoch(frame: pd.DataFrame) -> pd.DataFrame:
    """The last recovery epoch of every run (and the unpruned rows)."""
    return frame[frame.epoch == frame.epoch.max()]


def samples_per_epoch(p: FlexRelParams, limit: int | None = None) -> int:
    """Training images per epoch (the subset, or the whole training split; at most ``limit``)."""
    n = p.train_subset if p.train_subset is not None else len(data.labels(p.dataset, True))
    return n if limit is None else min(n, limit)


def layers_at(p: FlexRelParams, factors: list[float]) -> dict[float, list[tuple[str, int, int]]]:
    """Per factor, the per-layer MACs and output sizes of the network pruned at it (factor 0: unpruned). With
    per-layer pruning every method and seed gives the same shape, so an untrained network pruned at random
    shows it."""
    if p.scope != "layer":
        raise NotImplementedError("the pruned shape depends on the scores when scope is 'global'")
    model = build(p, 0).eval()
    x0 = example_input(p)
    s = _prunable(p, model, scores.random_scores(model, 0))
    return {f: split.layer_macs(prune.prune(model, s, f, p.scope, x0) if f else model, x0) for f in factors}


def time_to_target(p: FlexRelParams, sp, retention_frame: pd.DataFrame, targets_rel: list[float]) -> pd.DataFrame:
    """Fig. 3, per seed, method and target: the pruning level at which retention accuracy first falls below
    ``target × unpruned accuracy`` (:func:`lib.report.crossing` on the factor axis, interpolated between grid
    levels), and the modelled learning time and data of reaching the target there: ``epochs_pre`` epochs of
    the unpruned network + relevance on the reference images (relevance and FlexRel only) + ``epochs_post``
    epochs of the pruned network, each split into computation and network time by :func:`lib.split.cost`
    (``sp``: :class:`lib.config.SplitParams`); the pruned network's costs are interpolated linearly between
    the grid levels around the crossing."""
    levels = sorted(set(retention_frame.factor))
    shapes = layers_at(p, levels)
    post = pd.DataFrame([split.cost(split.Split.of(shapes[f], sp.cut_layer), samples_per_epoch(p, p.post_subset), sp)
                         for f in levels], index=levels)
    full = split.Split.of(shapes[0.0], sp.cut_layer)
    pre, rel = split.cost(full, samples_per_epoch(p), sp), split.cost(full, p.relevance_images, sp)
    mean = retention_frame.groupby(["seed", "method", "factor"], as_index=False).test_acc.mean()
    rows = []
    for (seed, method), curve in mean.groupby(["seed", "method"]):
        reference = float(curve[curve.factor == 0].test_acc.iloc[0])
        uses_relevance = method in ("relevance", "flexrel")
        for t in targets_rel:
            factor = crossing(curve, t * reference, x="factor")
            at = {k: float(np.interp(factor, levels, post[k])) for k in post}
            row = {"seed": seed, "method": method, "target_rel": t, "factor": factor,
                   "relevance_s": (rel["computation_s"] + rel["network_s"]) if uses_relevance else 0.0,
                   "computation_s": p.epochs_pre * pre["computation_s"] + p.epochs_post * at["computation_s"],
                   "network_s": p.epochs_pre * pre["network_s"] + p.epochs_post * at["network_s"],
                   "bytes": p.epochs_pre * pre["bytes"] + p.epochs_post * at["bytes"] + (rel["bytes"] if uses_relevance else 0.0)}
            row["total_s"] = row["relevance_s"] + row["computation_s"] + row["network_s"]
            rows.append(row)
    return pd.DataFrame(rows)
