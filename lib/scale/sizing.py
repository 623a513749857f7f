"""How large each profile is: its runs, what a run took on this machine, and what the large profiles would cost.

- **Runs**: what each stage's notebook reads (:func:`lib.protocols.stages.runs_of`) and the runs those read, per
  kind of stored run; a run two stages list (notebook 03 reads notebook 01's scores) is counted once, under the first.
- **Measured**: every stored entry records how long its computation took and on which CPU (:mod:`lib.store.runs`);
  the median over the current entries of a profile is its time per run here.
- **Estimated**: profiles that cannot run here (``cifar``, ``paper``: their data and their hours) are sized by
  their work (:func:`work`): multiply-accumulates (MACs) of one forward pass of the network, times the images
  each run passes through it, a training image counting as three forward passes (the backward pass costs about
  two). A FlexRel pruning run counts (1 − f)² of the unpruned network's MACs (filter fraction f); a train-time
  pruning run counts its unpruned width throughout (an upper bound). Dividing the work by a throughput gives
  time: this CPU's, measured per kind of run on a profile that ran here (``reference``), or an assumed GPU's
  (:data:`GPU_TFLOPS`, stated wherever the estimate is shown). Data loading is assumed to keep up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from ..core import data, prune
from ..criteria import contribution
from ..params.catalogue import NETWORKS
from ..params.flexrel import FlexRelParams
from ..params.rank import RankParams
from ..params.vae import VaeParams
from ..protocols import base_networks, flexrel, schedule, stages, train_time, train_time_vae
from ..store import runs
from . import store, sweep

#: What the estimates assume of a GPU — an assumption, not a measurement (no GPU has run this project yet):
#: sustained training throughput in TFLOP/s (2 FLOP per MAC), a third of an A100's bfloat16 peak (312). At 32×32
#: the convolutions are small and a GPU stays further from its peak: the ``cifar`` estimates are lower bounds.
GPU_TFLOPS = 100.0


#: Whose measured throughput estimates a kind's time on this CPU. FlexRel's scoring, retention and recovery runs
#: are short, and fixed costs (loading, pruning surgery, BatchNorm re-estimation) dominate their time here; scaled
#: up they are training and inference of the same network, which the base networks' training measures.
#: Study 2's runs train the same network (the pruned one for most of the budget), so the same throughput sizes them.
RATE_OF = {
    "flexrel-scores": "flexrel-pre",
    "flexrel-retention": "flexrel-pre",
    "flexrel-recovery": "flexrel-pre",
    "schedule-pre": "flexrel-pre",
    "schedule-run": "flexrel-pre",
}


def _images(dataset: str, subset: int | None, train: bool) -> int:
    spec = data.SPECS[dataset]
    full = spec.train if train else spec.test
    return min(subset, full) if subset else full


_NETWORKS: dict[tuple, tuple[int, list[int]]] = {}


def _network(
    build: Callable[..., nn.Module],
    *args,
    shape: tuple[int, ...],
    hidden: Callable[[nn.Module], list[str]] = lambda model: [],
) -> tuple[int, list[int]]:
    """MACs of one forward pass of ``build(*args)`` on one input of ``shape``, and the widths of the hidden
    layers ``hidden`` names (each network built once)."""
    key = (build.__module__, build.__qualname__, repr(args), shape)
    if key not in _NETWORKS:
        model = build(*args).eval()
        with torch.no_grad():
            macs = prune.count(model, torch.zeros(shape))["macs"]
        _NETWORKS[key] = macs, [train_time.width(model, [name]) for name in hidden(model)]
    return _NETWORKS[key]


_FLEXREL_MACS: dict[tuple, int] = {}


def _flexrel_macs(p: FlexRelParams | runs.View) -> int:
    """MACs of one forward pass of section ``p``'s network (built once per network, whatever else ``p`` sets)."""
    key = (p.dataset, p.model, p.width, p.image_size)
    if key not in _FLEXREL_MACS:
        _FLEXREL_MACS[key] = _network(
            base_networks.build, p, 0, shape=tuple(base_networks.Images.of(p).example().shape)
        )[0]
    return _FLEXREL_MACS[key]


def _epochs(p: RankParams | VaeParams | runs.View, widths: list[int]) -> int:
    """Epochs of a train-time pruning run (the unpruned baseline trains as many)."""
    return (
        p.initial_epochs
        + train_time.rounds_needed(widths, p.prune_fraction, p.target_removed) * p.recovery_epochs
        + p.final_epochs
    )


def work(run: runs.Run) -> float:
    """Multiply-accumulates of one stored run (see the module's documentation for what is counted).

    The default profile's rank run on MNIST: 28 epochs (5 + 10 rounds × 2 + 3) of 20,000 training images and
    the 10,000 test images through the 784-50-30-10 MLP, 41,170 MACs each (weights 41,000, biases and ReLUs):

    >>> from lib.params import profiles
    >>> p = profiles.load("rank", "default")
    >>> work(train_time.RankRun.of(p, "MNIST", "rank", "paper", 0)) / (28 * (3 * 20_000 + 10_000))
    41170.0
    """
    q = run.view
    if isinstance(run, base_networks.Base):
        per_epoch = 3 * _images(q.dataset, q.train_subset, True) + _images(q.dataset, q.test_subset, False)
        return _flexrel_macs(q) * q.epochs_pre * per_epoch
    if isinstance(run, flexrel.Scores):
        return _flexrel_macs(q) * 3 * q.relevance_images
    if isinstance(run, flexrel.Pruning):
        kept = (1 - run.factor) ** NETWORKS[q.model].macs_exponent  # a chain of convolutions keeps about (1 − f)²
        test = _images(q.dataset, q.test_subset, False)
        bn = q.bn_batches * q.batch_size
        if run.measure == "retention":
            return _flexrel_macs(q) * kept * (bn + test)
        return _flexrel_macs(q) * kept * (bn + q.epochs_post * (3 * _images(q.dataset, q.post_subset, True) + test))
    if isinstance(run, schedule.Scheduled):  # pruned (or not), re-estimated, tested, then trained the rest
        kept = 1.0 if run.method == schedule.UNPRUNED else (1 - run.factor) ** NETWORKS[q.model].macs_exponent
        test = _images(q.dataset, q.test_subset, False)
        per_epoch = 3 * _images(q.dataset, q.train_subset, True) + test
        return _flexrel_macs(q) * kept * (q.bn_batches * q.batch_size + test + q.epochs_post * per_epoch)
    if isinstance(run, train_time.RankRun):
        spec = data.SPECS[run.dataset]
        shape = (1, spec.channels, spec.size, spec.size)
        macs, widths = _network(
            train_time.build,
            q,
            run.dataset,
            0,
            shape=shape,
            hidden=lambda m: [n for n, _ in contribution.linear_pairs(m, torch.zeros(shape))],
        )
        return (
            macs
            * _epochs(q, widths)
            * (3 * _images(run.dataset, q.train_subset, True) + _images(run.dataset, None, False))
        )
    if isinstance(run, train_time_vae.VaeRun):
        spec = data.SPECS[q.dataset]
        macs, widths = _network(
            train_time_vae.build,
            q,
            q.hidden,
            0,
            shape=(1, spec.channels, q.image_size, q.image_size),
            hidden=lambda m: [a for a, _ in m.hidden_pairs()],
        )
        per_epoch = 3 * _images(q.dataset, q.train_subset, True) + _images(q.dataset, q.test_subset, False)
        return macs * _epochs(q, widths) * per_epoch
    raise ValueError(f"no work model for {type(run).__name__}")


def planned(profile: str, names: Iterable[str] = tuple(stages.STAGES)) -> pd.DataFrame:
    """One row per stored run of ``profile`` (``stage``, ``kind``, ``macs``): the runs each stage lists and the runs
    those read (:func:`lib.scale.sweep.phases`), as if every dataset were here; a run two stages list counts under
    the first."""
    seen, rows = set(), []
    for stage in names:
        for phase in sweep.phases(stage, profile, lambda name: None):
            for run in phase:
                if run.identity() not in seen:
                    seen.add(run.identity())
                    rows.append(
                        {
                            "profile": profile,
                            "stage": stage,
                            "kind": run.kind,
                            "macs": float(work(run)),
                            "identity": run.identity(),
                        }
                    )
    return pd.DataFrame(rows, columns=["profile", "stage", "kind", "macs", "identity"])


def measured(profile: str, root: Path | None = None) -> pd.DataFrame:
    """The computation time and CPU of every current stored entry of ``profile`` (a run its stages list, computed by
    today's code: ``kind``, ``seconds``, ``cpu``, ``identity``); entries stored before runs recorded their time are
    left out."""
    now = store.current((profile,))
    rows = [
        {"kind": h["kind"], "seconds": h["seconds"], "cpu": h["cpu"], "identity": runs.identity_of(h)}
        for _, h, _ in runs.records(root)
        if h is not None and "seconds" in h and not runs.why_stale(h, now)
    ]
    return pd.DataFrame(rows, columns=["kind", "seconds", "cpu", "identity"])


def table(
    profiles: list[str], reference: str = "default", gpu_tflops: float = GPU_TFLOPS, root: Path | None = None
) -> pd.DataFrame:
    """Per profile and kind of run: ``stages`` listing them, ``runs``, ``tmacs`` (their work, 10¹² MACs),
    ``measured_s`` (median seconds per run, where the profile ran here), ``cpu_hours`` (the work at the
    throughput ``reference`` reached here on that kind of run, or the one :data:`RATE_OF` names) and
    ``gpu_hours`` (at ``gpu_tflops``)."""
    names = list(dict.fromkeys([*profiles, reference]))  # each profile enumerated once, the reference included
    planned_runs = pd.concat([planned(p) for p in names], ignore_index=True)
    times = {p: measured(p, root) for p in names}
    ref = (
        planned_runs[planned_runs.profile == reference].groupby("kind").macs.mean()
        / times[reference].groupby("kind").seconds.median()
    )
    rows = []
    for (profile, kind), group in planned_runs[planned_runs.profile.isin(profiles)].groupby(
        ["profile", "kind"], sort=False
    ):
        mine = times[profile][times[profile].kind == kind].seconds
        macs = group.macs.sum()
        rows.append(
            {
                "profile": profile,
                "kind": kind,
                "stages": ", ".join(s[:2] for s in group.stage.unique()),
                "runs": len(group),
                "tmacs": macs / 1e12,
                "measured_s": mine.median() if len(mine) else float("nan"),
                "cpu_hours": macs / ref.get(RATE_OF.get(kind, kind), float("nan")) / 3600,
                "gpu_hours": 2 * macs / (gpu_tflops * 1e12) / 3600,
            }
        )
    return pd.DataFrame(rows)


#: The phases of a profile's computation (the issue's budget table): a run listed first by a study (07-09) counts
#: under the studies, every other by its kind.
PHASES = {
    "flexrel-pre": "base training",
    "flexrel-scores": "scores",
    "flexrel-retention": "retention",
    "flexrel-recovery": "recovery",
    "rank-run": "rank",
    "vae-run": "VAE",
    "schedule-pre": "study 2: first share",
    "schedule-run": "study 2: pruned and trained on",
}
STUDIES = ("07_flexrel_sensitivity", "08_flexrel_open_questions", "09_flexrel_resnet")


def phase_table(profile: str, root: Path | None = None) -> pd.DataFrame:
    """Per phase of ``profile`` (:data:`PHASES`, then ``studies``): ``runs`` listed, ``stored`` (current entries
    here), ``computed_s`` (their computation times summed: thread time of the jobs, not wall time) and
    ``median_s`` (per run)."""
    listed = planned(profile)
    listed["phase"] = [
        "studies (07-09)" if s in STUDIES else PHASES.get(k, k) for s, k in zip(listed.stage, listed.kind)
    ]
    times = measured(profile, root).drop_duplicates("identity").set_index("identity").seconds
    listed["seconds"] = listed.identity.map(times)
    order = [*dict.fromkeys([*PHASES.values(), "studies (07-09)"])]
    out = listed.groupby("phase").agg(
        runs=("kind", "size"),
        stored=("seconds", "count"),
        computed_s=("seconds", "sum"),
        median_s=("seconds", "median"),
    )
    return out.reindex([p for p in order if p in out.index])
