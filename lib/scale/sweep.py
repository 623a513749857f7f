"""Run a stage's runs as separate jobs — on this machine or a Slurm cluster — with submitit.

    python -m lib.scale.sweep 01_flexrel_accuracy_vs_pruning                       # local processes, then wait
    python -m lib.scale.sweep 01_flexrel_accuracy_vs_pruning --dry-run             # what is left to run
    python -m lib.scale.sweep 04_rank_random_vs_rank --executor slurm --slurm-partition gpu --workers 32 --gpus 1
    python -m lib.scale.sweep 01_flexrel_accuracy_vs_pruning --executor slurm --no-wait   # every phase queued,
                                                                                          # then return
    torchrun --nproc-per-node 4 -m lib.scale.sweep 01_flexrel_accuracy_vs_pruning --executor here   # data-parallel

A stage's runs are independent and stored by a key that covers everything that made them (:mod:`lib.store.runs`),
so any process that sees the same store can compute them. :func:`lib.protocols.stages.runs_of` lists, per stage,
the runs its notebook reads; with the runs those read in turn they fall into phases (:func:`phases`: a run may need
an earlier phase's — FlexRel's pruning runs start from the base networks and their scores). For each phase this module
finds the runs not yet stored (:func:`lib.store.runs.only_stored`), deals them round-robin into ``--workers`` jobs,
submits those through submitit — its local executor (separate processes here; the default) or Slurm (a job array) — and
waits before the next phase; on Slurm, ``--no-wait`` instead queues every phase at once, each to start when the one
before has succeeded (``--dependency=afterok``), and returns. ``dvc repro`` then runs the notebook, which
reads every run from the store and computes nothing. ``--executor here`` runs the jobs in this process, one after
another; under ``torchrun`` every run then trains data-parallel over the launched processes
(:func:`lib.core.train.parallel`).

The store is ``cache/runs`` of the checkout the jobs run in: on a cluster, keep the checkout on the shared
filesystem the nodes mount. Same seed and profile give identical numbers only on the same CPU model and
thread count, as in a serial run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

import torch

from ..core import data, train
from ..params import paths, profiles
from ..protocols import stages, studies, train_time, train_time_vae  # noqa: F401 - each registers its stages
from ..store import runs

#: One stage's runs to compute, in one phase: each run only reads runs of earlier phases.
Phase = list[runs.Run]


def phases(stage: str, profile: str, absent: stages.Absent = data.absent) -> list[Phase]:
    """The runs of ``stage`` (:func:`lib.protocols.stages.runs_of`) and every run they read, by phase: FlexRel's base
    networks, then their scores, then the pruning runs; a VAE's pruned run before its scratch run."""
    todo = stages.with_inputs(stages.every(stages.runs_of(stage, profile, absent)))
    return [[r for r in todo if r.phase == n] for n in sorted({r.phase for r in todo})]


#: Where submitit runs the jobs: ``local`` (processes on this machine), ``slurm``, or ``here`` (in this process).
EXECUTORS = ("local", "slurm", "here")


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
    timeout_min: int,
    partition: str | None,
    gpus: int,
    after: list | None = None,
):
    """Submit ``parts`` as a submitit job array; returns the jobs. On Slurm, ``after``: jobs that must all
    succeed before these start."""
    import submitit

    ex = submitit.AutoExecutor(folder=folder, cluster=executor)
    arrays = sorted({job.job_id.split("_")[0] for job in after or []})
    ex.update_parameters(
        timeout_min=timeout_min,
        cpus_per_task=parts[0].threads,
        name="lib.scale.sweep",
        **({"gpus_per_node": 1} if gpus and executor == "slurm" else {}),
        **({"slurm_partition": partition} if partition else {}),
        **({"slurm_dependency": "afterok:" + ":".join(arrays)} if arrays else {}),
        **({"slurm_array_parallelism": len(parts)} if executor == "slurm" else {}),
    )
    return ex.map_array(_call, parts)


def main(argv: list[str] | None = None) -> int:
    """Run the stored runs a stage is missing as separate jobs; see the module's documentation."""
    parser = argparse.ArgumentParser(prog="python -m lib.scale.sweep", description=main.__doc__)
    parser.add_argument("stage", help=f"one of {list(stages.STAGES)}")
    parser.add_argument("--profile", default=None, help="a profile of params.yaml (default: the one it names)")
    parser.add_argument("--executor", default="local", help=f"one of {list(EXECUTORS)} (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1, help="jobs per phase (default: %(default)s)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads per job (default: this machine's cores / workers, at least 1; slurm: 4)",
    )
    parser.add_argument(
        "--gpus",
        type=int,
        default=0,
        help="local: GPUs on this machine, job i uses GPU i mod gpus; slurm: one GPU per job if > 0",
    )
    parser.add_argument("--slurm-partition", default=None)
    parser.add_argument("--timeout-min", type=int, default=24 * 60, help="per job (default: %(default)s)")
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="slurm: queue every phase (each after the one before has succeeded) and return",
    )
    parser.add_argument("--dry-run", action="store_true", help="only list how many runs each phase has left")
    args = parser.parse_args(argv)
    if args.stage not in stages.STAGES:
        parser.error(f"stage {args.stage!r} has no runs to sweep; stages that do: {list(stages.STAGES)}")
    if args.executor not in EXECUTORS:
        parser.error(f"--executor {args.executor!r}; allowed: {list(EXECUTORS)}")
    if args.workers < 1 or (args.threads is not None and args.threads < 1) or args.gpus < 0:
        parser.error("--workers and --threads must be ≥ 1, --gpus ≥ 0")
    if args.no_wait and args.executor != "slurm":
        parser.error(
            f"--no-wait needs --executor slurm (with {args.executor!r} the jobs "
            + ("are this process's children and stop with it)" if args.executor == "local" else "run in this process)")
        )
    rank_, size = train.init_distributed()
    say = print if rank_ == 0 else (lambda *a, **k: None)
    profile = profiles.active_profile(profile=args.profile)
    threads = args.threads or (4 if args.executor == "slurm" else max(1, (os.cpu_count() or 1) // args.workers))
    folder = str(paths.ROOT / "cache" / "sweep" / args.stage / "%j")
    try:
        todo = phases(args.stage, profile)
    except data.DatasetMissing as err:
        print(f"{args.stage} ({profile}): {err}", file=sys.stderr)
        return 2
    before: list = []  # with --no-wait: the jobs of the phase before, which this phase's jobs wait for
    for i, phase in enumerate(todo, 1):
        left = missing(phase)
        say(f"{args.stage} ({profile}), phase {i}/{len(todo)}: {len(phase)} runs, {len(left)} missing")
        if args.dry_run or not left:
            continue
        parts = chunks(left, args.workers, threads, args.gpus if args.executor == "local" else 0)
        start = time.perf_counter()
        if args.executor == "here":
            done = [part() for part in parts]
        else:
            jobs = submit(parts, args.executor, folder, args.timeout_min, args.slurm_partition, args.gpus, before)
            say(
                f"  submitted {len(jobs)} {args.executor} job(s) ({threads} thread(s) each): {[j.job_id for j in jobs]}"
                + (f" to start after {sorted({j.job_id for j in before})}" if before else "")
                + f"; logs under {folder.replace('%j', '')}"
            )
            if args.no_wait:
                before = jobs
                continue
            done = []
            for job in jobs:
                try:
                    done.append(job.result())
                except Exception as err:  # noqa: BLE001 - report which job failed and where its log is
                    print(f"  job {job.job_id} failed: {err}\n  its log: {job.paths.stderr}", file=sys.stderr)
                    return 1
        say(
            f"  {sum(d['runs'] for d in done)} runs in {len(done)} job(s), "
            f"processes {sorted({d['pid'] for d in done})}, {time.perf_counter() - start:.0f} s"
        )
    if before:
        say(
            "queued, not waiting: `squeue -u $USER` shows the jobs; "
            f"`python -m lib.scale.sweep {args.stage} --dry-run` what is left"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
