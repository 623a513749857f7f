"""Section ``data`` (notebook ``00_data``): which datasets to fetch and show."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from .schema import DATASETS, Section


class DataParams(Section):
    """Section ``data``.

    Attributes
    ----------
    datasets
        Datasets to fetch (``make data``) and to show; any of ``DATASETS``.
    grid
        Number of sample images per dataset in the sample grid.
    """

    SECTION: ClassVar[str] = "data"
    datasets: list[Literal[DATASETS]]
    grid: Annotated[int, Field(ge=1, le=1024)]
