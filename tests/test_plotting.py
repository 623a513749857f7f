"""Provenance: every figure's PNG and PDF carry commit, parameter hash, profile and dataset."""

import json

import matplotlib.pyplot as plt
from PIL import Image

from lib.publish import plotting
from lib.store.runs import config_hash


def test_saved_figures_carry_provenance(tmp_path):
    params = {"width": 0.25}
    prov = plotting.provenance(params, "smoke", "FashionMNIST")
    assert prov["params_hash"] == config_hash(params) and prov["commit"]
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    png, pdf = plotting.save_figure(fig, "demo", prov, folder=tmp_path)
    plt.close(fig)
    assert json.loads(Image.open(png).text["Description"]) == prov
    raw = pdf.read_bytes()
    assert prov["params_hash"].encode() in raw and b"FashionMNIST" in raw and b"smoke" in raw
    assert fig.texts and prov["commit"] in fig.texts[-1].get_text()  # the footer on the figure itself


def test_commit_outside_git_is_unknown(tmp_path):
    assert plotting.git_commit(tmp_path) == "unknown"
