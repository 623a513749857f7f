"""The papers' networks: VGG-16 (FlexRel), the 784-50-30-10 MLP and the appendix CNN (rank paper).

Every ReLU is out of place (LRP hooks read each layer's output tensor).
"""

from __future__ import annotations

from torch import nn
from torchvision.models import VGG
from torchvision.models.vgg import cfgs, make_layers


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
            nn.Linear(channels * (image_size // 32) ** 2, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
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
