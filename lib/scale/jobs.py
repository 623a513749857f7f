"""A list of stored runs computed as parallel jobs with submitit: what :mod:`lib.scale.sweep` submits for a stage
(locally or to Slurm), and what each notebook calls (:func:`compute`) before it reads its runs, so that a stage
spends the machine's cores on independent runs, not on one run's threads.

Runs fall into phases (:func:`by_phase`: a run after every run it reads — FlexRel's pruning runs after their base
networks and scores); a phase's runs not yet stored (:func:`missing`) are dealt round-robin into jobs
(:func:`chunks`), each computing its runs one after another with a fixed number of torch threads. The same seed
and profile give identical numbers only on the same CPU model *and thread count*: one thread per job on a CPU
gives other numbers than one process using every core.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from ..params import paths
from ..protocols import stages
from ..store import runs

#: How often a waiting :func:`compute` counts the runs stored.
POLL_SECONDS = 5.0
#: One stage's runs to compute, in one phase: each run only reads runs of earlier phases.
Phase = list[runs.Run]


def by_phase(todo: Iterable[runs.Run]) -> list[Phase]:
    """``todo`` and every run they read (:func:`lib.protocols.stages.with_inputs`), by phase: FlexRel's base
    networks, then their scores, then the pruning runs; a VAE's pruned run before its scratch run."""
    found = stages.with_inputs(todo)
    return [[r for r in found if r.phase == n] for n in sorted({r.phase for r in found})]


def missing(phase: Phase) -> Phase:
    """The runs of ``phase`` that are not stored (asked without computing anything)."""
    left = []
    for run in phase:
        try:
            with runs.only_stored():
                run.result()
        except runs.NotStored:
            left.append(run)
    return left


@dataclass
class Chunk:
    """One job: some runs, computed one after another with ``threads`` torch threads (and, where ``gpu`` is
    set, only that GPU visible)."""

    runs: Phase
    threads: int
    gpu: int | None = None

    def __call__(self) -> dict:
        if self.gpu is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = str(self.gpu)
        torch.set_num_threads(self.threads)
        start = time.perf_counter()
        for run in self.runs:
            run.result()
        return {"pid": os.getpid(), "runs": len(self.runs), "seconds": time.perf_counter() - start}


def chunks(left: Phase, workers: int, threads: int, gpus: int = 0) -> list[Chunk]:
    """``left`` dealt round-robin into at most ``workers`` chunks (chunk ``i`` on GPU ``i mod gpus`` if ``gpus``).

    >>> [len(c.runs) for c in chunks(list(range(5)), 2, 1)]
    [3, 2]
    """
    n = max(1, min(workers, len(left)))
    return [Chunk(left[i::n], threads, i % gpus if gpus else None) for i in range(n) if left[i::n]]


def _call(chunk: Chunk) -> dict:
    return chunk()


def submit(
    parts: list[Chunk],
    executor: str,
    folder: str,
    timeout_min: int = 24 * 60,
    partition: str | None = None,
    gpus: int = 0,
    after: list | None = None,
):
    """Submit ``parts`` as a submitit job array (``executor``: ``local`` processes or ``slurm``); returns the jobs.
    On Slurm, ``after``: jobs that must all succeed before these start."""
    import submitit

    ex = submitit.AutoExecutor(folder=folder, cluster=executor)
    arrays = sorted({job.job_id.split("_")[0] for job in after or []})
    ex.update_parameters(
        timeout_min=timeout_min,
        cpus_per_task=parts[0].threads,
        name="lib.scale.jobs",
        **({"gpus_per_node": 1} if gpus and executor == "slurm" else {}),
        **({"slurm_partition": partition} if partition else {}),
        **({"slurm_dependency": "afterok:" + ":".join(arrays)} if arrays else {}),
        **({"slurm_array_parallelism": len(parts)} if executor == "slurm" else {}),
    )
    return ex.map_array(_call, parts)


class JobFailed(RuntimeError):
    """A job of :func:`compute` or of the sweep failed; the message names its log."""


def wait(jobs: list, runs_left: int = 0) -> list[dict]:
    """Each job's result, in order, or :class:`JobFailed` naming the first failed job's log. With ``runs_left``, a
    progress bar of the runs stored meanwhile (the store's entries counted every few seconds)."""
    if runs_left:
        start = sum(1 for _ in runs.entries())
        with tqdm(total=runs_left, desc="runs stored", unit="run") as bar:
            while not all(job.done() for job in jobs):
                bar.update(min(runs_left, sum(1 for _ in runs.entries()) - start) - bar.n)
                time.sleep(POLL_SECONDS)
            bar.update(runs_left - bar.n)
    done = []
    for job in jobs:
        try:
            done.append(job.result())
        except Exception as err:  # noqa: BLE001 - report which job failed and where its log is
            raise JobFailed(f"job {job.job_id} failed: {err}\nits log: {job.paths.stderr}") from None
    return done


def local_workers(workers: int | None = None) -> tuple[int, int, int]:
    """``(workers, threads each, gpus)`` on this machine: ``workers`` jobs (default: one per GPU, else one per core)
    sharing its cores as threads — on 2 cores, two one-thread jobs trained the default network faster than one
    two-thread job (README, *Running at scale*)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    gpus = torch.cuda.device_count()
    n = workers or gpus or cores
    return n, max(1, cores // n), gpus


def compute(todo: stages.Runs | Iterable[runs.Run], workers: int | None = None) -> None:
    """Store every run of ``todo`` (a stage's parts, or runs) and every run they read that is not stored yet, phase
    by phase, as local jobs (:func:`local_workers`); with one worker, in this process. Prints one line per phase
    that had runs left."""
    listed = stages.every(todo) if isinstance(todo, dict) else list(todo)
    n, threads, gpus = local_workers(workers)
    phases = by_phase(listed)
    for i, phase in enumerate(phases, 1):
        left = missing(phase)
        if not left:
            continue
        start = time.perf_counter()
        parts = chunks(left, n, threads, gpus)
        if len(parts) == 1 and n == 1:
            for run in tqdm(left, desc="runs computed", unit="run"):
                run.result()
        else:
            wait(submit(parts, "local", str(paths.ROOT / "cache" / "jobs" / "%j"), gpus=gpus), len(left))
        print(
            f"phase {i}/{len(phases)}: {len(left)} of {len(phase)} runs computed in {len(parts)} job(s) of "
            f"{threads} thread(s), {time.perf_counter() - start:.0f} s"
        )
