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
