"""Pyramid sizes of the patch methods (GPNN, GPDM, the closed-form sampler).

The levels themselves are built with the library's pyramid code
(:func:`sinkit.core.pyramid.build_pyramid`, :func:`~sinkit.core.pyramid.build_pyramid_chained`)
and so through the one resize, :func:`sinkit.core.resize.resize`.
"""

from __future__ import annotations

import math

from ..pyramid import PyramidSpec
from ..resize import _ceil

__all__ = ["patch_pyramid", "fit_max_size"]


def fit_max_size(height: int, width: int, max_size: int | None) -> tuple[int, int]:
    """Size after shrinking so the long side is at most ``max_size`` (never enlarged; None: as is)."""
    if min(height, width) < 1:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    if max_size is None or max(height, width) <= max_size:
        return height, width
    s = max_size / max(height, width)
    return _ceil(height * s), _ceil(width * s)


def patch_pyramid(
    height: int,
    width: int,
    *,
    factor: float,
    coarsest: int | None = None,
    num_scales: int | None = None,
) -> PyramidSpec:
    """Sizes of a coarse-to-fine pyramid ending at ``height x width``, coarsest first.

    Two ways to fix the depth:

    * ``coarsest`` (GPNN: 14, GPDM: 21): the short side of the coarsest level.  The
      number of levels is ``n = ceil(log(coarsest / short) / log(factor))`` and the
      factor is recomputed as ``(coarsest / short) ** (1 / n)`` so the levels span
      exactly from the image to ``coarsest`` (as SinGAN's pyramid does; the official
      GPNN/GPDM scripts keep the nominal factor and let the last level fall
      wherever it falls below ``coarsest``).
    * ``num_scales`` (closed-form sampler: 4): that many levels, side ``ceil(side *
      factor ** k)`` for the level ``k`` steps below the image, the factor used as is
      (official ``gaussian_pyramid_shapes``).

    Raises:
        ValueError: both or neither of ``coarsest`` / ``num_scales``, a factor outside
            ``(0, 1)``, or a ``coarsest`` larger than the image's short side.
    """
    if (coarsest is None) == (num_scales is None):
        raise ValueError("give exactly one of coarsest and num_scales")
    if not 0 < factor < 1:
        raise ValueError(f"pyramid factor must be in (0, 1), got {factor}")
    short = min(height, width)
    if num_scales is not None:
        if num_scales < 1:
            raise ValueError(f"num_scales must be >= 1, got {num_scales}")
        sizes = tuple(
            (_ceil(height * factor ** (num_scales - 1 - i)), _ceil(width * factor ** (num_scales - 1 - i)))
            for i in range(num_scales)
        )
        return PyramidSpec(sizes, factor)
    if coarsest < 1 or coarsest > short:
        raise ValueError(
            f"the coarsest level's short side ({coarsest} px) must be between 1 and the image's short side ({short} px)"
        )
    if coarsest == short:
        return PyramidSpec(((height, width),), 1.0)
    levels = math.ceil(math.log(coarsest / short) / math.log(factor) - 1e-9)
    r = (coarsest / short) ** (1.0 / levels)
    sizes = tuple(
        (_ceil(height * r ** (levels - i)), _ceil(width * r ** (levels - i))) for i in range(levels)
    ) + ((height, width),)
    return PyramidSpec(sizes, r)
