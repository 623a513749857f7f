"""The papers' networks: VGG-16 (FlexRel), the 784-50-30-10 MLP and the appendix CNN (rank paper); and a residual
network beyond them, ResNet-18 with a CIFAR stem (notebook 09).

Every ReLU is out of place (LRP hooks read each layer's output tensor). Each network of FlexRel's catalogue
(:data:`lib.params.catalogue.NETWORKS`) registers its builder here (``@builds("name")``, :data:`BUILDERS`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torchvision.models import VGG
from torchvision.models.resnet import BasicBlock, Bottleneck
from torchvision.models.vgg import cfgs, make_layers

from ..params import catalogue

#: A catalogued network's builder: ``build(classes, channels, image_size, width, dropout) → a fresh network``.
Builder = Callable[[int, int, int, float, float], nn.Module]
#: Every catalogued network's builder, by name.
BUILDERS: dict[str, Builder] = {}


def builds(name: str) -> Callable[[Builder], Builder]:
    """Register the decorated builder as that of catalogued network ``name``."""
    if name not in catalogue.NETWORKS or name in BUILDERS:
        raise ValueError(f"network {name!r}: not in the catalogue {list(catalogue.NETWORKS)}, or registered twice")

    def register(build: Builder) -> Builder:
        BUILDERS[name] = build
        return build

    return register


def _out_of_place(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    return model


def vgg16(
    num_classes: int = 10,
    in_channels: int = 3,
    width: float = 1.0,
    batch_norm: bool = True,
    image_size: int = 32,
    dropout: float = 0.5,
) -> VGG:
    """VGG-16 (configuration "D") from torchvision's builder, with a width multiplier.

    At ``image_size ≥ 224`` and ``width = 1`` with ``in_channels = 3`` this is exactly torchvision's
    ``vgg16`` / ``vgg16_bn`` (``4096``-wide classifier on a ``7×7`` pool). For small images (e.g. 32×32
    FashionMNIST or CIFAR) the five pools leave ``1×1``: the classifier then reads the ``512·width``
    channels directly and its hidden layers are ``512·width`` wide, as in the usual CIFAR VGG.
    """
    if not 0 < width <= 4:
        raise ValueError(f"width must be in (0, 4], got {width}")
    cfg = [v if v == "M" else max(1, round(v * width)) for v in cfgs["D"]]
    features = make_layers(cfg, batch_norm=batch_norm)
    if in_channels != 3:
        first = features[0]
        features[0] = nn.Conv2d(in_channels, first.out_channels, kernel_size=3, padding=1)
    model = VGG(features, num_classes=num_classes, init_weights=True, dropout=dropout)
    if image_size < 224:
        channels, hidden = cfg[-2], max(1, round(512 * width))
        model.avgpool = nn.Flatten()
        model.classifier = nn.Sequential(
            nn.Linear(channels * (image_size // 32) ** 2, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        for m in model.classifier:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)
    elif width != 1:
        channels, hidden = cfg[-2], max(1, round(4096 * width))
        model.classifier[0] = nn.Linear(channels * 7 * 7, hidden)
        model.classifier[3] = nn.Linear(hidden, hidden)
        model.classifier[6] = nn.Linear(hidden, num_classes)
    return _out_of_place(model)


def resnet18(num_classes: int = 10, in_channels: int = 3, width: float = 1.0) -> nn.Sequential:
    """ResNet-18 of torchvision's ``BasicBlock`` modules with the CIFAR stem (He et al. 2016, §4.2: one 3×3
    convolution at stride 1, no max-pool, so 32×32 images keep 4×4 maps in the last stage) and stages
    ``64·width`` … ``512·width`` wide, as an ``nn.Sequential`` (stem, four stages of two blocks, global average
    pool, classifier).

    torchvision's own blocks, whose residual additions :mod:`lib.criteria.graph` canonizes for LRP and torch-pruning
    couples the channels each addition ties together; convolutions initialised as torchvision's ResNet does.
    """
    if not 0 < width <= 4:
        raise ValueError(f"width must be in (0, 4], got {width}")
    widths = [max(1, round(w * width)) for w in (64, 128, 256, 512)]
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
        nn.BatchNorm2d(widths[0]),
        nn.ReLU(),
    ]
    inplanes = widths[0]
    for i, planes in enumerate(widths):
        stride = 1 if i == 0 else 2
        down = None
        if stride != 1 or inplanes != planes:
            down = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))
        layers.append(nn.Sequential(BasicBlock(inplanes, planes, stride, down), BasicBlock(planes, planes)))
        inplanes = planes
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(inplanes, num_classes))
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return _out_of_place(model)


def residual(model: nn.Module) -> bool:
    """Whether ``model`` has torchvision ResNet blocks (kept in the default memory format: see
    :func:`lib.protocols.base_networks.place`)."""
    return any(isinstance(m, (BasicBlock, Bottleneck)) for m in model.modules())


def mlp(sizes: list[int], bias: bool = True) -> nn.Sequential:
    """Fully-connected ReLU network, e.g. ``sizes=[784, 50, 30, 10]`` (the rank paper's MNIST network;
    its public code used ``bias=False``)."""
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least input and output width, got {sizes}")
    layers: list[nn.Module] = [nn.Flatten()]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b, bias=bias))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@builds("vgg16_bn")
def vgg16_bn_network(classes: int, channels: int, image_size: int, width: float, dropout: float) -> nn.Module:
    return vgg16(classes, channels, width, batch_norm=True, image_size=image_size, dropout=dropout)


@builds("vgg16")
def vgg16_network(classes: int, channels: int, image_size: int, width: float, dropout: float) -> nn.Module:
    return vgg16(classes, channels, width, batch_norm=False, image_size=image_size, dropout=dropout)


@builds("lenet300")
def lenet300(classes: int, channels: int, image_size: int, width: float, dropout: float) -> nn.Module:
    """LeNet-300-100 (no convolutions; ``width`` and ``dropout`` do not apply)."""
    return mlp([channels * image_size**2, 300, 100, classes])


@builds("resnet18")
def resnet18_network(classes: int, channels: int, image_size: int, width: float, dropout: float) -> nn.Module:
    """ResNet-18 with the CIFAR stem (``image_size`` and ``dropout`` do not apply)."""
    return resnet18(classes, channels, width)


def cnn(in_channels: int = 3, num_classes: int = 10, image_size: int = 32, bias: bool = True) -> nn.Sequential:
    """The rank paper's appendix CNN for CIFAR: two convolution blocks, then fully-connected layers shrinking
    from the 2048-wide flattened input (32 channels × 8 × 8 at 32×32) through 1024, 512 and 256 to the classes."""
    flat = 32 * (image_size // 4) ** 2
    return nn.Sequential(
        nn.Conv2d(in_channels, 16, 3, padding=1, bias=bias),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, bias=bias),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(flat, 1024, bias=bias),
        nn.ReLU(),
        nn.Linear(1024, 512, bias=bias),
        nn.ReLU(),
        nn.Linear(512, 256, bias=bias),
        nn.ReLU(),
        nn.Linear(256, num_classes, bias=bias),
    )


class VAE(nn.Module):
    """Convolutional VAE like the rank paper's: two convolution blocks (stride 2) and hidden fully-connected
    layers in the encoder, mirrored in the decoder; Bernoulli decoder (sigmoid output).

    Module names: ``enc_fc.<i>`` / ``dec_fc.<i>`` are the hidden fully-connected layers (the prunable ones),
    ``mu``, ``logvar`` (latent, protected) and ``dec_in`` (back to the convolution shape, protected).
    """

    def __init__(self, in_channels: int, image_size: int, channels: list[int], hidden: list[int], latent: int):
        super().__init__()
        c1, c2 = channels
        self.side = image_size // 4
        self.shape = (c2, self.side, self.side)
        flat = c2 * self.side**2
        self.enc_conv = nn.Sequential(
            nn.Conv2d(in_channels, c1, 4, 2, 1), nn.ReLU(), nn.Conv2d(c1, c2, 4, 2, 1), nn.ReLU(), nn.Flatten()
        )
        widths = [flat, *hidden]
        self.enc_fc = nn.Sequential(*[m for a, b in zip(widths[:-1], widths[1:]) for m in (nn.Linear(a, b), nn.ReLU())])
        self.mu = nn.Linear(widths[-1], latent)
        self.logvar = nn.Linear(widths[-1], latent)
        back = [latent, *hidden[::-1]]
        self.dec_fc = nn.Sequential(*[m for a, b in zip(back[:-1], back[1:]) for m in (nn.Linear(a, b), nn.ReLU())])
        self.dec_in = nn.Linear(back[-1], flat)
        self.dec_conv = nn.Sequential(
            nn.ReLU(),
            nn.Unflatten(1, self.shape),
            nn.ConvTranspose2d(c2, c1, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(c1, in_channels, 4, 2, 1),
            nn.Sigmoid(),
        )

    def encode(self, x):
        h = self.enc_fc(self.enc_conv(x))
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        return self.dec_conv(self.dec_in(self.dec_fc(z)))

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decode(z), mu, logvar

    def hidden_pairs(self) -> list[tuple[str, str]]:
        """(hidden layer, the layer its neurons feed) for contribution scores: encoder and decoder hidden layers."""
        enc = [f"enc_fc.{i}" for i in range(0, len(self.enc_fc), 2)]
        dec = [f"dec_fc.{i}" for i in range(0, len(self.dec_fc), 2)]
        return list(zip(enc, enc[1:] + ["mu"])) + list(zip(dec, dec[1:] + ["dec_in"]))
