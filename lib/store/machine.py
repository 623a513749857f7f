"""What a pipeline stage cost: wall time and peak memory of a command, and the machine it ran on.

Every stage of ``dvc.yaml`` runs its notebook through this wrapper::

    python -m lib.store.machine results/01_x/resources.json papermill notebooks/01_x.ipynb results/01_x/01_x.ipynb

which runs the command, then writes ``{"seconds", "peak_rss_mib", "machine"}`` (peak resident memory of the
largest process the command started, the notebook's kernel included) and exits with the command's status.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

#: Packages whose versions enter every stored run's key (:mod:`lib.store.runs`).
PACKAGES = ("torch", "torchvision", "zennit", "torch-pruning", "numpy")


@cache
def versions() -> dict[str, str]:
    """Installed versions of :data:`PACKAGES`: the library part of a stored run's key."""
    return {p: importlib.metadata.version(p) for p in PACKAGES}


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields in ``/proc/cpuinfo`` (Linux; empty elsewhere)."""
    info = Path("/proc/cpuinfo")
    if not info.exists():
        return {}
    fields = (line.partition(":") for line in info.read_text().split("\n\n")[0].splitlines())
    return {key.strip(): value.strip() for key, _, value in fields}


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else :func:`platform.processor`)."""
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


#: The ``/proc/cpuinfo`` fields that tell two processors apart for float rounding: two machines of one CPU model
#: gave other training losses from the first epoch (issue 38), so a run records everything that may differ.
CPU_FIELDS = ("vendor_id", "cpu family", "model", "stepping", "microcode", "cache size")


def cpu_identity() -> dict:
    """What can make this machine's float results differ from another's, besides the thread count: the processor's
    vendor, family, model, stepping, microcode and cache size (``/proc/cpuinfo``, Linux; empty elsewhere) and the
    instruction set torch's CPU kernels dispatch to (``torch.backends.cpu.get_cpu_capability()``: AVX2, AVX512, …)."""
    import torch

    found = {k: v for k, v in _cpuinfo().items() if k in CPU_FIELDS}
    return {**found, "kernels": torch.backends.cpu.get_cpu_capability()}


def machine() -> dict:
    """The machine, its thread count as torch sees it, its accelerator and the versions that key stored runs."""
    import torch  # in the wrapper's own process: its memory is not the stage's (only the command's children count)

    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "versions": versions(),
        "float_identity": cpu_identity(),
    }


def measure(command: list[str]) -> tuple[int, dict]:
    """Run ``command``; its exit status and ``{"seconds", "peak_rss_mib"}`` (the largest resident set of any
    process it started and waited for; on Linux ``ru_maxrss`` is in KiB)."""
    start = time.perf_counter()
    status = subprocess.run(command).returncode
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return status, {
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1),
    }


def load(results: Path, stages: list[str]) -> dict[str, dict]:
    """The stored record of every stage that has one (``{}`` for a stage that has not run through the wrapper)."""
    return {s: json.loads(f.read_text()) if (f := results / s / "resources.json").exists() else {} for s in stages}


def _float_identity(m: dict) -> list[str]:
    """A paragraph naming what the run's float results depend on besides seeds and profile (a record made before
    :func:`cpu_identity` existed has none)."""
    identity = m.get("float_identity")
    if not identity:
        return []
    named = ", ".join(f"{k} {v}" for k, v in identity.items())
    return [
        f"The numbers are bit-identical only on this processor, with the thread count per run it used: {named}. "
        "Any of these, or the thread count, may change float rounding, and rounding grows through training: another "
        "machine, even of the same CPU model, is in effect another draw of every network.",
        "",
    ]


def section(records: dict[str, dict], epoch_seconds: float, epoch_images: int, network: str) -> list[str]:
    """The compute section of REPRODUCTION.md: the machine and versions the stages ran on, each stage's wall time and
    peak memory, and the measured training throughput (``epoch_seconds``: the mean pre-training epoch of the base
    networks, ``epoch_images`` images each)."""
    machines = [r["machine"] for r in records.values() if r]
    if not machines:
        return ["## Compute", "", "No stage has a resource record (run the stages through `dvc repro`).", ""]
    m = machines[-1]
    versions = ", ".join(f"{k} {v}" for k, v in {"python": m["python"], **m["versions"]}.items())
    lines = [
        "## Compute",
        "",
        f"Measured on this run's machine: {m['cpu']}, {m['cores']} cores ({m['torch_threads']} torch threads), "
        f"{m['memory_gib']} GiB memory, GPU: {m['gpu'] or 'none'}; {versions}. Another machine gives other times "
        "(these differ 2× from one to the next).",
        "",
        *_float_identity(m),
        "| stage | wall time [s] | peak memory [MiB] |",
        "|---|---|---|",
    ]
    for stage, r in records.items():
        lines.append(f"| {stage} | {r.get('seconds', '—')} | {r.get('peak_rss_mib', '—')} |")
    lines += [
        "",
        f"Wall time is the stage's last run (stages that found their runs stored are faster than a cold run); "
        f"total {sum(r.get('seconds', 0) for r in records.values()):.0f} s.",
        f"Training throughput: one pre-training epoch of {network} over {epoch_images:,} images took "
        f"{epoch_seconds:.1f} s "
        f"(mean over the base networks' epochs), {epoch_images / epoch_seconds:,.0f} images/s. `make bench` measures "
        "training against the machine's attainable matrix-multiply rate and pruned networks' speed against their "
        "MACs (`benchmarks/results.md`).",
        "",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print("usage: python -m lib.store.machine OUT.json COMMAND [ARG ...]", file=sys.stderr)
        return 2
    out, command = Path(args[0]), args[1:]
    with ThreadPoolExecutor(1) as pool:  # describe the machine (importing torch: seconds) while the command runs
        described = pool.submit(machine)
        status, used = measure(command)
        if status == 0:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps({**used, "machine": described.result()}, indent=1) + "\n")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
