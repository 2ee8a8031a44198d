"""Image pyramids: which sizes the scales have, and the downsampled training images.

Scale indices count from the COARSEST level (index 0) to the finest
(index ``num_scales - 1``), as the official code's ``scale_num`` and
``gen_start_scale`` do.  The paper numbers the other way (``x_N`` coarsest,
``x_0`` finest): paper scale ``N - k`` is index ``k`` here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .resize import _ceil, resize

__all__ = ["PyramidSpec", "singan_pyramid", "sr_pyramid", "sr_steps_for", "build_pyramid", "scaled_sizes", "sinir_pyramid", "build_pyramid_chained"]


@dataclass(frozen=True)
class PyramidSpec:
    """Sizes of a pyramid, coarsest first.

    Attributes:
        sizes: ``(height, width)`` in pixels of every level, coarsest first; the
            last entry is the (resized) training image.
        scale_factor: ratio between consecutive levels (< 1), as recomputed for
            this image.
    """

    sizes: tuple[tuple[int, int], ...]
    scale_factor: float

    @property
    def num_scales(self) -> int:
        return len(self.sizes)

    @property
    def image_size(self) -> tuple[int, int]:
        return self.sizes[-1]

    def to_dict(self) -> dict:
        return {"sizes": [list(s) for s in self.sizes], "scale_factor": self.scale_factor}

    @classmethod
    def from_dict(cls, d: dict) -> "PyramidSpec":
        return cls(tuple(tuple(int(v) for v in s) for s in d["sizes"]), float(d["scale_factor"]))


def singan_pyramid(
    height: int,
    width: int,
    *,
    min_size: int = 25,
    max_size: int = 250,
    scale_factor: float = 0.75,
) -> PyramidSpec:
    """SinGAN's pyramid for an image of ``height x width`` pixels (official ``adjust_scales2image``).

    The official computation, reproduced exactly::

        num_scales = ceil(log_r(min_size / min(H, W))) + 1
        scale2stop = ceil(log_r(min(max_size, max(H, W)) / max(H, W)))
        N          = num_scales - scale2stop                  # stop scale
        image is resized by min(max_size / max(H, W), 1)      # never upscaled
        r'         = (min_size / min(h, w)) ** (1 / N)        # recomputed on the resized image
        level i    = ceil(h * r' ** (N - i)) x ceil(w * r' ** (N - i)),  i = 0 .. N

    Worked example (methods.md): 750x1000 -> 188x250, indices 0..8, r' ~ 0.777,
    coarsest 25x34.

    Args:
        height, width: size of the input image in pixels.
        min_size: short side of the coarsest level in pixels (paper: 25).
        max_size: long side of the finest level in pixels (paper: 250).
        scale_factor: nominal factor r (official 0.75; the paper wants r "as close as
            possible to 4/3" between levels).

    Returns:
        The :class:`PyramidSpec`, ``N + 1`` levels.

    Raises:
        ValueError: the image (after the max_size resize) has a side shorter than
            ``min_size``, so there is no valid pyramid; the message says which
            option to change.
    """
    if min(height, width) < 1:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    if not 0 < scale_factor < 1:
        raise ValueError(f"scale_factor must be in (0, 1), got {scale_factor}")
    if min(height, width) < min_size:
        raise ValueError(
            f"image is too small: {height}x{width} px, but the coarsest scale needs a short "
            f"side of min_size={min_size} px; use a larger image or lower min_size"
        )
    log_r = math.log(scale_factor)
    num_scales = math.ceil(math.log(min_size / min(height, width)) / log_r) + 1
    scale2stop = math.ceil(math.log(min(max_size, max(height, width)) / max(height, width)) / log_r)
    stop_scale = num_scales - scale2stop
    scale1 = min(max_size / max(height, width), 1.0)
    h, w = _ceil(height * scale1), _ceil(width * scale1)
    if min(h, w) < min_size:
        raise ValueError(
            f"aspect ratio too extreme: resizing {height}x{width} to max_size={max_size} gives "
            f"{h}x{w}, whose short side is below min_size={min_size}; raise max_size or lower min_size"
        )
    if stop_scale < 1:
        # Short side already equals min_size: a single level (pure texture model).
        return PyramidSpec(((h, w),), 1.0)
    factor = (min_size / min(h, w)) ** (1.0 / stop_scale)
    sizes = tuple(
        (_ceil(h * factor ** (stop_scale - i)), _ceil(w * factor ** (stop_scale - i)))
        for i in range(stop_scale)
    ) + ((h, w),)
    return PyramidSpec(sizes, factor)


def build_pyramid(image: torch.Tensor, spec: PyramidSpec) -> list[torch.Tensor]:
    """Downsample ``image`` to every level of ``spec``, coarsest first.

    Each level is resized from the full image (not from the previous level), as
    in the official ``creat_reals_pyramid``; the finest level is the image
    resized to ``spec.image_size``.

    Args:
        image: ``(B, 3, H, W)`` in ``[-1, 1]``.
        spec: the pyramid's sizes.

    Returns:
        ``spec.num_scales`` tensors ``(B, 3, h_i, w_i)``.
    """
    finest = resize(image, spec.image_size)
    return [resize(finest, size) for size in spec.sizes]


def scaled_sizes(
    sizes: tuple[tuple[int, int], ...] | list[tuple[int, int]], scale_h: float = 1.0, scale_v: float = 1.0
) -> list[tuple[int, int]]:
    """Sizes for samples of a different shape: every level's height times ``scale_v``, width times ``scale_h``.

    Levels are rounded to whole pixels and never shrink below 1 px.

    Raises:
        ValueError: a factor that is not a finite positive number.
    """
    if not (math.isfinite(scale_h) and math.isfinite(scale_v) and scale_h > 0 and scale_v > 0):
        raise ValueError(f"scale_h and scale_v must be finite positive numbers, got {scale_h}, {scale_v}")
    out = [(max(1, round(h * scale_v)), max(1, round(w * scale_h))) for h, w in sizes]
    return out


def sinir_pyramid(
    height: int,
    width: int,
    *,
    min_size: int = 25,
    max_size: int | None = 250,
    scale_factor: float = 0.75,
    num_scales: int | None = None,
) -> PyramidSpec:
    """SinIR's pyramid for an image of ``height x width`` pixels (official ``ImageHolder``).

    Unlike SinGAN's, the image is resized so that its long side EQUALS
    ``max_size`` (upscaling small images too), and the factor is recomputed so
    that the levels span exactly from ``max_size`` down to the long side that
    corresponds to a short side of ``min_size``.  The official computation
    (``calc_scale_params``), on the ORIGINAL image size, reproduced exactly::

        long_max  = round(L * max_size / L)  = max_size       # L, S: long / short side
        short_max = round(S * max_size / L)
        long_min  = round(L * min_size / S)
        N         = ceil(log_r(long_min / long_max)) + 1      # r = nominal scale_factor
        r'        = (long_min / long_max) ** (1 / N)
        level k   = round(h * r'^(N-k)) x round(w * r'^(N-k)),  k = 0 .. N   (N + 1 levels)

    Worked example (``nature.jpg``, 860x1280): finest 168x250, ``long_min`` 37,
    N = 8, r' = 0.7876, 9 levels, coarsest 25x37.

    With ``num_scales`` given, the factor is used as is (official ``task: photo``
    with factor 1 and 2 scales, and ``task: sr`` with factor ``1 / sr_factor``).

    Args:
        height, width: size of the input image in pixels.
        min_size: short side of the coarsest level in pixels (paper: 25).
        max_size: long side of the finest level in pixels (paper: 250; 500 for
            artistic style transfer); ``None`` keeps the image's own size
            (super-resolution trains on the low-resolution image as it is).
        scale_factor: nominal ratio between levels, in ``(0, 1]`` (official 0.75;
            1 only with ``num_scales``).
        num_scales: fixed number of levels; ``None`` derives it from the sizes.

    Returns:
        The :class:`PyramidSpec` (``scale_factor`` is the recomputed ``r'``).

    Raises:
        ValueError: non-positive sizes, a factor outside ``(0, 1]`` (or 1 without
            ``num_scales``), or an image whose coarsest level would not be
            smaller than its finest (aspect ratio too extreme for ``min_size``).
    """
    if min(height, width) < 1:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    if not 0 < scale_factor <= 1:
        raise ValueError(f"scale_factor must be in (0, 1], got {scale_factor}")
    if max_size is not None and max_size < 1:
        raise ValueError(f"max_size must be positive or None, got {max_size}")
    long_side, short_side = max(height, width), min(height, width)
    target = long_side if max_size is None else max_size
    long_max, short_max = round(long_side * target / long_side), round(short_side * target / long_side)
    h, w = (long_max, short_max) if height > width else (short_max, long_max)
    if min(h, w) < 1:
        raise ValueError(f"resizing {height}x{width} to a long side of {target} px leaves a side under 1 px")
    if num_scales is not None:
        if num_scales < 1:
            raise ValueError(f"num_scales must be >= 1, got {num_scales}")
        factor = scale_factor
        levels = num_scales - 1
    else:
        if scale_factor == 1:
            raise ValueError("scale_factor 1 needs an explicit num_scales (e.g. the photo-style preset: 2)")
        long_min = round(long_side * min_size / short_side)
        if long_min >= long_max:
            raise ValueError(
                f"no pyramid for {height}x{width}: at max_size={target} the short side is {min(h, w)} px, "
                f"not above min_size={min_size}; raise max_size or lower min_size"
            )
        levels = math.ceil(math.log(long_min / long_max) / math.log(scale_factor)) + 1
        factor = 1 / math.exp(math.log(long_max / long_min) / levels)
    sizes = []
    sf = 1.0
    for _ in range(levels):
        sf *= factor  # accumulated product, as the official loop does (not factor ** k)
        sizes.append((max(1, round(h * sf)), max(1, round(w * sf))))
    sizes = tuple(reversed(sizes)) + ((h, w),)
    return PyramidSpec(sizes, float(factor))


def build_pyramid_chained(image: torch.Tensor, spec: PyramidSpec, *, antialias: bool = False) -> list[torch.Tensor]:
    """Downsample ``image`` to every level of ``spec``, each level from the next finer one (SinIR).

    The official SinIR ``ImageHolder._multiscale`` resizes the image to the
    finest size and then each level from the previous one, with PyTorch's
    bicubic and no antialiasing (``antialias=False``; its super-resolution
    setting uses antialiased MATLAB bicubic: ``antialias=True``).

    Args:
        image: ``(B, 3, H, W)`` in ``[-1, 1]``, any size.
        spec: the pyramid's sizes.
        antialias: low-pass when shrinking (see :func:`~sinkit.core.resize.resize`).

    Returns:
        ``spec.num_scales`` tensors ``(B, 3, h_i, w_i)``, coarsest first.
    """
    levels = [resize(image, spec.image_size, antialias=antialias)]
    for size in reversed(spec.sizes[:-1]):
        levels.append(resize(levels[-1], size, antialias=antialias))
    return levels[::-1]


def sr_steps_for(factor: float) -> tuple[int, float]:
    """Official ``calc_init_scale``: ``k = round(log(factor) / log(2 ** (1/3)))`` passes of ``r = factor ** (1/k)``.

    For factor 4: k = 6, r = 1.26 (SinGAN sec. 4: "r = s ** (1/k) for some k").

    Raises:
        ValueError: factor <= 1.
    """
    if not factor > 1:
        raise ValueError(f"super-resolution factor must be > 1, got {factor}")
    k = max(1, round(math.log(factor) / math.log(2 ** (1 / 3))))
    return k, factor ** (1 / k)


def sr_pyramid(height: int, width: int, factor: float, *, min_size: int = 18, max_size: int = 250) -> PyramidSpec:
    """SinGAN's super-resolution pyramid (official ``adjust_scales2image_SR``): ratio exactly ``1 / r``.

    ``r = factor ** (1/k)`` from :func:`sr_steps_for`; the image is resized by
    ``min(max_size / max(H, W), 1)`` as for generation; ``N = floor(log_{1/r}(min_size / min(h, w)))``
    (official ``int()``) and level ``i = ceil(h * r ** -(N - i))``.

    Deviation: the official code then recomputes the ratio as
    ``(min_size / min(h, w)) ** (1/N)`` for training (0.808 for an 80x120
    image at x4) but upsamples by ``r`` (1.26, ratio 0.794) at test time; here
    training uses ``1/r`` too, so the finest generator learns exactly the
    upsampling step it is applied to.

    Raises:
        ValueError: factor <= 1, or the image is smaller than ``min_size``.
    """
    _, r = sr_steps_for(factor)
    if min(height, width) < min_size:
        raise ValueError(f"image is too small: {height}x{width} px, below min_size={min_size} px")
    scale1 = min(max_size / max(height, width), 1.0)
    h, w = _ceil(height * scale1), _ceil(width * scale1)
    levels = int(math.log(min_size / min(h, w)) / math.log(1 / r) + 1e-9) if min(h, w) > min_size else 0
    sizes = tuple((_ceil(h * r ** -(levels - i)), _ceil(w * r ** -(levels - i))) for i in range(levels)) + ((h, w),)
    return PyramidSpec(sizes, 1 / r)
