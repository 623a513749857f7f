"""The run store's command line: list it, explain an entry, verify every checksum, prune what no current
configuration produces, and say which stored runs the working tree's uncommitted edits will recompute.

    python -m lib.scale.store list | explain KEY | verify | prune --stale [--dry-run] | pending [--since REV]

What is current is this project's knowledge, not the store's (:mod:`lib.store.runs` knows keys, not stages): a run
some stage lists at some profile (:func:`lib.scale.sweep.phases`, every dataset assumed here).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from ..core import code
from ..params import paths
from ..params.profiles import PROFILES
from ..store import runs
from . import sweep


def current(profiles: tuple[str, ...] = PROFILES) -> set[tuple[str, str, str]]:
    """The identity (:meth:`lib.store.runs.Run.identity`) of every run a stage lists at one of ``profiles``, with the
    runs those read in turn."""
    return {
        run.identity()
        for profile in profiles
        for stage in sweep.stages.STAGES
        for phase in sweep.phases(stage, profile, lambda name: None)
        for run in phase
    }


def edited_units(since: str = "HEAD", root: Path = paths.ROOT) -> list[str]:
    """The units of ``lib`` (:mod:`lib.core.code`) whose hash the working tree changes against commit ``since``:
    edited bodies, and units that read an edited module-level value. Units the commit lacks count as edited."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(root), "archive", since, "lib"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        before = Path(tmp) / "lib"
        edited = [u for u in code.every_unit() if code.unit_hash(u) != code.unit_hash(u, before)]
    return edited


def pending(rows: list, since: str = "HEAD") -> str:
    """What ``python -m lib.scale.store pending`` prints: the units the uncommitted edits change and, per unit, how
    many stored runs of each kind executed it (and will compute again when a stage next reads them)."""
    edited = edited_units(since)
    if not edited:
        return f"no edit of lib/ since {since} changes code a run can execute"
    lines = [f"{len(edited)} unit(s) of lib/ changed since {since}; stored runs that executed them:"]
    hit, idle = set(), []
    for unit in edited:
        runs_ = [(path, h) for path, h, *_ in rows if h is not None and unit in h["code"]]
        hit |= {path for path, _ in runs_}
        kinds = Counter(h["kind"] for _, h in runs_)
        if kinds:
            lines.append(f"  {unit}: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
        else:
            idle.append(unit)
    if idle:
        lines.append(f"executed by no stored run ({len(idle)}): " + ", ".join(idle))
    lines.append(f"{len(hit)} of {len(rows)} stored runs will compute again; the others are read back")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m lib.scale.store [list | explain KEY | verify | prune --stale [--dry-run]]`` on the run store."""
    parser = argparse.ArgumentParser(prog="python -m lib.scale.store", description=main.__doc__)
    parser.add_argument("--root", type=Path, default=None, help=f"the store (default {paths.RUNS})")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("list", help="entries, size and how many are stale, per kind")
    explain = sub.add_parser("explain", help="what made an entry, and why it is stale if it is")
    explain.add_argument("key", help="an entry's key (its file name without suffix), or a prefix of it")
    sub.add_parser("verify", help="check every entry's checksum and key; exit 1 if one is corrupt")
    prune = sub.add_parser("prune", help="remove entries")
    prune.add_argument("--stale", action="store_true", required=True, help="entries no current configuration produces")
    prune.add_argument("--dry-run", action="store_true", help="only show what would be removed")
    edits = sub.add_parser("pending", help="which stored runs the uncommitted edits of lib/ will recompute, and why")
    edits.add_argument("--since", default="HEAD", help="the commit to compare the working tree with (default: HEAD)")
    args = parser.parse_args(argv)
    command = args.command or "list"
    now = current()
    rows = [
        (path, header, error, runs.why_stale(header, now) if header else [])
        for path, header, error in runs.records(args.root)
    ]
    if command == "list":
        kinds = sorted({p.parent.name for p, *_ in rows})
        print(f"{'kind':<20} {'entries':>7} {'MB':>8} {'stale':>6} {'corrupt':>7}")
        for kind in kinds:
            group = [r for r in rows if r[0].parent.name == kind]
            size = sum(r[0].stat().st_size for r in group) / 1e6
            print(
                f"{kind:<20} {len(group):>7} {size:>8.1f} {sum(bool(r[3]) for r in group):>6} "
                f"{sum(r[2] is not None for r in group):>7}"
            )
        return 0
    if command == "explain":
        found = [r for r in rows if r[0].stem.startswith(args.key)]
        if len(found) != 1:
            print(f"{len(found)} entries match {args.key!r}; give more of the key", file=sys.stderr)
            return 2
        path, header, error, stale = found[0]
        if error:
            print(f"{path}: corrupt ({error})")
            return 1
        print(json.dumps({k: v for k, v in header.items() if k != "checksum"}, indent=2))
        print(f"\n{path}: " + ("stale — " + "; ".join(stale) if stale else "current"))
        return 0
    if command == "pending":
        print(pending(rows, args.since))
        return 0
    if command == "verify":
        bad = [r for r in rows if r[2] is not None]
        for path, _, error, _ in bad:
            print(f"corrupt: {path} ({error})")
        print(f"{len(rows)} entries, {len(bad)} corrupt")
        return 1 if bad else 0
    removed = 0
    for path, _, error, stale in rows:
        if error or stale:
            print(f"{'would remove' if args.dry_run else 'removing'} {path}: {error or '; '.join(stale)}")
            removed += 1
            if not args.dry_run:
                path.unlink()
    print(f"{removed} of {len(rows)} entries {'would be ' if args.dry_run else ''}removed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
