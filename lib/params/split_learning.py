"""Section ``split_learning`` (notebook ``02``): the split-learning cost model of Fig. 3."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from .schema import Section

#: Where Fig. 3's device-side computation time comes from: timed on this machine, or an assumed throughput.
DEVICE_TIMES = ("measured", "assumed")
Positive = Annotated[float, Field(gt=0.0, le=1e12)]


class SplitLearningParams(Section):
    """Section ``split_learning``.

    Attributes
    ----------
    cut_layer
        Module whose output the mobile device sends to the edge server (a name from ``named_modules()``).
    uplink_mbps, downlink_mbps
        Link rates; the paper: 150 and 20 Mbit/s (5G, OpenSignal 2023).
    bytes_per_value
        Size of one transmitted activation or gradient value in bytes, 1 to 16 (4 = float32).
    device_time
        ``measured``: the device's computation time is the forward and backward pass up to the cut, timed on
        this machine's CPU for every pruned network; ``assumed``: modelled from ``device_gmacs`` like the
        server's (deterministic). The figure says which.
    device_gmacs, server_gmacs
        Sustained throughput of the mobile device and the edge server, in 10⁹ multiply-accumulates per
        second (assumptions; the paper gives none). ``device_gmacs`` is read only with ``device_time: assumed``.
    backward_factor
        Cost of a backward pass relative to the forward pass (≈2: gradients w.r.t. inputs and weights).
    """

    SECTION: ClassVar[str] = "split_learning"
    cut_layer: str
    uplink_mbps: Positive
    downlink_mbps: Positive
    bytes_per_value: Annotated[int, Field(ge=1, le=16)]
    device_time: Literal[DEVICE_TIMES]
    device_gmacs: Positive
    server_gmacs: Positive
    backward_factor: Annotated[float, Field(ge=0.0, le=10.0)]
