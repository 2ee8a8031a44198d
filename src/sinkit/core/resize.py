"""The one resampling function of the library.

Every pyramid level, every upsampling between scales and every injected image
goes through :func:`resize`, so swapping the resampler is a one-line change.

Differences from the official SinGAN port (``imresize.py``, a numpy copy of
MATLAB's ``imresize``):

* kernel: PyTorch's bicubic uses the cubic-convolution coefficient
  ``a = -0.75``; MATLAB uses ``a = -0.5``.  Both widen the kernel by
  ``1 / scale`` when downscaling (antialiasing), so they blur the same amount;
  the different ``a`` changes edge overshoot by a fraction of a grey level.
* no round trip: the official code moves each tensor to the CPU, through
  numpy and ``uint8`` (quantising to 256 levels) and back; here the tensor
  stays on its device and in float.  Values are clamped to ``[-1, 1]`` as the
  ``uint8`` round trip implicitly did.
* output size: the official code computes ``ceil(scale * size)`` and then
  crops; callers here pass the exact target size (see :mod:`sinkit.core.pyramid`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["resize", "resize_matrix"]


def resize(
    image: torch.Tensor,
    size: tuple[int, int] | None = None,
    *,
    scale: float | None = None,
    antialias: bool = True,
    clamp: bool = True,
) -> torch.Tensor:
    """Bicubic resize of a batch of images, antialiased when shrinking.

    Args:
        image: ``(B, C, H, W)`` float tensor (usually in ``[-1, 1]``).
        size: target ``(height, width)`` in pixels.  Exactly one of ``size``
            and ``scale`` must be given.
        scale: factor applied to both sides; output side = ``ceil(scale * side)``
            as in MATLAB's ``imresize``.
        antialias: low-pass filter when downscaling (default True).  SinIR's
            official code resizes without it; pass False to match.
        clamp: clip the output to ``[-1, 1]`` (bicubic overshoots at edges).

    Returns:
        ``(B, C, height, width)`` tensor with the input's dtype and device.

    Raises:
        ValueError: bad shape or both / neither of ``size`` and ``scale``.

    Example:
        >>> x = torch.zeros(1, 3, 100, 80)
        >>> resize(x, (50, 40)).shape
        torch.Size([1, 3, 50, 40])
    """
    if image.dim() != 4:
        raise ValueError(f"expected a (B, C, H, W) tensor, got shape {tuple(image.shape)}")
    if (size is None) == (scale is None):
        raise ValueError("give exactly one of size and scale")
    if size is None:
        h, w = image.shape[-2:]
        size = (_ceil(h * scale), _ceil(w * scale))
    size = (int(size[0]), int(size[1]))
    if size[0] < 1 or size[1] < 1:
        raise ValueError(f"target size must be positive, got {size}")
    if tuple(image.shape[-2:]) == size:
        return image
    dtype = image.dtype
    # Interpolate in float32: bf16/half bicubic is not supported on every device.
    out = F.interpolate(
        image.float(), size=size, mode="bicubic", align_corners=False, antialias=antialias
    )
    if clamp:
        out = out.clamp(-1.0, 1.0)
    return out.to(dtype)


def resize_matrix(n_in: int, n_out: int, *, antialias: bool = True) -> torch.Tensor:
    """The ``(n_out, n_in)`` matrix of :func:`resize` along one axis.

    :func:`resize` is linear and separable before its clamp, so for a ``(B, C, H, W)`` image
    ``resize(x, (h, w), clamp=False) == resize_matrix(H, h) @ x @ resize_matrix(W, w).T`` up
    to float rounding.  Rows ``a:b`` of the output therefore need only the input rows where
    ``resize_matrix(H, h)[a:b]`` is nonzero: this is how a part of an upsampled image is
    computed from a part of the smaller one (SinGAN's windowed coarser-scale draw).

    The matrix is read off :func:`torch.nn.functional.interpolate` itself (resizing a stack
    of one-hot rows), so it is :func:`resize`'s kernel, edge handling and antialiasing.

    Args:
        n_in: input length along the axis, px (>= 1).
        n_out: output length, px (>= 1).
        antialias: as in :func:`resize`.

    Returns:
        float32 ``(n_out, n_in)``; the identity when ``n_in == n_out`` (:func:`resize` returns
        such an image unchanged).

    Raises:
        ValueError: a length below 1.
    """
    if n_in < 1 or n_out < 1:
        raise ValueError(f"lengths must be positive, got {n_in} -> {n_out}")
    if n_in == n_out:
        return torch.eye(n_in)
    # channel j: ones along row j; 3 columns, not 1: a width-1 input comes back as zeros (torch 2.13)
    one_hot = torch.eye(n_in).reshape(1, n_in, n_in, 1).expand(-1, -1, -1, 3).contiguous()
    out = F.interpolate(one_hot, size=(n_out, 3), mode="bicubic", align_corners=False, antialias=antialias)
    return out[0, :, :, 1].T.contiguous()


def _ceil(x: float) -> int:
    """``ceil`` that ignores float noise (``25.000000000004`` -> 25), as sizes are exact in intent."""
    import math

    return max(1, math.ceil(x - 1e-6))
