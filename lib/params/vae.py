"""Section ``vae`` (notebook ``06``): train-time pruning of a convolutional VAE (the rank paper's Fig. 2)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from .rank import Schedule
from .schema import OPTIMIZERS, READINGS, SUBSETS, Count, OnDevice, Rate, Seeds

Width = Annotated[int, Field(ge=1, le=10**6)]


class VaeParams(Schedule, OnDevice):
    """Section ``vae``.

    Attributes
    ----------
    dataset, image_size
        ``FashionMNIST`` (default) or ``MNIST`` at 28, or ``CelebA`` at 64 (the paper).
    channels, hidden, latent
        Encoder convolution channels (two blocks, mirrored in the decoder), hidden fully-connected widths
        (mirrored in the decoder) and latent size. Latent and output widths are never pruned.
    beta
        Loss = BCE + β·KLD (the paper "magnifies" the KLD coefficient without giving it).
    reading
        Contribution reading (``paper`` or ``original_code``), as in section ``rank``.
    optimizer, lr, batch_size, initial_epochs, recovery_epochs, final_epochs, prune_fraction, target_removed
        Schedule as in section ``rank``; the paper prunes ≈ 8-10 % per round to ≈ 30 %.
    train_subset, test_subset
        Samples of each split used (``null``: all), as ``subsets`` says.
    subsets
        ``first``: the first ``train_subset`` / ``test_subset`` samples of the official splits for every seed;
        ``per_seed``: each seed draws its own subsets of those sizes from the whole splits (``SUBSETS``).
    n_images
        Fixed test images shown as reconstructions (of the first seed's runs).
    seeds
        Seeds; each runs the pruned, unpruned and from-scratch VAE (the claim is judged as a paired difference
        per seed, so at least two give an interval).
    device, amp
        As :class:`lib.params.schema.OnDevice`.
    """

    SECTION: ClassVar[str] = "vae"
    dataset: Literal["FashionMNIST", "MNIST", "CelebA"]
    image_size: Width
    channels: Annotated[list[Width], Field(min_length=2, max_length=2)]
    hidden: list[Width]
    latent: Width
    beta: Annotated[float, Field(ge=0.0, le=1e6)]
    reading: Literal[READINGS]
    optimizer: Literal[OPTIMIZERS]
    lr: Rate
    batch_size: Width
    train_subset: Count | None
    test_subset: Count | None
    subsets: Literal[SUBSETS]
    n_images: Width
    seeds: Seeds
