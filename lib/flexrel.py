"""The FlexRel protocol (§IV): train, score once, prune whole filters, train again — cached per run.

A *run* is one (seed, method, pruning factor, δ). Every run starts from the same pre-pruning model of
its seed (trained once, shared by notebooks 01-03), prunes it physically, records test accuracy right
after pruning and after re-estimating BatchNorm statistics, then trains ``epochs_post`` epochs with a
fresh optimizer, recording train-batch and test accuracy after each. Rows are tidy dicts (one per run,
stage and epoch) for ``pandas.DataFrame``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from functools import lru_cache

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from lib import data, models, prune, runs, scores, split, train
from lib.config import FlexRelParams

#: Bump when the protocol's code changes in a way that changes results (invalidates cached runs).
VERSION = 1
PRE_KEYS = ("dataset", "model", "width", "image_size", "dropout", "train_subset", "test_subset", "batch_size", "optimizer",
            "lr", "momentum", "weight_decay", "epochs_pre")
POST_KEYS = PRE_KEYS + ("epochs_post", "scope", "prune_linear", "relevance_images", "unfolded_input", "bn_batches")


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
    """Prepared in-memory splits ``(x_train, y_train, x_test, y_test)``, read once per process."""
    out = []
    for is_train, limit in ((True, train_subset), (False, test_subset)):
        x, y = data.tensors(dataset, is_train, limit=limit)
        out += [data.prepare(x, dataset, image_size), y]
    return tuple(out)


def batches(p: FlexRelParams, part: str, seed: int = 0, shuffle: bool | None = None):
    """A fresh loader over ``part`` (``train``: shuffled from ``seed``; ``test``: in order): every
    training phase starts from the same batch order, whatever ran before it in this process."""
    train_split = part == "train"
    shuffle = train_split if shuffle is None else shuffle
    if data.SPECS[p.dataset].in_memory:
        x_tr, y_tr, x_te, y_te = _tensors(p.dataset, p.image_size, p.train_subset, p.test_subset)
        x, y = (x_tr, y_tr) if train_split else (x_te, y_te)
        return data.TensorLoader(x, y, p.batch_size if train_split else 512, shuffle=shuffle, seed=seed)
    return data.loader(p.dataset, train_split, p.batch_size, size=p.image_size,
                       limit=p.train_subset if train_split else p.test_subset, shuffle=shuffle, seed=seed)


def build(p: FlexRelParams, seed: int) -> nn.Module:
    """A freshly initialised network for ``seed``."""
    torch.manual_seed(seed)
    spec = data.SPECS[p.dataset]
    return models.vgg16(spec.classes, spec.channels, p.width, batch_norm=p.model == "vgg16_bn", image_size=p.image_size,
                        dropout=p.dropout)


def _epoch_row(model, train_batches, p: FlexRelParams, opt, dev) -> dict:
    fit = train.train_epoch(model, _to(train_batches, dev), opt)
    test = train.evaluate(model, _to(batches(p, "test"), dev))
    return {"train_acc": fit["acc"], "train_loss": fit["loss"], "test_acc": test["acc"], "test_loss": test["loss"],
            "seconds": fit["seconds"]}


def _to(batches, dev: torch.device):
    return batches if dev.type == "cpu" else ((x.to(dev), y.to(dev)) for x, y in batches)


def pretrained(p: FlexRelParams, seed: int) -> tuple[nn.Module, list[dict]]:
    """The pre-pruning network of ``seed`` after ``epochs_pre`` epochs, and one row per epoch (cached)."""
    dev = device(p)

    def fit(model: nn.Module) -> list[dict]:
        model.to(dev)
        torch.manual_seed(seed)
        train_batches = batches(p, "train", seed)
        opt = train.make_optimizer(p.optimizer, model.parameters(), p.lr, p.momentum, p.weight_decay)
        rows = []
        for epoch in tqdm(range(1, p.epochs_pre + 1), desc=f"pre-train seed {seed}", leave=False):
            rows.append({"method": "unpruned", "factor": 0.0, "delta": None, "seed": seed, "stage": "pretrain",
                         "epoch": epoch, **_epoch_row(model, train_batches, p, opt, dev)})
        return rows

    model, rows = runs.cached_model("flexrel-pre", _config(p, PRE_KEYS, seed=seed), lambda: build(p, seed), fit)
    return model.to(dev).eval(), rows


def example_input(p: FlexRelParams) -> torch.Tensor:
    spec = data.SPECS[p.dataset]
    return torch.zeros(1, spec.channels, p.image_size, p.image_size)


def unit_scores(p: FlexRelParams, seed: int, model: nn.Module) -> tuple[dict[str, scores.Scores], float]:
    """Magnitude and relevance scores of the pre-pruning ``model`` of ``seed`` (the layers the protocol
    prunes), and the measured relevance time in seconds; computed once per seed and cached."""
    config = _config(p, PRE_KEYS + ("relevance_images", "unfolded_input", "prune_linear"), seed=seed)

    def compute() -> dict:
        x, y = reference_images(p)
        dev = next(model.parameters()).device
        start = time.perf_counter()
        rel = scores.relevance(model, x.to(dev), y.to(dev), unfolded_input=p.unfolded_input)
        seconds = time.perf_counter() - start
        both = {"magnitude": _prunable(p, model, scores.magnitude(model)), "relevance": _prunable(p, model, rel)}
        return {"seconds": seconds, **{k: {n: v.tolist() for n, v in s.items()} for k, s in both.items()}}

    out = runs.cached("flexrel-scores", config, compute)
    both = {k: {n: torch.tensor(v) for n, v in out[k].items()} for k in ("magnitude", "relevance")}
    return both, out["seconds"]


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
    if method != "flexrel":
        return method, None
    if delta is None:
        raise ValueError("method 'flexrel' needs a delta in [0, 1]")
    if p.scope == "layer" and delta in (0.0, 1.0):
        return ("magnitude" if delta == 0.0 else "relevance"), None
    return method, float(delta)


def _scores(p: FlexRelParams, seed: int, model: nn.Module, method: str, delta: float | None) -> tuple[scores.Scores, float]:
    """The pruning scores of a method and the relevance time it needed."""
    if method == "none":
        return {}, 0.0
    if method == "random":
        return _prunable(p, model, scores.random_scores(model, seed)), 0.0
    both, seconds = unit_scores(p, seed, model)
    if method == "flexrel":
        return scores.flexrel(both["magnitude"], both["relevance"], delta), seconds
    return both[method], (seconds if method == "relevance" else 0.0)


def run(p: FlexRelParams, seed: int, method: str, factor: float, delta: float | None = None) -> dict:
    """One pruning run (cached): ``{"rows": [...], "layers": [...]}``. Rows: stages ``pruned`` and
    ``bn_recalibrated`` (at epoch ``epochs_pre``), then ``trained`` for epochs ``epochs_pre + 1 …
    epochs_pre + epochs_post``. ``layers``: the pruned network's per-layer MACs and output sizes
    (:func:`lib.split.layer_macs`), for the split-learning cost model. ``method="none"`` (factor 0) is the
    unpruned network, trained on the same way with a fresh optimizer."""
    method, delta = canonical(p, method, delta)
    if method == "none" and factor != 0.0:
        raise ValueError("method 'none' is the unpruned network: factor must be 0")
    config = _config(p, POST_KEYS, seed=seed, method=method, factor=factor, delta=delta)

    def compute() -> list[dict]:
        dev = device(p)
        base, _ = pretrained(p, seed)
        s, rel_seconds = _scores(p, seed, base, method, delta)
        x0 = example_input(p).to(dev)
        model = prune.prune(base, s, factor, p.scope, x0)
        common = {"method": method, "factor": factor, "delta": delta, "seed": seed, **prune.count(model, x0),
                  "relevance_seconds": rel_seconds}
        rows = [{**common, "stage": "pruned", "epoch": p.epochs_pre, **_eval(model, p, dev)}]
        train.recalibrate_batchnorm(model, _to(batches(p, "train", seed), dev), p.bn_batches)
        rows.append({**common, "stage": "bn_recalibrated", "epoch": p.epochs_pre, **_eval(model, p, dev)})
        torch.manual_seed(seed)
        train_batches = batches(p, "train", seed)
        opt = train.make_optimizer(p.optimizer, model.parameters(), p.lr, p.momentum, p.weight_decay)
        for epoch in range(p.epochs_pre + 1, p.epochs_pre + p.epochs_post + 1):
            rows.append({**common, "stage": "trained", "epoch": epoch, **_epoch_row(model, train_batches, p, opt, dev)})
        return {"rows": rows, "layers": split.layer_macs(model, x0)}

    return runs.cached("flexrel-run", config, compute)


def _eval(model: nn.Module, p: FlexRelParams, dev) -> dict:
    out = train.evaluate(model, _to(batches(p, "test"), dev))
    return {"test_acc": out["acc"], "test_loss": out["loss"]}


def sweep(p: FlexRelParams, plan: list[tuple[str, float, float | None]]) -> pd.DataFrame:
    """Every seed's pre-training rows plus the rows of every planned ``(method, factor, δ)`` run, as one
    tidy frame. Finished runs are read from the cache, the others run (with a progress bar)."""
    rows = []
    jobs = [(seed, *job) for seed in p.seeds for job in plan]
    for seed in p.seeds:
        rows += pretrained(p, seed)[1]
    for seed, method, factor, delta in tqdm(jobs, desc="runs"):
        rows += [{**r, "requested_delta": delta} for r in run(p, seed, method, factor, delta)["rows"]]
    frame = pd.DataFrame(rows)
    frame["dataset"] = p.dataset
    return frame


def fig2_plan(p: FlexRelParams) -> list[tuple[str, float, float | None]]:
    """The unpruned reference and every method at every factor (FlexRel at ``p.delta``)."""
    return [("none", 0.0, None)] + [(m, f, p.delta if m == "flexrel" else None) for m in p.methods for f in p.factors]


def fig4_plan(p: FlexRelParams) -> list[tuple[str, float, float | None]]:
    """FlexRel at every δ of the sweep and every factor of ``delta_factors``."""
    return [("none", 0.0, None)] + [("flexrel", f, d) for f in p.delta_factors for d in p.deltas]


def final(frame: pd.DataFrame) -> pd.DataFrame:
    """The last trained epoch of every run (one row per run); the unpruned run appears as factor 0 of every
    method, so each curve starts at the unpruned accuracy."""
    trained = frame[frame.stage == "trained"]
    last = trained[trained.epoch == trained.epoch.max()]
    methods = sorted(set(last.method) - {"none"})
    start = [last[last.method == "none"].assign(method=m) for m in methods]
    return pd.concat([last[last.method != "none"], *start], ignore_index=True)


def reach(curves: pd.DataFrame, targets_abs: list[float], targets_rel: list[float], by_seed: bool = False) -> pd.DataFrame:
    """Per method (and per seed if ``by_seed``), the largest pruning factor whose accuracy still reaches each target.

    ``curves`` is :func:`final`'s frame (columns ``method``, ``seed``, ``factor``, ``test_acc``; factor 0 is the
    unpruned run). Accuracy is the mean over seeds unless ``by_seed``; relative targets are fractions of the same
    curve's accuracy at factor 0. ``largest_factor`` is NaN where no factor reaches the target."""
    keys = ["method", "seed"] if by_seed else ["method"]
    mean = curves.groupby(keys + ["factor"], as_index=False).test_acc.mean()
    rows = []
    for key, curve in mean.groupby(keys):
        reference = curve[curve.factor == 0].test_acc.mean()
        for kind, targets, scale in (("absolute", targets_abs, 1.0), ("relative", targets_rel, reference)):
            for t in targets:
                ok = curve[curve.test_acc >= t * scale]
                rows.append({**dict(zip(keys, key)), "target_kind": kind, "target": t, "target_acc": t * scale,
                             "largest_factor": float(ok.factor.max()) if len(ok) else float("nan")})
    return pd.DataFrame(rows)

def samples_per_epoch(p: FlexRelParams) -> int:
    """Training images per epoch (the subset, or the whole training split)."""
    return p.train_subset if p.train_subset is not None else len(data.labels(p.dataset, True))


def time_to_target(p: FlexRelParams, sp, frame: pd.DataFrame, targets: list[float], reference: float = 1.0,
                   kind: str = "absolute") -> pd.DataFrame:
    """Fig. 3: per method and accuracy target, the largest pruning factor whose run reaches the target, and
    the modelled learning time to the first post-pruning epoch at or above it.

    Learning time = ``epochs_pre`` epochs of the unpruned network + relevance on the reference images
    (relevance and FlexRel only) + ``k`` epochs of the pruned network, each split into computation and
    network time by :func:`lib.split.cost` (``sp``: :class:`lib.config.SplitParams`). Accuracy is the
    seed mean per epoch. Targets are multiplied by ``reference`` (1 for absolute targets).
    """
    samples = samples_per_epoch(p)
    seed = p.seeds[0]  # per-layer pruning: every seed's pruned network has the same shape
    full = split.Split.of(run(p, seed, "none", 0.0)["layers"], sp.cut_layer)
    pre = split.cost(full, samples, sp)
    rel = split.cost(full, p.relevance_images, sp)
    trained = frame[frame.stage == "trained"]
    mean = trained.groupby(["method", "factor", "requested_delta", "epoch"], dropna=False, as_index=False).test_acc.mean()
    rows = []
    for (method, delta), curve in mean.groupby(["method", "requested_delta"], dropna=False):
        if method == "none":
            continue
        delta = None if pd.isna(delta) else float(delta)
        for t in targets:
            hit = curve[curve.test_acc >= t * reference]
            if hit.empty:
                rows.append({"method": method, "target_kind": kind, "target": t, "factor": float("nan")})
                continue
            factor = float(hit.factor.max())
            k = int(hit[hit.factor == factor].epoch.min()) - p.epochs_pre
            pruned = split.cost(split.Split.of(run(p, seed, method, factor, delta)["layers"], sp.cut_layer), samples, sp)
            uses_relevance = method in ("relevance", "flexrel")
            rows.append({
                "method": method, "target_kind": kind, "target": t, "target_acc": t * reference, "factor": factor,
                "post_epochs": k,
                "relevance_s": (rel["computation_s"] + rel["network_s"]) if uses_relevance else 0.0,
                "computation_s": p.epochs_pre * pre["computation_s"] + k * pruned["computation_s"],
                "network_s": p.epochs_pre * pre["network_s"] + k * pruned["network_s"],
                "bytes": p.epochs_pre * pre["bytes"] + k * pruned["bytes"] + (rel["bytes"] if uses_relevance else 0.0),
            })
    out = pd.DataFrame(rows)
    if not out.empty and "relevance_s" in out:
        out["total_s"] = out[["relevance_s", "computation_s", "network_s"]].sum(axis=1, min_count=1)
    return out
