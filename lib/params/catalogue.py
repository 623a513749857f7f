"""The catalogue: every pruning criterion, LRP composite and FlexRel network this project knows, one entry each.

It is plain data (no torch), so that the params layer imports it: the choices ``params.yaml`` accepts and the
constraints between them come from here. Each entry's implementation registers beside its code under the same name
(a criterion: ``@criterion("name")`` in :mod:`lib.criteria`; a composite: ``@composite("name")``; a network's
builder: ``@builds("name")`` in :mod:`lib.core.models`), and a registration the catalogue lacks is refused; the
protocols, notebooks, sizing and :mod:`lib.criteria.importance` read the entries. ``tests/test_params.py`` checks
that every entry has its implementation.

Adding a criterion is one entry here and its registered score (and its test)::

    Criterion("l2", "baseline", "L2 norm (baseline)"),                       # here, in CRITERIA

    @criterion("l2")                                                         # lib/criteria/filters.py
    def l2(model: nn.Module, reference: Reference) -> Scores:
        return {name: m.weight.detach().flatten(1).norm(dim=1) for name, m in prunable_layers(model).items()}

Adding a network is one entry here and its registered builder::

    Network("vgg11_bn", "VGG-11 (BatchNorm)", batchnorm=True),              # here, in NETWORKS

    @builds("vgg11_bn")                                                      # lib/core/models.py
    def vgg11_bn(classes: int, channels: int, image_size: int, width: float, dropout: float) -> nn.Module: ...
"""

from __future__ import annotations

from dataclasses import dataclass

#: What a criterion may read besides the network's weights: the reference images, their labels, the gradients of the
#: loss on them, and BatchNorm layers (a criterion that reads them applies only to a network that has them).
READS = ("images", "labels", "gradients", "batchnorm")
#: Where a criterion appears: among FlexRel's methods (``paper``: the paper's own and its magnitude variant;
#: ``combinator``: FlexRel's mix of two other criteria; ``control``: random scores, which every verdict is gated on),
#: or among today's criteria measured beside them (``baseline``: never in the paper's verdicts). A ``paper`` or
#: ``baseline`` criterion scores a network by its registered function; a combinator and a control have none.
ROLES = ("paper", "combinator", "control", "baseline")


@dataclass(frozen=True)
class Network:
    """A network FlexRel's base networks can be.

    ``batchnorm``: it has BatchNorm layers (what a criterion reading ``batchnorm`` needs); ``residual``: residual
    additions tie several layers into one pruning group (so FlexRel at δ = 0 or 1 is not its partner's or
    relevance's run, :func:`lib.protocols.flexrel.canonical`); ``convolutional``: it has convolutions (without, the
    protocol prunes hidden neurons); ``stored_as``: the run store's kind for its base networks; ``macs_exponent``:
    removing a fraction ``f`` of its units keeps about ``(1 − f)^macs_exponent`` of its MACs (a chain of
    convolutions loses inputs and outputs alike: 2), what sizing estimates a pruned run's cost with."""

    name: str
    label: str
    batchnorm: bool = False
    residual: bool = False
    convolutional: bool = True
    stored_as: str = ""
    macs_exponent: float = 2.0

    @property
    def kind(self) -> str:
        """Where its base networks are stored (``flexrel-pre-<name>`` unless ``stored_as`` says otherwise)."""
        return self.stored_as or f"flexrel-pre-{self.name}"


@dataclass(frozen=True)
class Criterion:
    """A pruning criterion: its name, its role (:data:`ROLES`), the label figures give it, and what it reads
    (:data:`READS`)."""

    name: str
    role: str
    label: str
    reads: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.role not in ROLES or set(self.reads) - set(READS):
            raise ValueError(
                f"criterion {self.name!r}: role {self.role!r} (allowed {list(ROLES)}), reads {self.reads} "
                f"(allowed {list(READS)})"
            )

    @property
    def scores(self) -> bool:
        """Whether it scores a network by a registered function (a combinator and a control do not)."""
        return self.role in ("paper", "baseline")

    def applies(self, network: Network) -> bool:
        """Whether it can score ``network`` (one that reads BatchNorm needs BatchNorm layers)."""
        return "batchnorm" not in self.reads or network.batchnorm


#: FlexRel's networks: torchvision's VGG-16 with or without BatchNorm (stored together, as notebooks 01-03's),
#: LeNet-300-100 (notebook 08's second architecture) and a ResNet-18 with a CIFAR stem (notebook 09's residual one).
NETWORKS: dict[str, Network] = {
    n.name: n
    for n in (
        Network("vgg16_bn", "VGG-16 (BatchNorm)", batchnorm=True, stored_as="flexrel-pre"),
        Network("vgg16", "VGG-16", stored_as="flexrel-pre"),
        Network("lenet300", "LeNet-300-100", convolutional=False, macs_exponent=1.0),
        Network("resnet18", "ResNet-18", batchnorm=True, residual=True),
    )
}

#: Every criterion, in the order figures list them.
CRITERIA: dict[str, Criterion] = {
    c.name: c
    for c in (
        Criterion("magnitude", "paper", "Magnitude (raw |w|)"),
        Criterion("magnitude_bn", "paper", "Magnitude (BN-folded)"),
        Criterion("relevance", "paper", "Relevance", reads=("images", "labels")),
        Criterion("flexrel", "combinator", "FlexRel"),
        Criterion("taylor", "baseline", "Taylor (torch-pruning; baseline)", reads=("images", "labels", "gradients")),
        Criterion("lamp", "baseline", "LAMP (torch-pruning; baseline)", reads=("images",)),
        Criterion("bn_scale", "baseline", "BN scale (torch-pruning; baseline)", reads=("images", "batchnorm")),
        Criterion("contribution", "baseline", "Rank paper's contribution (baseline)", reads=("images",)),
        Criterion("random", "control", "Random (control)"),
    )
}

#: zennit's composites that give LRP's rules (each registered beside its definition in :mod:`lib.criteria.filters`);
#: the paper does not name its rules.
COMPOSITES = ("EpsilonPlusFlat", "EpsilonGammaBox", "EpsilonAlpha2Beta1")


def with_role(*roles: str) -> tuple[str, ...]:
    """The criteria of ``roles``, in catalogue order.

    >>> with_role("paper", "combinator", "control")
    ('magnitude', 'magnitude_bn', 'relevance', 'flexrel', 'random')
    """
    return tuple(n for n, c in CRITERIA.items() if c.role in roles)
