"""The FlexRel and rank protocols on tiny synthetic data: determinism, reuse, schedule, code paths."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from lib.core import data, models, prune, train
from lib.criteria import contribution, filters
from lib.params import profiles
from lib.params.paths import ROOT
from lib.protocols import base_networks, flexrel, split_learning, train_time, train_time_vae
from lib.store import runs
from tests.conftest import write_mnist_like


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """Synthetic FashionMNIST/MNIST under a temporary data root and a temporary run cache."""
    write_mnist_like(tmp_path / "data", "FashionMNIST", n_train=192, n_test=64)
    write_mnist_like(tmp_path / "data", "MNIST", n_train=192, n_test=64, seed=2)
    monkeypatch.setattr(data, "DATA_ROOT", tmp_path / "data")
    monkeypatch.setattr(runs, "RUNS", tmp_path / "runs")
    base_networks._LOADED.clear()
    yield tmp_path


def smoke(section):
    return profiles.load(section, "smoke")


def _tiny(**kw):
    return smoke("flexrel").replace(train_subset=128, test_subset=64, relevance_images=16, post_subset=64, **kw)


def _one_seed_of_each_protocol(data_root: str, store: str, threads: int) -> None:
    """Seed 0's runs of every protocol at tiny sizes, computed into the run store ``store`` from the synthetic data
    under ``data_root`` with ``threads`` torch threads: FlexRel's base network, scores, retention and recovery, one
    rank-paper run, and the VAE's pruned, unpruned and scratch runs."""
    torch.set_num_threads(threads)
    data.DATA_ROOT, runs.RUNS = Path(data_root), Path(store)
    p = _tiny(dropout=0.5)  # dropout draws from torch's generator while training (the paper profile's VGG has it)
    flexrel.recovery(p, 0, "flexrel", 0.5, 0.5)
    flexrel.retention(p, 0, "flexrel", 0.5, 0.5)
    train_time.run(
        smoke("rank").replace(train_subset=128, prune_fraction=0.3, target_removed=0.3), "MNIST", "rank", "paper", 0
    )
    v = smoke("vae").replace(train_subset=64, test_subset=32, n_images=2, prune_fraction=0.3, target_removed=0.3)
    train_time_vae.sweep(train_time_vae.planned(v.replace(seeds=[0])))


def _stored(store: Path) -> dict[str, object]:
    """Every entry of a run store by its path under the store: its result with every wall time left out (``seconds``
    keys), a network as its state and record."""

    def timeless(value):
        if isinstance(value, dict):
            return {k: timeless(v) for k, v in value.items() if "seconds" not in k}
        if isinstance(value, list | tuple):
            return [timeless(v) for v in value]
        return value

    out = {}
    for path in runs.entries(store):
        body = runs._read(path)[1]
        out[str(path.relative_to(store))] = (body[0], timeless(body[1])) if path.suffix == ".pt" else timeless(body)
    return out


def test_every_protocol_recomputes_bit_for_bit_from_an_empty_store_in_a_new_process(sandbox):
    """Every run of one seed, computed here (after whatever this process ran before), then again from an empty store
    in a new process (no network, data or score held in memory: the base network retrains) with as many threads:
    the same entries under the same keys, bit for bit but for wall times; a second call here reads the first back."""
    threads = torch.get_num_threads()
    here, fresh = sandbox / "runs-here", sandbox / "runs-fresh"
    try:
        _one_seed_of_each_protocol(str(data.DATA_ROOT), str(here), threads)
    finally:
        torch.set_num_threads(threads)
    p = _tiny(dropout=0.5)
    first = flexrel.recovery(p, 0, "flexrel", 0.5, 0.5)
    assert [r["stage"] for r in first] == ["recovery"] * p.epochs_post
    assert flexrel.recovery(p, 0, "flexrel", 0.5, 0.5) == first  # read back, wall times included
    args = f"{str(data.DATA_ROOT)!r}, {str(fresh)!r}, {threads}"
    call = f"from tests.test_protocols import _one_seed_of_each_protocol as f; f({args})"
    out = subprocess.run([sys.executable, "-c", call], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    ours, theirs = _stored(here), _stored(fresh)
    kinds = {path.split("/")[0] for path in ours}
    assert kinds == {"flexrel-pre", "flexrel-scores", "flexrel-retention", "flexrel-recovery", "rank-run", "vae-run"}
    assert sorted(ours) == sorted(theirs) and sum(p.startswith("vae-run") for p in ours) == 3
    for path, value in ours.items():
        if path.endswith(".pt"):
            state, record = value
            assert record == theirs[path][1], path
            assert all(torch.equal(t, theirs[path][0][k]) for k, t in state.items()), path
        else:
            assert value == theirs[path], path


def test_flexrel_delta_extremes_are_the_pure_method_runs(sandbox):
    p = _tiny()
    assert flexrel.canonical(p, "flexrel", 0.0) == ("magnitude", None)
    assert flexrel.canonical(p, "flexrel", 1.0) == ("relevance", None)
    assert flexrel.retention(p, 0, "flexrel", 0.5, 0.0) == flexrel.retention(p, 0, "magnitude", 0.5)
    # one stored run, filed canonically; its rows say what was asked
    asked = flexrel.Pruning.of(p, "retention", 0, "flexrel", 0.5, 0.0)
    assert asked.key() == flexrel.Pruning.of(p, "retention", 0, "magnitude", 0.5).key() and asked.key()["delta"] is None
    (row,) = asked.rows()
    assert (row["method"], row["delta"]) == ("flexrel", 0.0)
    with pytest.raises(ValueError, match="delta"):
        flexrel.retention(p, 0, "flexrel", 0.5)
    with pytest.raises(ValueError, match="allowed"):
        flexrel.retention(p, 0, "obd", 0.5)
    g = p.replace(scope="global")
    assert flexrel.canonical(g, "flexrel", 0.0) == ("flexrel", 0.0)


def test_flexrel_at_delta_zero_computed_by_hand_is_the_stored_magnitude_run(sandbox):
    """What the run store files FlexRel at δ = 0 under (the magnitude run: :func:`lib.protocols.flexrel.canonical`)
    is what eq. (1) at δ = 0 gives when computed without it: the seed's base network scored by
    ``filters.flexrel(magnitude, relevance, 0.0)``, pruned, BatchNorm re-estimated and tested."""
    p = _tiny()
    stored = flexrel.retention(p, 0, "flexrel", 0.6, 0.0)["row"]
    net, _ = base_networks.Base.of(p, 0).result()
    images, x0 = base_networks.Images.of(p, 0), base_networks.Images.of(p, 0).example()
    x, y = flexrel.reference_images(flexrel.Scoring.of(p, 0))
    convs = [n for n, m in prune.prunable_layers(net).items() if isinstance(m, torch.nn.Conv2d)]
    magnitude, relevance = filters.magnitude(net), filters.relevance(net, x, y)
    mixed = filters.flexrel({n: magnitude[n] for n in convs}, {n: relevance[n] for n in convs}, 0.0)
    pruned = base_networks.place(prune.prune(net, mixed, 0.6, example_inputs=x0), torch.device("cpu"))
    train.recalibrate_batchnorm(pruned, images.batches("train", 0), p.bn_batches)
    by_hand = base_networks.evaluate(pruned.eval(), images, torch.device("cpu"))
    assert (by_hand["test_acc"], by_hand["test_loss"]) == (stored["test_acc"], stored["test_loss"])
    assert prune.count(pruned, x0)["params"] == stored["params"]
    as_relevance = prune.prune(net, {n: relevance[n] for n in convs}, 0.6, example_inputs=x0)
    assert any(
        not torch.equal(a.weight, b.weight)
        for a, b in zip(as_relevance.modules(), pruned.modules())
        if isinstance(a, torch.nn.Conv2d)
    )


def test_flexrel_sweep_pairs_methods_on_the_same_base_networks(sandbox):
    p = _tiny(seeds=[0, 1], factors=[0.5])
    frame = flexrel.frame(flexrel.planned(p, "retention", flexrel.fig2_plan(p, p.factors, draws=2)))
    # random draws differ, every other method has one run per seed and factor; factor 0 is each seed's base network
    assert len(frame[(frame.method == "random") & (frame.factor == 0.5)]) == 4
    assert (frame[frame.factor == 0].groupby("seed").test_acc.nunique() == 1).all()
    pruned = frame[frame.factor == 0.5]
    assert pruned.params_removed.between(0.5, 0.9).all() and (pruned.macs_removed > 0).all()
    assert pruned.groupby("seed").params.nunique().eq(1).all()  # per-layer pruning: one shape per level


def test_time_to_target_uses_the_first_crossing(sandbox):
    p = _tiny()
    sp = profiles.load("split_learning", "smoke")
    frame = pd.DataFrame(
        {"seed": 0, "method": ["m"] * 4, "factor": [0.0, 0.3, 0.6, 0.8], "test_acc": [0.9, 0.88, 0.7, 0.89]}
    )
    t = split_learning.time_to_target(p, sp, frame, [0.95, 0.5]).set_index("target_rel")
    # 0.95 × 0.9 = 0.855 is crossed between 0.3 (0.88) and 0.6 (0.7); 0.8 reaches it again,
    # but after a fall: not counted
    assert t.factor[0.95] == pytest.approx(0.3 + (0.88 - 0.855) / (0.88 - 0.7) * 0.3) and t.factor[0.5] == 0.8
    assert t.total_s[0.95] > t.total_s[0.5] and t.bytes[0.95] > t.bytes[0.5]


def test_rounds_needed_matches_the_pruning_arithmetic():
    # 50 → 45 → 40 → 36 → 32 → 28 → 25 → 22 → 19 → 17 → 15 and 30 → 27 → … → 9 → 8: 57 of 80 gone (71 %) after 10
    assert train_time.rounds_needed([50, 30], 0.1, 0.7) == 10
    assert train_time.rounds_needed([10], 0.5, 0.5) == 1
    assert train_time.rounds_needed([10], 0.1, 0.0) == 0


@pytest.mark.parametrize("method", ["rank", "worst", "random", "none"])
def test_rank_protocol_schedule(sandbox, method):
    p = smoke("rank").replace(train_subset=128, prune_fraction=0.3, target_removed=0.5)
    rows = pd.DataFrame(train_time.run(p, "MNIST", method, "paper", 0))
    trained = rows[rows.stage == "trained"]
    n_rounds = train_time.rounds_needed([50, 30], 0.3, 0.5)
    assert len(trained) == p.initial_epochs + n_rounds * p.recovery_epochs + p.final_epochs
    assert set(rows.reading) == ({"paper"} if method in ("rank", "worst") else {"-"})
    if method == "none":
        assert rows.removed.max() == 0 and (rows.stage == "pruned").sum() == 0
    else:
        assert rows.removed.max() >= 0.5 and (rows.stage == "pruned").sum() == n_rounds
        assert trained.hidden.iloc[-1] < 80 and trained.params.iloc[-1] < trained.params.iloc[0]


def test_rank_and_worst_remove_opposite_ends(sandbox):
    torch.manual_seed(0)
    net = models.mlp([784, 50, 30, 10])
    x = torch.rand(64, 1, 28, 28)
    s = train_time.scorer("paper")(net, [x])
    best = prune.prune(net, s, 0.5, example_inputs=x[:1])
    worst = prune.prune(net, s, 0.5, example_inputs=x[:1], worst=True)
    kept_best = set(torch.topk(s["1"], 25).indices.tolist())
    # the rank-pruned layer keeps the 25 highest-scoring neurons: its weights are those rows
    assert torch.equal(best[1].weight, net[1].weight[sorted(kept_best)])
    assert not torch.equal(worst[1].weight, best[1].weight)


def test_cifar_cnn_code_path_on_synthetic_tensors(sandbox, monkeypatch):
    x = torch.randint(0, 256, (96, 3, 32, 32), dtype=torch.uint8)
    y = torch.arange(96) % 10
    monkeypatch.setattr(
        data, "splits", lambda dataset, **kw: (data.prepare(x, dataset), y, data.prepare(x[:32], dataset), y[:32])
    )
    p = smoke("rank").replace(prune_fraction=0.5, target_removed=0.4)
    rows = pd.DataFrame(train_time.run(p, "CIFAR10", "rank", "original_code", 0))
    assert rows.removed.max() >= 0.4 and rows.test_acc.notna().all()
    widths = train_time.width(train_time.build(p, "CIFAR10", 0), ["7", "9", "11"])
    assert widths == 1024 + 512 + 256


def test_vae_pruned_unpruned_scratch(sandbox):
    p = smoke("vae").replace(
        train_subset=128, test_subset=32, n_images=4, prune_fraction=0.3, target_removed=0.3, seeds=[0, 1]
    )
    frame, first = train_time_vae.sweep(train_time_vae.planned(p))
    assert sorted(set(zip(frame.seed, frame.kind))) == [(s, k) for s in (0, 1) for k in sorted(train_time_vae.KINDS)]
    assert first["pruned"] == train_time_vae.run(p, "pruned", 0) != train_time_vae.run(p, "pruned", 1)
    pruned, unpruned, scratch = (first[k] for k in train_time_vae.KINDS)
    assert pruned["hidden"] == scratch["hidden"] and pruned["hidden"][0] < p.hidden[0]
    assert len(pruned["images"]["end"]) == 4 and "before_pruning" in pruned["images"]
    last = lambda r: r["rows"][-1]  # noqa: E731
    assert last(pruned)["params"] == last(scratch)["params"] < last(unpruned)["params"]
    assert sum(r["stage"] == "trained" for r in pruned["rows"]) == sum(
        r["stage"] == "trained" for r in unpruned["rows"]
    )


DEVICES = ["cpu", "auto"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_rank_and_vae_run_on_the_profile_device_and_record_it(sandbox, device):
    """Every protocol resolves ``device`` alike (:func:`lib.core.train.device`) and keys a run by the device it used."""
    used = str(train.device(device))
    r = smoke("rank").replace(train_subset=128, prune_fraction=0.3, target_removed=0.3, device=device)
    v = smoke("vae").replace(
        train_subset=64, test_subset=32, n_images=2, prune_fraction=0.3, target_removed=0.3, seeds=[0], device=device
    )
    rows = pd.DataFrame(train_time.run(r, "MNIST", "rank", "paper", 0))
    assert rows.test_acc.notna().all() and rows.removed.max() >= 0.3
    assert train_time_vae.run(v, "pruned", 0)["rows"][-1]["test_loss"] > 0
    stored = [runs._read(path)[0]["run"]["device"] for path in runs.entries()]
    assert stored == [used, used]


def test_a_device_this_machine_lacks_is_named():
    assert train.device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="allowed"):
        train.device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device"):
            train.device("cuda")


def test_vae_at_celeba_size_prunes_hidden_layers_only():
    v = models.VAE(3, 64, [8, 16], [64, 32], 8)
    x = torch.rand(4, 3, 64, 64)
    assert v(x)[0].shape == x.shape
    s = contribution.contribution(v, [x], pairs=v.hidden_pairs())
    assert set(s) == {"enc_fc.0", "enc_fc.2", "dec_fc.0", "dec_fc.2"}
    pv = prune.prune(v, s, 0.5, example_inputs=x[:1])
    assert (
        pv.mu.out_features == 8 and pv.dec_in.out_features == v.dec_in.out_features and pv.enc_fc[0].out_features == 32
    )
    assert train_time_vae.loss(pv.train(), x, 1.0).isfinite()


def _fake(name, size, classes):
    """A stand-in for a dataset that cannot be had offline: torchvision's FakeData with the real image size."""
    import torchvision

    def open_dataset(dataset, train, root=None, download=False, transform=None):
        assert dataset == name
        return torchvision.datasets.FakeData(
            size=24 if train else 8,
            image_size=size,
            num_classes=max(classes, 1),
            transform=transform,
            random_offset=0 if train else 100,
        )

    return open_dataset


def test_flexrel_paper_profile_code_path_on_fake_imagenet(sandbox, monkeypatch):
    monkeypatch.setattr(data, "open_dataset", _fake("ImageNet", (3, 256, 256), 1000))
    monkeypatch.setattr(data, "loader", lambda *a, **k: _no_workers(*a, **k))
    p = profiles.load("flexrel", "paper").replace(
        width=0.03125,
        batch_size=8,
        epochs_pre=1,
        epochs_post=1,
        relevance_images=8,
        bn_batches=1,
        device="cpu",
        post_subset=8,
    )
    rows = flexrel.recovery(p, 0, "flexrel", 0.5, 0.5)
    assert [r["stage"] for r in rows] == ["recovery"] and rows[0]["params"] > 0
    assert isinstance(base_networks.build(p, 0).features[0], torch.nn.Conv2d) and p.model == "vgg16" and p.lr == 0.05


_real_loader = data.loader


def _no_workers(*args, **kwargs):
    return _real_loader(*args, **{**kwargs, "workers": 0})


def test_flexrel_cifar_profile_code_path_on_synthetic_cifar(sandbox, monkeypatch):
    import torchvision

    from tests.test_data import _write_cifar

    _write_cifar(sandbox / "data", "cifar-10-batches-py", 16, 10, "labels")
    cls = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cls, "train_list", [[f, None] for f, _ in cls.train_list])
    monkeypatch.setattr(cls, "test_list", [[f, None] for f, _ in cls.test_list])
    monkeypatch.setitem(cls.meta, "md5", None)
    p = profiles.load("flexrel", "cifar").replace(
        width=0.0625,
        epochs_pre=1,
        epochs_post=1,
        seeds=[0],
        relevance_images=16,
        bn_batches=1,
        test_subset=16,
        train_subset=64,
        device="cpu",
    )
    row = flexrel.retention(p, 0, "relevance", 0.5)["row"]
    assert row["params"] > 0 and 0 <= row["test_acc"] <= 1


def test_vae_celeba_code_path_on_fake_celeba(sandbox, monkeypatch):
    monkeypatch.setattr(data, "open_dataset", _fake("CelebA", (3, 218, 178), 0))
    x, y = data.tensors("CelebA", True)
    assert x.shape == (24, 3, 64, 64) and x.dtype == torch.uint8 and y.eq(0).all()
    p = profiles.load("vae", "paper").replace(
        hidden=[32, 16],
        latent=4,
        batch_size=8,
        initial_epochs=1,
        recovery_epochs=1,
        final_epochs=0,
        train_subset=24,
        test_subset=8,
        n_images=2,
        prune_fraction=0.3,
    )
    out = train_time_vae.run(p, "pruned", 0)
    assert out["hidden"][0] < 32 and len(out["images"]["end"][0]) == 3


def test_beyond_settings_change_exactly_what_they_name(sandbox):
    """Dynamic pruning reaches the one-shot widths in steps; a test shift changes only the measurement; a Taylor
    partner makes FlexRel at δ = 0 the Taylor run."""
    p = _tiny()
    one = flexrel.retention(p, 0, "flexrel", 0.5, 0.5)["row"]
    steps = flexrel.retention(p.replace(prune_steps=2), 0, "flexrel", 0.5, 0.5)["row"]
    assert steps["params"] == one["params"] and steps["relevance_seconds"] > one["relevance_seconds"]
    shifted = flexrel.retention(p.replace(test_shift="noise"), 0, "flexrel", 0.5, 0.5)["row"]
    assert shifted["params"] == one["params"] and shifted["test_loss"] != one["test_loss"]
    t = p.replace(partner="taylor")
    assert flexrel.canonical(t, "flexrel", 0.0) == ("taylor", None)
    assert flexrel.retention(t, 0, "flexrel", 0.5, 0.0) == flexrel.retention(p, 0, "taylor", 0.5)


def test_criterion_scores_read_images_only_for_criteria_that_need_them(monkeypatch):
    p = _tiny()
    model = base_networks.build(p, 0).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    monkeypatch.setattr(flexrel, "reference_images", lambda q: (_ for _ in ()).throw(AssertionError("images read")))
    found, seconds = flexrel.criterion_scores(flexrel.Scoring.of(p, 0), model, ["magnitude", "magnitude_bn"])
    assert set(found) == {"magnitude", "magnitude_bn"} and seconds == 0.0
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    with pytest.raises(AssertionError, match="images read"):
        flexrel.criterion_scores(flexrel.Scoring.of(p, 0), model, ["relevance"])


def test_each_seed_draws_its_own_images_under_per_seed_subsets_and_the_first_ones_otherwise(sandbox):
    """``subsets: per_seed``: a seed's training and test images are its own draw from the whole splits (the same on
    every call); ``first``: every seed reads the first images. The rank and VAE protocols read the same draw."""

    def images(p, seed, part):
        return torch.cat([x for x, _ in base_networks.Images.of(p, seed).batches(part, shuffle=False)])

    first, drawn = _tiny(subsets="first"), _tiny(subsets="per_seed")
    for part in ("train", "test"):
        assert torch.equal(images(first, 0, part), images(first, 1, part))
        assert torch.equal(images(drawn, 3, part), images(drawn, 3, part))
        assert not torch.equal(images(drawn, 3, part), images(drawn, 4, part))
    whole = data.splits("FashionMNIST", 32, None, None, channels_last=True)
    assert torch.equal(images(first, 0, "train"), whole[0][:128])
    with pytest.raises(ValueError, match="the run's seed"):
        base_networks.Images.of(drawn).batches("test")
    assert data.draw("per_seed", 7) == 7 and data.draw("first", 7) is None
    with pytest.raises(ValueError, match="allowed"):
        data.draw("random", 7)
    assert flexrel.retention(drawn, 3, "magnitude", 0.3)["row"] != flexrel.retention(first, 3, "magnitude", 0.3)["row"]
