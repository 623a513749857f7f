"""Study 2's pilot (``docs/pilot-schedule``): section ``schedule``'s runs on its ``pilot_seeds``, never the confirmatory
seeds, stored like every run and written out as one tidy trajectory table.

    python -m lib.scale.pilot                 # the active profile's pilot, one one-thread job per core
    python -m lib.scale.pilot --profile smoke --out /tmp/pilot

It measures what the plan addendum (``docs/analysis-plan.md``) is sized on: the per-seed sds of every comparison and
what a run costs. What it shows is a pilot's: nothing it measured is judged.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..params import paths, profiles
from ..params.schedule import scheduled
from ..protocols import schedule
from . import jobs


def main(argv: list[str] | None = None) -> int:
    """Compute the pilot's runs (those not stored yet) and write their trajectories."""
    parser = argparse.ArgumentParser(prog="python -m lib.scale.pilot", description=main.__doc__)
    parser.add_argument("--profile", default=None, help="a profile of params.yaml (default: the one it names)")
    parser.add_argument("--out", type=Path, default=paths.ROOT / "docs" / "pilot-schedule", help="%(default)s")
    parser.add_argument("--workers", type=int, default=None, help="jobs (default: one per core)")
    args = parser.parse_args(argv)
    profile = profiles.active_profile(profile=args.profile)
    s = profiles.load("schedule", profile)
    p = scheduled(profiles.load("flexrel", profile), s, s.pilot_seeds)
    todo = schedule.parts(p)
    jobs.compute(todo, args.workers)
    args.out.mkdir(parents=True, exist_ok=True)
    schedule.frame(todo["runs"]).to_csv(args.out / "trajectory.csv", index=False)
    print(f"{len(todo['runs'])} runs of seeds {s.pilot_seeds} ({profile}): {args.out / 'trajectory.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
