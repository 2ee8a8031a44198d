"""Patches of an image as rows, and back: extraction, folding with overlap averaging, gathering.

Conventions (shared by the metrics, GPNN, GPDM and the patch-diffusion sampler):

* a patch of a ``(C, H, W)`` image is the flattened ``(C, p, p)`` block, in the order
  :func:`torch.nn.functional.unfold` produces (channel, row, column), so a row has
  ``D = C * p * p`` entries;
* patch positions are numbered row-major over the ``(H - p + 1) x (W - p + 1)`` grid of
  top-left corners (stride 1), as ``unfold`` numbers them.

:func:`fold_patches` is the inverse of :func:`extract_patches` when every pixel is averaged
over the patches covering it; :func:`fold_nearest` does the same for patches *copied* from a
source image (a nearest-neighbour field) without ever materialising the ``(L, D)`` patch
matrix, which keeps a 1024 px image's memory bounded.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "check_patch_fits",
    "patch_grid",
    "extract_patches",
    "fold_patches",
    "gather_patches",
    "fold_nearest",
    "gaussian_patch_weights",
]


def check_patch_fits(size: tuple[int, int] | torch.Size, patch_size: int, what: str = "image") -> None:
    """Raise a one-line ``ValueError`` unless an image of ``size = (H, W)`` holds one ``patch_size`` patch.

    Raises:
        ValueError: non-positive patch size, or a side shorter than the patch.
    """
    if patch_size < 1:
        raise ValueError(f"patch size must be >= 1, got {patch_size}")
    h, w = int(size[-2]), int(size[-1])
    if min(h, w) < patch_size:
        raise ValueError(f"{what} {h}x{w} is smaller than a {patch_size}x{patch_size} patch")


def patch_grid(size: tuple[int, int] | torch.Size, patch_size: int, stride: int = 1) -> tuple[int, int]:
    """Number of patch positions ``(rows, columns)`` of an ``(H, W)`` image (top-left corners)."""
    check_patch_fits(size, patch_size)
    h, w = int(size[-2]), int(size[-1])
    return (h - patch_size) // stride + 1, (w - patch_size) // stride + 1


def extract_patches(x: torch.Tensor, size: int = 7, stride: int = 1) -> torch.Tensor:
    """All ``size x size`` patches of ``x`` as rows.

    Args:
        x: ``(B, C, H, W)``.
        size: patch side, px.
        stride: distance between patch positions, px.

    Returns:
        ``(B, L, C * size * size)`` with L the number of patch positions (row-major).

    Raises:
        ValueError: the image is smaller than one patch.

    Example:
        >>> extract_patches(torch.zeros(2, 3, 10, 12), 7).shape
        torch.Size([2, 24, 147])
    """
    check_patch_fits(x.shape, size)
    return F.unfold(x, kernel_size=size, stride=stride).transpose(1, 2)


def fold_patches(
    patches: torch.Tensor,
    output_size: tuple[int, int],
    size: int = 7,
    stride: int = 1,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Put patch rows back into an image, averaging where patches overlap.

    Every output pixel is the (weighted) mean of the values all patches covering
    it assign to it (GPNN's "combine_patches", the closed-form sampler's
    aggregation); with ``weights`` a per-pixel window (e.g. a Gaussian centred on
    the patch, see :func:`gaussian_patch_weights`) it is the weighted mean.

    Args:
        patches: ``(B, L, C * size * size)`` as from :func:`extract_patches`.
        output_size: ``(H, W)`` of the image the patches were taken from.
        size, stride: as for :func:`extract_patches`.
        weights: optional ``(size * size,)`` or ``(C * size * size,)`` non-negative window.

    Returns:
        ``(B, C, H, W)``.  Pixels no patch covers (only with stride > 1) are 0.

    Raises:
        ValueError: the number of patches does not match ``output_size``.
    """
    if patches.dim() != 3:
        raise ValueError(f"expected (B, L, D) patches, got shape {tuple(patches.shape)}")
    rows, cols = patch_grid(output_size, size, stride)
    if patches.shape[1] != rows * cols:
        raise ValueError(
            f"{patches.shape[1]} patches do not tile a {output_size[0]}x{output_size[1]} image "
            f"({rows * cols} positions of a {size}x{size} patch at stride {stride})"
        )
    channels = patches.shape[2] // (size * size)
    window = torch.ones(size * size, dtype=patches.dtype, device=patches.device) if weights is None else weights.to(patches)
    if window.numel() == size * size:
        window = window.reshape(1, -1).expand(channels, -1).reshape(-1)
    cols_in = (patches * window).transpose(1, 2)
    summed = F.fold(cols_in, output_size, kernel_size=size, stride=stride)
    norm = F.fold(
        window[: size * size].reshape(1, -1, 1).expand(1, -1, rows * cols).contiguous(),
        output_size,
        kernel_size=size,
        stride=stride,
    )
    return summed / norm.clamp_min(torch.finfo(norm.dtype).tiny)


def _offsets(patch_size: int, width: int, device: torch.device) -> torch.Tensor:
    """Flat pixel offsets ``dy * width + dx`` of a patch, row-major ``(p * p,)``."""
    r = torch.arange(patch_size, device=device)
    return (r[:, None] * width + r[None, :]).reshape(-1)


def gather_patches(image: torch.Tensor, index: torch.Tensor, patch_size: int) -> torch.Tensor:
    """The patches of ``image`` at the given positions, as rows (no full patch matrix is built).

    Args:
        image: ``(C, H, W)`` (or ``(1, C, H, W)``).
        index: integer tensor of patch positions (any shape ``S``), row-major over
            the stride-1 grid of ``image`` (as :func:`extract_patches` numbers them).
        patch_size: patch side, px.

    Returns:
        ``(*S, C * patch_size ** 2)`` in :func:`extract_patches` order.
    """
    if image.dim() == 4:
        image = image[0]
    c, h, w = image.shape
    _, cols = patch_grid((h, w), patch_size)
    flat_index = index.reshape(-1)
    base = (flat_index // cols) * w + flat_index % cols  # top-left pixel, flat
    pix = base[:, None] + _offsets(patch_size, w, image.device)[None, :]  # (M, p*p)
    out = image.reshape(c, h * w)[:, pix.reshape(-1)].reshape(c, -1, patch_size * patch_size)
    return out.permute(1, 0, 2).reshape(*index.shape, c * patch_size * patch_size)


def fold_nearest(
    source: torch.Tensor,
    index: torch.Tensor,
    output_size: tuple[int, int],
    patch_size: int = 7,
) -> torch.Tensor:
    """Fold patches copied from ``source``: equals ``fold_patches(gather_patches(source, index))``.

    The nearest-neighbour field ``index`` gives, for each stride-1 patch position
    of the output, the position of the source patch copied there; overlapping
    copies are averaged.  Computed as ``p * p`` shifted gathers of ``(C, h, w)``
    pixels, so memory is ``O(C * H * W)`` instead of ``O(L * C * p * p)``.

    Args:
        source: ``(C, Hs, Ws)`` or ``(1, C, Hs, Ws)`` image the patches come from.
        index: ``(B, L)`` integer positions over ``source``'s patch grid, L the
            number of patch positions of ``output_size``.
        output_size: ``(H, W)`` of the output.
        patch_size: patch side, px.

    Returns:
        ``(B, C, H, W)``.
    """
    if source.dim() == 4:
        source = source[0]
    c, hs, ws = source.shape
    _, src_cols = patch_grid((hs, ws), patch_size)
    rows, cols = patch_grid(output_size, patch_size)
    if index.dim() != 2 or index.shape[1] != rows * cols:
        raise ValueError(f"index must be (B, {rows * cols}) for a {output_size[0]}x{output_size[1]} output, got {tuple(index.shape)}")
    flat_src = source.reshape(c, hs * ws)
    base = ((index // src_cols) * ws + index % src_cols).reshape(-1)  # (B * L,)
    batch = index.shape[0]
    out = torch.zeros(batch, c, *output_size, dtype=source.dtype, device=source.device)
    for dy in range(patch_size):
        for dx in range(patch_size):
            vals = flat_src[:, base + (dy * ws + dx)].reshape(c, batch, rows, cols).transpose(0, 1)
            out[:, :, dy : dy + rows, dx : dx + cols] += vals
    # patches covering each pixel: separable, (rows covering y) x (columns covering x)
    cy = torch.zeros(output_size[0], dtype=source.dtype, device=source.device)
    cx = torch.zeros(output_size[1], dtype=source.dtype, device=source.device)
    for d in range(patch_size):
        cy[d : d + rows] += 1
        cx[d : d + cols] += 1
    return out / (cy[:, None] * cx[None, :])


def gaussian_patch_weights(patch_size: int, rho: float) -> torch.Tensor:
    """Separable Gaussian window over a patch, ``(patch_size ** 2,)``, peak 1 at the centre.

    Coordinates run over ``[-1, 1]`` across the patch; ``rho`` is the Gaussian's
    std in those units (the closed-form sampler's ``fold_rho``, 0.2: overlapping
    estimates blend mostly by their centres; large rho = uniform averaging).
    """
    if rho <= 0:
        raise ValueError(f"rho must be positive, got {rho}")
    g = torch.linspace(-1, 1, patch_size, dtype=torch.float64)
    g = torch.exp(-0.5 * (g / rho) ** 2)
    return (g[:, None] * g[None, :]).reshape(-1).float()
