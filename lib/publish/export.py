"""A FlexRel pruning run's network as an artefact that loads with plain PyTorch, no project code.

The run store keeps each run's measurements, not its network; :func:`export` rebuilds the network of a stored
run (:func:`lib.protocols.flexrel.network`: the stored base network and scores, the same pruning, BatchNorm
re-estimation and, for ``recovery``, the same fine-tuning), checks that it measures what the store recorded,
and writes into one folder:

- ``model.pt2`` — a :func:`torch.export.export` program that takes the dataset's images as
  ``torchvision.transforms.ToTensor`` gives them (``float32`` in ``[0, 1]``, ``N×C×H×W`` at the stored size;
  any batch size) and returns class logits: the project's padding and standardisation are inside it;
- ``state_dict.pt`` — the same module's weights (its layers' widths are in the record);
- ``record.json`` — the run's coordinates, the parameter section and its hash, the commit, the pruning
  record (per layer: filters kept and the unpruned count; parameters and MACs before and after), the indices of the
  test images the run is measured on (the seed's own under ``subsets: per_seed``) and three accuracies on them: the
  stored run's, the rebuilt network's, and the exported program's.

Loading it anywhere::

    program = torch.export.load("model.pt2")
    logits = program.module()(images)          # images: float32 in [0, 1], N×C×H×W

``python -m lib.publish.export --help`` lists the options. Same CPU: the three accuracies are equal; another machine
rebuilds the network with its own float rounding, and the record says by how much it differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..core import data, prune
from ..params import paths, profiles
from ..params.flexrel import FlexRelParams
from ..protocols import base_networks, flexrel
from ..store import runs
from . import plotting

FILES = ("model.pt2", "state_dict.pt", "record.json")


class Prepared(nn.Module):
    """``net`` behind :func:`lib.core.data.prepare`'s padding and standardisation, for images in ``[0, 1]``."""

    def __init__(self, net: nn.Module, dataset: str, size: int) -> None:
        super().__init__()
        spec = data.SPECS[dataset]
        self.net, self.pad = net, size - spec.size
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(spec.std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad:
            x = F.pad(x, (self.pad // 2, self.pad - self.pad // 2, self.pad // 2, self.pad - self.pad // 2))
        return self.net((x - self.mean) / self.std)


def held_out(p: FlexRelParams, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The test images seed ``seed``'s runs are measured on (its own draw under ``subsets: per_seed``), as a reader
    would load them: ``float32`` in ``[0, 1]``."""
    x, y = data.tensors(p.dataset, False, limit=p.test_subset, draw=data.draw(p.subsets, seed))
    return x.float() / 255, y


def accuracy(model, x: torch.Tensor, y: torch.Tensor, batch: int = 256) -> float:
    """Top-1 accuracy of ``model`` (a module or an exported program's module) on ``x``, ``y``."""
    with torch.no_grad():
        right = sum(int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum()) for i in range(0, len(x), batch))
    return right / len(y)


def export(
    p: FlexRelParams,
    out: Path,
    seed: int,
    method: str,
    factor: float,
    delta: float | None = None,
    draw: int = 0,
    stage: str = "retention",
    tolerance: float = 0.0,
) -> dict:
    """Write the network of a stored pruning run into ``out`` (see the module's docstring) and return its record.

    Raises :class:`lib.store.runs.NotStored` if the pipeline has not made the run, before any work, and
    ``ValueError`` if the rebuilt network's test accuracy differs from the stored one by more than
    ``tolerance`` (0: this must be the CPU that made the run) or the exported program's from the rebuilt one's.
    """
    if p.test_shift != "none":
        raise ValueError(f"flexrel.test_shift is {p.test_shift!r}: export measures on the plain test split; use 'none'")
    delta = p.delta if method == "flexrel" and delta is None else delta
    run = flexrel.Pruning.of(p, stage, seed, method, factor, delta, draw)
    with runs.only_stored():
        stored_row = run.rows()[-1]
    model, rows = flexrel.network(run)
    rebuilt = rows[-1]["test_acc"]
    if abs(rebuilt - stored_row["test_acc"]) > tolerance:
        raise ValueError(
            f"the rebuilt network measures {rebuilt:.4f}, the stored run {stored_row['test_acc']:.4f} "
            f"(tolerance {tolerance}): not the CPU that made the run? pass a tolerance to export anyway"
        )
    wrapped = Prepared(model.cpu().eval().to(memory_format=torch.contiguous_format), p.dataset, p.image_size).eval()
    x, y = held_out(p, seed)
    exported = accuracy(write_program(wrapped, x[:2], out), x, y)
    if exported != rebuilt:
        raise ValueError(f"the exported program measures {exported:.4f}, the rebuilt network {rebuilt:.4f}")
    unpruned, _ = run.base().result()
    record = {
        "run": {**run.key(), "stage": stage, "kind": run.kind},
        "commit": plotting.git_commit(),
        "torch": torch.__version__,
        "params": p.model_dump(),
        "params_hash": runs.config_hash(p),
        "input": {
            "dataset": p.dataset,
            "split": "test",
            # which test images, in the official split's order (subsets: per_seed, each seed its own draw)
            "subsets": p.subsets,
            "indices": data.subset(
                len(data.labels(p.dataset, False)), p.test_subset, data.draw(p.subsets, seed), False
            ).tolist(),
            "shape": list(x.shape[1:]),
            "dtype": "float32",
            "range": [0.0, 1.0],
            "classes": data.SPECS[p.dataset].classes,
        },
        "pruning": pruning_record(unpruned, model, base_networks.Images.of(p).example()),
        "test_acc": {"stored_run": stored_row["test_acc"], "rebuilt": rebuilt, "exported": exported},
    }
    return write_record(out, record)


def write_program(module: nn.Module, x: torch.Tensor, out: Path) -> nn.Module:
    """Write ``module`` (on the CPU, in eval mode) into ``out`` as ``model.pt2``, a :func:`torch.export.export`
    program taking batches shaped like ``x`` (any batch size; ``x`` holds at least two examples), and its weights as
    ``state_dict.pt``. ``module`` is moved to the CPU and into eval mode, in place. Returns the program as loaded
    back from the file: what a reader gets."""
    module = module.cpu().eval()
    program = torch.export.export(
        module, (x[:2].cpu().clone(),), dynamic_shapes=({0: torch.export.Dim("batch", min=1)},)
    )
    out.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, out / "model.pt2")
    torch.save(module.state_dict(), out / "state_dict.pt")
    return torch.export.load(out / "model.pt2").module()


def write_record(out: Path, record: dict) -> dict:
    """Write ``record`` (with the list of files) as ``out/record.json``; returns what was written."""
    record = {**record, "files": list(FILES)}
    (out / "record.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    return record


def pruning_record(unpruned: nn.Module, pruned: nn.Module, x0: torch.Tensor) -> dict:
    """What a pruning changed: per prunable layer the units kept and the unpruned count, and parameters and MACs
    of one forward pass of ``x0`` before and after (each network where it is)."""
    before, after = prune.prunable_layers(unpruned), prune.prunable_layers(pruned)
    size = lambda m: prune.count(m, x0.to(next(m.parameters()).device))  # noqa: E731
    return {
        "filters_kept": {n: [int(after[n].weight.shape[0]), int(m.weight.shape[0])] for n, m in before.items()},
        "pruned": size(pruned),
        "unpruned": size(unpruned),
    }


def save(module: nn.Module, x: torch.Tensor, out: Path, record: dict) -> dict:
    """Any network in this format, e.g. one pruned with :mod:`lib.criteria.importance` (README, "Use FlexRel on
    your own network"): ``model.pt2`` and ``state_dict.pt`` (:func:`write_program`) and ``record.json``."""
    write_program(module, x, out)
    return write_record(
        out, {**record, "input": {"shape": list(x.shape[1:]), "dtype": str(x.dtype).replace("torch.", "")}}
    )


def main(argv: list[str] | None = None) -> int:
    """Export a stored FlexRel pruning run's network (model.pt2, state_dict.pt, record.json) for plain PyTorch."""
    parser = argparse.ArgumentParser(prog="python -m lib.publish.export", description=main.__doc__)
    parser.add_argument("--profile", help="profile whose flexrel section made the run (default: params.yaml's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--method", default="flexrel", help=f"one of {flexrel.METHODS}")
    parser.add_argument(
        "--factor", type=float, required=True, help="fraction of filters pruned per layer, as in the run"
    )
    parser.add_argument("--delta", type=float, help="FlexRel's δ (default: the section's)")
    parser.add_argument("--draw", type=int, default=0, help="random draw (method random)")
    parser.add_argument("--stage", default="retention", choices=["retention", "recovery"])
    parser.add_argument("--tolerance", type=float, default=0.0, help="accepted |rebuilt − stored| test accuracy")
    parser.add_argument(
        "--out", type=Path, help="folder (default: exports/<profile>-<method>-f<factor>-s<seed>-<stage>)"
    )
    args = parser.parse_args(argv)
    profile = profiles.active_profile(profile=args.profile)
    p = profiles.load("flexrel", profile)
    if args.method not in flexrel.METHODS:
        parser.error(f"--method {args.method!r}; allowed: {flexrel.METHODS}")
    out = args.out or paths.ROOT / "exports" / f"{profile}-{args.method}-f{args.factor:g}-s{args.seed}-{args.stage}"
    try:
        record = export(p, out, args.seed, args.method, args.factor, args.delta, args.draw, args.stage, args.tolerance)
    except runs.NotStored as err:
        print(
            f"{err}: run the stage that makes it first (e.g. `dvc repro 01_flexrel_accuracy_vs_pruning`)",
            file=sys.stderr,
        )
        return 2
    acc = record["test_acc"]
    print(
        f"{out}: test accuracy stored {acc['stored_run']:.4f}, rebuilt {acc['rebuilt']:.4f}, "
        f"exported {acc['exported']:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
