"""DeepSIM's augmentation: one random warp per iteration, applied identically to primitive and image.

Paper sec. 3 ("we model the image as a grid and shift each grid point by a uniformly
distributed random distance ... a thin-plate-spline (TPS) smooths the transformation")
and the official ``data/base_dataset.py`` (``get_params`` / ``get_transform``).  Per
iteration, in the official order:

1. Canny-sigma jitter (optional, edges only): the edge map is redrawn from the training
   image with a random sigma;
2. horizontal flip, p = 0.5;
3. with p = ``tps_percent`` (0.99) a TPS warp, otherwise the affine transforms enabled in
   ``affine_aug`` (shear x/y U(-0.3, 0.3), translation x/y U(-0.2, 0.2) of the side,
   rotation U(-1, 1) degrees; each with p = 0.5; the official default enables none);
4. cutmix (optional): two random squares of 32-96 px swap places, p = 0.5;
5. random crop resized back (optional; the paper's no-TPS baseline), p = 0.5.

TPS: a ``tps_points_per_dim`` x ``tps_points_per_dim`` grid spanning the image (corners
included); every grid point moves by ``U(-0.1, 0.1)`` of the side and the four image
corners stay fixed (the official ``_thin_plate_spline_warp(keep_corners=True)`` moves them
and adds fixed copies, which its pinv solver averages; kornia's needs distinct points).  The solver is kornia's (``get_tps_transform`` / ``warp_points_tps``).

Deviations from the official code, all deliberate:

* x and y are handled separately: x moves by a fraction of the width, y of the height,
  and the sampling grid has the image's own shape.  The official code displaces both by
  ``0.1 * width`` and builds its sampling grid with the row and column ranges swapped
  (``width, height = image.shape[:2]``), which warps non-square images wrongly;
* everything is resampled once per transform with ``grid_sample`` (reflection padding like
  the official ``map_coordinates(mode='reflect')``; the official affine/crop fill black);
* primitives keep their nature: colour maps (segmentations, the white background of edge
  maps) are sampled with nearest neighbour so that no colour appears that the user cannot
  draw; edge maps are sampled bilinearly and binarised at coverage 0.4 (the official
  ``__binary_thresh`` makes every touched pixel an edge, thickening 1 px lines to 2-3 px
  in training only), so edges neither break up nor thicken;
  ``manual`` primitives are sampled bilinearly.

All randomness comes from the ``torch.Generator`` passed in, so a resumed run draws the
same warps as an uninterrupted one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from kornia.geometry.transform import get_tps_transform, warp_points_tps

try:
    from kornia.geometry import create_meshgrid
except ImportError:  # kornia < 0.8.3
    from kornia.utils import create_meshgrid

from .config import DeepSIMConfig

__all__ = [
    "AugmentParams",
    "sample_params",
    "apply_params",
    "augment_pair",
    "tps_control_points",
    "tps_grid",
    "affine_grid",
    "warp",
]

#: official ranges (``options/base_options.py``: ``affine_transforms``); rotation is in units of 10 degrees
AFFINE_RANGES = {
    "shearx": (-0.3, 0.3),
    "sheary": (-0.3, 0.3),
    "translationx": (-0.2, 0.2),
    "translationy": (-0.2, 0.2),
    "rotation": (-0.1, 0.1),
}
#: bilinear edge coverage from which a warped pixel is an edge.  The official ``__binary_thresh``
#: keeps every touched pixel ("not white -> black", i.e. 0.5 / 255), which turns 1 px Canny lines
#: into 2-3 px lines in training while test primitives keep 1 px lines; 0.4 keeps a shifted line
#: 1-2 px wide and still without gaps (one of two neighbours always has coverage >= 0.5).
EDGE_THRESHOLD = 0.4


def _uniform(generator: torch.Generator | None, low: float, high: float, size=()) -> torch.Tensor:
    return torch.rand(size, generator=generator, dtype=torch.float64) * (high - low) + low


def _coin(generator: torch.Generator | None, p: float = 0.5) -> bool:
    return bool(torch.rand((), generator=generator, dtype=torch.float64) < p)


def _randint(generator: torch.Generator | None, low: int, high: int) -> int:
    """Uniform integer in ``[low, high]`` (inclusive, like ``random.randint``)."""
    return int(torch.randint(low, high + 1, (), generator=generator))


# ----------------------------------------------------------------------------- TPS
def tps_control_points(displacement: torch.Tensor, points_per_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Control points of the TPS warp in ``grid_sample``'s normalised frame (image borders at -1, 1).

    A ``P x P`` grid spans the image, corners included; every grid point but the four
    corners moves by its displacement, the corners stay fixed.

    Args:
        displacement: ``(P*P, 2)`` displacements ``(dx, dy)`` in units of the side
            (``dx = 0.1`` moves a point by a tenth of the width; ``dy`` is relative to the
            height); the entries of the corner points are ignored.
        points_per_dim: ``P``.

    Returns:
        ``(out_points, in_points)``, each ``(1, P*P, 2)`` in ``(x, y)`` order: the output pixel
        at ``out_points[i]`` shows the input at ``in_points[i]``.
    """
    p = points_per_dim
    if displacement.shape != (p * p, 2):
        raise ValueError(f"expected a ({p * p}, 2) displacement, got {tuple(displacement.shape)}")
    ticks = torch.linspace(-1.0, 1.0, p, dtype=torch.float64)
    ys, xs = torch.meshgrid(ticks, ticks, indexing="ij")
    grid = torch.stack([xs.flatten(), ys.flatten()], dim=1)
    moved = grid + 2.0 * displacement.to(torch.float64)  # a side spans 2 normalised units
    # The official code moves the grid corners too and then appends the unmoved corners
    # (keep_corners=True): two constraints on each corner that its pinv solver averages.
    # kornia's solver needs distinct points, so the corners are simply kept fixed.
    corner = (grid.abs() == 1.0).all(dim=1)
    moved[corner] = grid[corner]
    return moved[None], grid[None]


def tps_grid(displacement: torch.Tensor, points_per_dim: int, height: int, width: int) -> torch.Tensor:
    """``grid_sample`` grid ``(1, H, W, 2)`` of the TPS warp (see :func:`tps_control_points`).

    Equivalent to kornia's ``warp_image_tps`` with ``align_corners=False`` (a test checks it);
    computing the grid once lets the primitive and the image share it with different
    interpolation modes.
    """
    out_points, in_points = tps_control_points(displacement, points_per_dim)
    # The spline maps output points to input points and its kernels sit on its first argument
    # (kornia >= 0.9.2; up to 0.9.1 on the second, kornia#6404: passing those gives a wrong warp of
    # the right shape).  kornia 0.9.2 still repeats that in a FutureWarning on every fit.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        kernel_weights, affine_weights = get_tps_transform(out_points, in_points)
    coords = create_meshgrid(height, width, normalized_coordinates=True, align_corners=False, dtype=torch.float64)
    grid = warp_points_tps(coords.reshape(1, -1, 2), out_points, kernel_weights, affine_weights)
    return grid.view(1, height, width, 2).float()


# ----------------------------------------------------------------------------- affine / crop
def affine_grid(matrix: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``grid_sample`` grid for a pixel-space affine map ``output (x, y, 1) -> input (x, y)``.

    Args:
        matrix: ``(2, 3)`` or ``(3, 3)`` matrix acting on pixel-centre coordinates ``(x, y, 1)``
            with the origin at the top-left pixel (PIL's ``Image.transform(AFFINE)`` convention).
    """
    m = matrix.to(torch.float64)[:2]
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64), indexing="ij"
    )
    src_x = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    src_y = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    grid = torch.stack([(2 * src_x + 1) / width - 1, (2 * src_y + 1) / height - 1], dim=-1)
    return grid[None].float()


def _affine_matrix(name: str, value: float, height: int, width: int) -> torch.Tensor:
    """Official ``__apply_<name>`` as a 3x3 output->input pixel map."""
    m = torch.eye(3, dtype=torch.float64)
    if name == "shearx":
        m[0, 1] = value
    elif name == "sheary":
        m[1, 0] = value
    elif name == "translationx":
        m[0, 2] = value * width
    elif name == "translationy":
        m[1, 2] = value * height
    elif name == "rotation":  # PIL rotate(value * 10 degrees) about the centre
        angle = torch.deg2rad(torch.tensor(value * 10.0, dtype=torch.float64))
        c, s = torch.cos(angle), torch.sin(angle)
        cx, cy = (width - 1) / 2, (height - 1) / 2
        rot = torch.tensor([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
        to_c = torch.tensor([[1.0, 0, cx], [0, 1.0, cy], [0, 0, 1.0]], dtype=torch.float64)
        from_c = torch.tensor([[1.0, 0, -cx], [0, 1.0, -cy], [0, 0, 1.0]], dtype=torch.float64)
        m = to_c @ rot @ from_c
    else:
        raise ValueError(f"unknown affine transform {name!r}")
    return m


# ----------------------------------------------------------------------------- sampling
def warp(x: torch.Tensor, grid: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Resample ``(B, C, H, W)`` ``x`` at ``grid`` (reflection padding, ``align_corners=False``)."""
    grid = grid.to(device=x.device, dtype=x.dtype).expand(x.shape[0], -1, -1, -1)
    return F.grid_sample(x, grid, mode=mode, padding_mode="reflection", align_corners=False)


@dataclass(frozen=True)
class AugmentParams:
    """The random draws of one iteration (official ``get_params``)."""

    flip: bool = False
    tps_displacement: torch.Tensor | None = None
    """``(P*P, 2)`` displacements in units of the side, or None (no TPS this iteration)"""
    affine: torch.Tensor | None = None
    """``(3, 3)`` output->input pixel map, or None"""
    cutmix: tuple[int, int, int, int, int] | None = None
    """``(size, y1, x1, y2, x2)``: squares swapped, or None"""
    crop: tuple[int, int, int, int] | None = None
    """``(top, left, height, width)`` of the window resized back to the full size, or None"""
    canny_index: int | None = None
    """which of the precomputed jittered edge maps replaces the edges, or None"""


def sample_params(config: DeepSIMConfig, height: int, width: int, generator: torch.Generator | None = None) -> AugmentParams:
    """Draw one iteration's augmentation (see the module docstring for the distributions)."""
    flip = config.flip and _coin(generator)
    affine = None
    values = {}
    for name in config.affine_aug:  # drawn every iteration as in the official get_params
        if _coin(generator):
            values[name] = float(_uniform(generator, *AFFINE_RANGES[name]))
    apply_tps = config.tps and _coin(generator, config.tps_percent)
    displacement = None
    if apply_tps:
        n = config.tps_points_per_dim**2
        displacement = _uniform(generator, -config.tps_scale, config.tps_scale, (n, 2))
    elif values:  # official: affine only when TPS is not drawn
        affine = torch.eye(3, dtype=torch.float64)
        for name in ("shearx", "sheary", "translationx", "translationy", "rotation"):
            if name in values:
                affine = affine @ _affine_matrix(name, values[name], height, width)
    cutmix = None
    if config.cutmix:
        size = min(_randint(generator, config.cutmix_min, config.cutmix_max), height, width)
        y1, x1 = _randint(generator, 0, height - size), _randint(generator, 0, width - size)
        y2, x2 = _randint(generator, 0, height - size), _randint(generator, 0, width - size)
        if _coin(generator):
            cutmix = (size, y1, x1, y2, x2)
    crop = None
    if config.crop:
        ch, cw = max(1, round(height * config.crop_fraction)), max(1, round(width * config.crop_fraction))
        top, left = _randint(generator, 0, height - ch), _randint(generator, 0, width - cw)
        if _coin(generator) and (ch, cw) != (height, width):
            crop = (top, left, ch, cw)
    canny_index = None
    if config.canny_aug:
        canny_index = _randint(generator, 0, len(config.canny_sigmas) - 1)
    return AugmentParams(flip, displacement, affine, cutmix, crop, canny_index)


def _geometric(x: torch.Tensor, params: AugmentParams, points_per_dim: int, mode: str) -> torch.Tensor:
    h, w = x.shape[-2:]
    if params.flip:
        x = torch.flip(x, dims=[-1])
    if params.affine is not None:
        x = warp(x, affine_grid(params.affine, h, w), mode)
    if params.tps_displacement is not None:
        x = warp(x, tps_grid(params.tps_displacement, points_per_dim, h, w), mode)
    if params.cutmix is not None:
        s, y1, x1, y2, x2 = params.cutmix
        a, b = x[..., y1 : y1 + s, x1 : x1 + s].clone(), x[..., y2 : y2 + s, x2 : x2 + s].clone()
        x = x.clone()
        x[..., y1 : y1 + s, x1 : x1 + s] = b
        x[..., y2 : y2 + s, x2 : x2 + s] = a
    if params.crop is not None:
        top, left, ch, cw = params.crop
        # pixel-centre map of "crop [top:top+ch, left:left+cw] and resize to (h, w)"
        scale = torch.tensor(
            [[cw / w, 0.0, left + 0.5 * cw / w - 0.5], [0.0, ch / h, top + 0.5 * ch / h - 0.5], [0.0, 0.0, 1.0]],
            dtype=torch.float64,
        )
        x = warp(x, affine_grid(scale, h, w), mode)
    return x


def apply_params(
    params: AugmentParams,
    image: torch.Tensor,
    colors: torch.Tensor,
    edges: torch.Tensor | None = None,
    *,
    points_per_dim: int = 3,
    colors_mode: str = "nearest",
    edge_bank: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Apply one iteration's draws to the image and the primitive's parts.

    Args:
        params: from :func:`sample_params`.
        image: ``(B, 3, H, W)`` in ``[-1, 1]``, resampled bilinearly.
        colors: ``(B, 3, H, W)`` colour part of the primitive (segmentation, edge background,
            manual drawing), resampled with ``colors_mode``.
        edges: ``(B, 1, H, W)`` edge mask in ``{0, 1}`` or None; resampled bilinearly and
            binarised (any touched pixel is an edge).
        points_per_dim: TPS grid size.
        colors_mode: ``"nearest"`` (segmentations, edge backgrounds) or ``"bilinear"`` (manual).
        edge_bank: ``(S, 1, H, W)`` jittered edge maps; ``params.canny_index`` picks one that
            replaces ``edges`` before the geometric transforms.

    Returns:
        ``(image, colors, edges)`` warped identically.
    """
    if image.shape[-2:] != colors.shape[-2:] or (edges is not None and edges.shape[-2:] != image.shape[-2:]):
        raise ValueError("image and primitive must have the same size")
    if params.canny_index is not None and edge_bank is not None:
        edges = edge_bank[params.canny_index : params.canny_index + 1].expand(image.shape[0], -1, -1, -1)
    image = _geometric(image, params, points_per_dim, "bilinear")
    colors = _geometric(colors, params, points_per_dim, colors_mode)
    if edges is not None:
        edges = (_geometric(edges, params, points_per_dim, "bilinear") > EDGE_THRESHOLD).to(image.dtype)
    return image, colors, edges


def augment_pair(
    config: DeepSIMConfig,
    image: torch.Tensor,
    colors: torch.Tensor,
    edges: torch.Tensor | None = None,
    *,
    generator: torch.Generator | None = None,
    colors_mode: str = "nearest",
    edge_bank: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Draw one augmentation with ``generator`` and apply it to image and primitive (see :func:`apply_params`)."""
    params = sample_params(config, image.shape[-2], image.shape[-1], generator)
    return apply_params(
        params, image, colors, edges, points_per_dim=config.tps_points_per_dim, colors_mode=colors_mode,
        edge_bank=edge_bank,
    )
