"""The rank paper's neuron contribution (Reddy et al., eqs. 1-2): the criterion of train-time pruning.

- :func:`contribution` — ``λ1·C_avg + λ2·C_max`` for hidden neurons of fully-connected layers, with the
  text's reading as default and the public code's reading as the preset ``original_code``
  (:data:`CONTRIBUTION_PRESETS`).
- :func:`linear_pairs` — the hidden layers it scores, each with the layer its neurons feed.

The random control is :func:`lib.core.prune.random_scores`. The original code's "random" baseline removed the
*most* important neurons instead; that is ``lib.core.prune.prune(..., worst=True)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import torch
from torch import nn

from ..core.prune import Scores

CONTRIBUTION_PRESETS: dict[str, dict] = {
    # The paper's text: eqs. (1)-(2), signed weights and activations after the nonlinearity, every forward pass.
    # Signed ratios whose denominator cancels (|Σ w·a| < 10 % of Σ |w·a|) count as 0, so |r| ≤ 10 (see `cancel_tol`).
    "paper": dict(lam_avg=0.5, lam_max=0.5, absolute=False, activation="post", last_batch_only=False, cancel_tol=0.1),
    # The public code: |w|·|a| of pre-activation outputs, only the last mini-batch, C_max computed but unused.
    "original_code": dict(lam_avg=1.0, lam_max=0.0, absolute=True, activation="pre", last_batch_only=True),
}


def linear_pairs(model: nn.Module, x: torch.Tensor) -> list[tuple[str, str]]:
    """``(layer, next layer)`` names of consecutive ``nn.Linear`` layers in the order one forward pass of ``x``
    calls them: the hidden layers :func:`contribution` scores, each with the layer its neurons feed."""
    names = {m: n for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    order: list[str] = []
    handles = [m.register_forward_hook(lambda m, a, o: order.append(names[m])) for m in names]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return list(zip(order[:-1], order[1:]))


@torch.no_grad()
def contribution(
    model: nn.Module,
    batches: Iterable[torch.Tensor | tuple[torch.Tensor, ...]],
    lam_avg: float = 0.5,
    lam_max: float = 0.5,
    absolute: bool = False,
    activation: Literal["post", "pre"] = "post",
    last_batch_only: bool = False,
    pairs: list[tuple[str, str]] | None = None,
    cancel_tol: float = 0.0,
    chunk: int = 1 << 22,
) -> Scores:
    """The rank paper's neuron contribution ``λ1·C_avg + λ2·C_max`` for every hidden fully-connected layer.

    For neuron ``k`` of layer ``L`` with activation ``a_kf`` in forward pass ``f`` and next-layer weights
    ``w_kj`` (``j`` over the ``M`` neurons of ``L+1``), the contribution ratio is
    ``r_fkj = w_kj·a_kf / Σ_i w_ij·a_if`` (the next layer's pre-activation without its bias);
    ``C_avg = (1 / F·M) Σ_f Σ_j r_fkj`` (eq. 1) and ``C_max = max_{f,j} r_fkj`` (eq. 2). Every sample is one
    forward pass, so how the samples are split into batches changes nothing. A zero denominator (a
    next-layer neuron that receives nothing) contributes a ratio of 0, never NaN or inf.

    **Guard for signed ratios.** With signed weights and activations the denominator ``Σ_i w_ij·a_if`` can
    cancel to nearly zero while its terms do not, and the ratios then explode (``C_max`` becomes an outlier
    statistic of one forward pass). A denominator whose magnitude is below ``cancel_tol`` times its absolute
    sum ``Σ_i |w_ij·a_if|`` is treated like a zero one (its ratios count 0), which bounds ``|r| ≤ 1 / cancel_tol``.
    The ``paper`` preset uses 0.1; ``cancel_tol = 0`` keeps only the exact-zero guard.

    Parameters
    ----------
    model
        Network whose fully-connected layers are called in sequence; a layer is scored if another linear
        layer follows it in the forward pass (the output layer is not scored).
    batches
        Iterable of inputs, or of ``(inputs, ...)`` tuples (a data loader).
    lam_avg, lam_max
        λ1 and λ2.
    absolute
        Use ``|w|`` and ``|a|`` (the public code) instead of signed values (the text).
    activation
        ``"post"``: the neuron's output after its nonlinearity, i.e. the next layer's input (the text);
        ``"pre"``: the layer's output before it (the public code).
    last_batch_only
        Use only the last batch (the public code) instead of every forward pass (the text).
    pairs
        Explicit ``(layer, next layer)`` names, for networks whose linear layers are not one chain (a VAE's
        encoder feeds two latent heads); default: :func:`linear_pairs`.
    cancel_tol
        Relative size below which a denominator counts as cancelled (see above); 0 to 1.
    chunk
        Elements per block when forming ``r`` for ``C_max`` (memory only).
    """
    if activation not in ("post", "pre"):
        raise ValueError(f"activation={activation!r}; allowed: 'post', 'pre'")
    if not 0.0 <= cancel_tol < 1.0:
        raise ValueError(f"cancel_tol must be in [0, 1), got {cancel_tol!r}")
    batches = [b[0] if isinstance(b, (tuple, list)) else b for b in batches]
    if not batches:
        raise ValueError("contribution needs at least one batch")
    if last_batch_only:
        batches = batches[-1:]
    was_training = model.training
    model.eval()
    modules = dict(model.named_modules())
    pairs = [((a, modules[a]), (b, modules[b])) for a, b in (pairs or linear_pairs(model, batches[0][:1]))]
    acts: dict[str, torch.Tensor] = {}
    handles = []
    for (name, layer), (_, nxt) in pairs:
        if activation == "pre":
            handles.append(layer.register_forward_hook(lambda m, a, o, name=name: acts.__setitem__(name, o)))
        else:
            handles.append(nxt.register_forward_pre_hook(lambda m, a, name=name: acts.__setitem__(name, a[0])))
    total = {
        name: torch.zeros(layer.out_features, dtype=torch.float64, device=layer.weight.device)
        for (name, layer), _ in pairs
    }
    peak = {
        name: torch.full((layer.out_features,), -math.inf, dtype=torch.float64, device=layer.weight.device)
        for (name, layer), _ in pairs
    }
    count = 0
    try:
        for xb in batches:
            model(xb)
            count += len(xb)
            for (name, _), (_, nxt) in pairs:
                a = acts[name].reshape(len(xb), -1).double()
                w = nxt.weight.double()  # (M, N): w[j, k] links neuron k to next neuron j
                if absolute:
                    a, w = a.abs(), w.abs()
                z = a @ w.T  # (F, M)
                cancelled = z.abs() <= cancel_tol * (a.abs() @ w.abs().T)
                inv = torch.where(cancelled | (z == 0), torch.zeros_like(z), 1.0 / z)
                total[name] += (a * (inv @ w)).sum(0)  # Σ_f Σ_j a_fk w_jk / z_fj
                step = max(1, chunk // (w.numel()))
                for s in range(0, len(a), step):
                    r = a[s : s + step, :, None] * w.T[None] * inv[s : s + step, None, :]  # (f, k, j)
                    peak[name] = torch.maximum(peak[name], r.amax(dim=(0, 2)))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    out = {}
    for (name, layer), (_, nxt) in pairs:
        c_avg = total[name] / (count * nxt.out_features)
        out[name] = (lam_avg * c_avg + lam_max * peak[name]).float()
    return out
