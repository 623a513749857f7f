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
finds the runs not yet stored (:func:`lib.store.runs.only_stored`), deals them round-robin into ``--workers`` jobs
(local: one per GPU, else one one-thread job per core, as each notebook does itself: :func:`lib.scale.jobs.compute`),
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

from ..core import data, train
from ..params import paths, profiles
from ..protocols import schedule, stages, studies, train_time, train_time_vae  # noqa: F401 - each registers its stages
from . import jobs


def phases(stage: str, profile: str, absent: stages.Absent = data.absent) -> list[jobs.Phase]:
    """The runs of ``stage`` (:func:`lib.protocols.stages.runs_of`) and every run they read, by phase
    (:func:`lib.scale.jobs.by_phase`)."""
    return jobs.by_phase(stages.every(stages.runs_of(stage, profile, absent)))


#: Where submitit runs the jobs: ``local`` (processes on this machine), ``slurm``, or ``here`` (in this process).
EXECUTORS = ("local", "slurm", "here")


def main(argv: list[str] | None = None) -> int:
    """Run the stored runs a stage is missing as separate jobs; see the module's documentation."""
    parser = argparse.ArgumentParser(prog="python -m lib.scale.sweep", description=main.__doc__)
    parser.add_argument("stage", help=f"one of {list(stages.STAGES)}")
    parser.add_argument("--profile", default=None, help="a profile of params.yaml (default: the one it names)")
    parser.add_argument("--executor", default="local", help=f"one of {list(EXECUTORS)} (default: %(default)s)")
    parser.add_argument(
        "--workers", type=int, default=None, help="jobs per phase (default: local: one per GPU, else one per core; 1)"
    )
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
    if (
        (args.workers is not None and args.workers < 1)
        or (args.threads is not None and args.threads < 1)
        or args.gpus < 0
    ):
        parser.error("--workers and --threads must be ≥ 1, --gpus ≥ 0")
    if args.no_wait and args.executor != "slurm":
        parser.error(
            f"--no-wait needs --executor slurm (with {args.executor!r} the jobs "
            + ("are this process's children and stop with it)" if args.executor == "local" else "run in this process)")
        )
    rank_, size = train.init_distributed()
    say = print if rank_ == 0 else (lambda *a, **k: None)
    profile = profiles.active_profile(profile=args.profile)
    if args.executor == "local":
        workers, threads, _ = jobs.local_workers(args.workers)
    else:
        workers = args.workers or 1
        threads = 4 if args.executor == "slurm" else max(1, (os.cpu_count() or 1) // workers)
    threads = args.threads or threads
    folder = str(paths.ROOT / "cache" / "sweep" / args.stage / "%j")
    try:
        todo = phases(args.stage, profile)
    except data.DatasetMissing as err:
        print(f"{args.stage} ({profile}): {err}", file=sys.stderr)
        return 2
    before: list = []  # with --no-wait: the jobs of the phase before, which this phase's jobs wait for
    for i, phase in enumerate(todo, 1):
        left = jobs.missing(phase)
        say(f"{args.stage} ({profile}), phase {i}/{len(todo)}: {len(phase)} runs, {len(left)} missing")
        if args.dry_run or not left:
            continue
        parts = jobs.chunks(left, workers, threads, args.gpus if args.executor == "local" else 0)
        start = time.perf_counter()
        if args.executor == "here":
            done = [part() for part in parts]
        else:
            submitted = jobs.submit(
                parts, args.executor, folder, args.timeout_min, args.slurm_partition, args.gpus, before
            )
            say(
                f"  submitted {len(submitted)} {args.executor} job(s) ({threads} thread(s) each): "
                f"{[j.job_id for j in submitted]}"
                + (f" to start after {sorted({j.job_id for j in before})}" if before else "")
                + f"; logs under {folder.replace('%j', '')}"
            )
            if args.no_wait:
                before = submitted
                continue
            try:
                done = jobs.wait(submitted)
            except jobs.JobFailed as err:
                print(f"  {err}", file=sys.stderr)
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
