"""Split-learning cost model: MACs per layer, the cut, and the time/bytes arithmetic."""

import pytest
import torch
from torch import nn

from lib.params.split_learning import SplitLearningParams
from lib.protocols import split_learning

NET = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 5))
PARAMS = SplitLearningParams(
    cut_layer="2",
    uplink_mbps=8,
    downlink_mbps=4,
    bytes_per_value=4,
    device_time="assumed",
    device_gmacs=1,
    server_gmacs=10,
    backward_factor=2,
)


def test_layer_macs_by_hand():
    calls = split_learning.layer_macs(NET, torch.zeros(3, 1, 8, 8))
    assert [c[0] for c in calls] == ["0", "1", "2", "3", "4"]
    assert calls[0][1:] == (8 * 8 * 4 * 9, 4 * 8 * 8)  # every output value costs c_in·k·k MACs
    assert calls[2][1:] == (0, 4 * 4 * 4)
    assert calls[4][1:] == (64 * 5, 5)


def test_cut_and_cost_by_hand():
    s = split_learning.Split.of(split_learning.layer_macs(NET, torch.zeros(1, 1, 8, 8)), "2")
    assert (s.device_macs, s.server_macs, s.cut_values) == (2304, 320, 64)
    c = split_learning.cost(s, samples=1000, p=PARAMS)
    assert c["computation_s"] == pytest.approx(1000 * 3 * (2304 / 1e9 + 320 / 1e10))
    sent = 1000 * 64 * 4  # bytes each way
    assert c["network_s"] == pytest.approx(sent * 8 / 8e6 + sent * 8 / 4e6)
    assert c["bytes"] == 2 * sent


def test_a_measured_device_time_replaces_the_device_model_only():
    calls = split_learning.layer_macs(NET, torch.zeros(1, 1, 8, 8))
    assumed, measured = split_learning.Split.of(calls, "2"), split_learning.Split.of(calls, "2", device_seconds=1e-4)
    a, m = split_learning.cost(assumed, 1000, PARAMS), split_learning.cost(measured, 1000, PARAMS)
    assert m["computation_s"] == pytest.approx(1000 * (1e-4 + 3 * 320 / 1e10))
    assert (m["network_s"], m["bytes"]) == (a["network_s"], a["bytes"])


def test_unknown_cut_layer_is_rejected():
    with pytest.raises(ValueError, match="features.99"):
        split_learning.Split.of(split_learning.layer_macs(NET, torch.zeros(1, 1, 8, 8)), "features.99")
