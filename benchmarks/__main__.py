"""Run every benchmark in ``benchmarks/`` and write one table: ``benchmarks/results.csv`` (every row of every
benchmark, tidy) and ``benchmarks/results.md`` (the machine, versions, date, and one section per benchmark).

    make bench                 # or: .venv/bin/python -m benchmarks [--quick]

Benchmarks measure this machine: compare numbers from one run only (the machines here differ 2× in speed).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import time
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from lib.store import machine

HERE = Path(__file__).resolve().parent
#: Every benchmark, in the order of the report: a module of this folder with ``run(quick) -> DataFrame``.
BENCHMARKS = ("training_throughput", "pruned_inference", "relevance_vs_epoch", "mobilenet_pruning", "stage_resources")


def report(frames: dict[str, pd.DataFrame], seconds: dict[str, float], machine: dict) -> str:
    """The Markdown page: machine and date, then each benchmark's docstring summary and table."""
    lines = [
        f"# Benchmarks — {datetime.date.today().isoformat()}",
        "",
        "| machine | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in machine.items() if k != "versions"],
        *[f"| {k} | {v} |" for k, v in machine["versions"].items()],
        "",
        f"Total: {sum(seconds.values()):.0f} s. Regenerate with `make bench`.",
        "",
    ]
    for name, frame in frames.items():
        doc = importlib.import_module(f"benchmarks.{name}").__doc__.split("\n\n")
        lines += [
            f"## {name} ({seconds[name]:.0f} s)",
            "",
            " ".join(doc[0].split()),
            "",
            " ".join(doc[1].split()),
            "",
            frame.to_markdown(index=False, floatfmt=".3g"),
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and only the default width (a smoke run)")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for results.csv and results.md")
    args = parser.parse_args(argv)
    frames, seconds = {}, {}
    for name in tqdm(BENCHMARKS, desc="benchmarks"):
        start = time.perf_counter()
        frames[name] = importlib.import_module(f"benchmarks.{name}").run(quick=args.quick)
        seconds[name] = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    pd.concat([f.assign(benchmark=n) for n, f in frames.items()]).to_csv(args.out / "results.csv", index=False)
    (args.out / "results.md").write_text(report(frames, seconds, machine.machine()))
    print(f"wrote {args.out / 'results.md'} and results.csv ({sum(seconds.values()):.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
