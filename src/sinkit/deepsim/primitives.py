"""DeepSIM primitives: the editable representation the model translates into an image.

Paper sec. 3 and official ``data/aligned_dataset.py`` / ``base_dataset.py``:

- ``edges``: Canny edges of the image (scikit-image ``feature.canny`` on the grey image, as
  the official code), black on white by default (``canny_color = 1``: white on black);
- ``seg``: a segmentation map given by the user; without one, an unsupervised one (SLIC or
  Felzenszwalb superpixels from scikit-image), each segment painted with a distinct colour;
- ``seg_edges``: the "super primitive": edges drawn over the segmentation;
- ``manual``: any image (a painting, a sketch), used as is.

Every primitive is an RGB image ``(1, 3, H, W)`` in ``[-1, 1]`` like every image in sinkit.
For augmentation a primitive is split into its colour part (``colors``: segmentation or
plain background) and its edge mask (``edges``, ``(1, 1, H, W)`` in ``{0, 1}``), see
:func:`split_primitive`; :func:`compose_primitive` puts them back together.
"""

from __future__ import annotations

import colorsys

import numpy as np
import torch
import torch.nn.functional as F

from ..core.errors import SinkitError
from ..core.resize import resize

__all__ = [
    "PrimitiveError",
    "canny_edges",
    "edges_primitive",
    "binarize_edges",
    "skeletonize_edges",
    "unsupervised_segmentation",
    "seg_edges_primitive",
    "make_primitive",
    "split_primitive",
    "compose_primitive",
    "resize_primitive",
    "palette",
    "seg_palette",
    "unknown_colors",
    "check_seg_colors",
    "check_not_blank",
    "edge_value",
]

#: a pixel within this many 8-bit grey levels (every channel) of the edge colour is an edge
EDGE_TOLERANCE = 4
#: a test colour within this many 8-bit levels (every channel) of a training colour is known;
#: hand-painted maps (the official ``car`` example) carry +-2 level noise around each label
COLOR_TOLERANCE = 16


class PrimitiveError(SinkitError, ValueError):
    """A primitive that cannot be used: blank, wrong kind, colours never seen in training."""


def _check(x: torch.Tensor, name: str = "image") -> None:
    if not torch.is_tensor(x) or x.dim() != 4 or x.shape[1] != 3:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"expected {name} as a (B, 3, H, W) tensor, got {shape}")


def edge_value(canny_color: int) -> float:
    """Edge intensity in ``[-1, 1]``: -1 (black, official default ``canny_color = 0``) or 1 (white)."""
    return 1.0 if canny_color else -1.0


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """``(1, 3, H, W)`` in [-1, 1] -> ``(H, W, 3)`` uint8."""
    return ((x[0].detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()


def _from_uint8(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].float() / 127.5 - 1
    return t.to(device=like.device)


def canny_edges(image: torch.Tensor, sigma: float = 2.0) -> torch.Tensor:
    """Canny edge mask of the grey image (scikit-image ``feature.canny``, default thresholds).

    Official: ``feature.canny(rgb2gray(B), sigma)`` with sigma 2 (``--test_canny_sigma``),
    0.5 for the training edges of ``seg_edges`` and in the face-video scripts.

    Args:
        image: ``(1, 3, H, W)`` in ``[-1, 1]``.
        sigma: Gaussian smoothing of the detector, px.

    Returns:
        ``(1, 1, H, W)`` float mask in ``{0, 1}``.
    """
    from skimage.color import rgb2gray
    from skimage.feature import canny

    _check(image)
    if sigma <= 0:
        raise ValueError(f"Canny sigma must be positive, got {sigma}")
    gray = rgb2gray(_to_uint8(image[:1]).astype(np.float64) / 255.0)
    mask = canny(gray, sigma=sigma)
    return torch.from_numpy(mask)[None, None].float().to(image.device)


def compose_primitive(colors: torch.Tensor, edges: torch.Tensor | None, canny_color: int = 0) -> torch.Tensor:
    """Draw the edge mask over the colour part: ``where(edges, edge colour, colors)``."""
    if edges is None:
        return colors
    return torch.where(edges > 0.5, torch.full_like(colors, edge_value(canny_color)), colors)


def edges_primitive(edges: torch.Tensor, canny_color: int = 0) -> torch.Tensor:
    """Edge mask ``(1, 1, H, W)`` -> RGB edge primitive (black on white, or white on black)."""
    background = torch.full((edges.shape[0], 3, *edges.shape[-2:]), -edge_value(canny_color), device=edges.device)
    return compose_primitive(background, edges, canny_color)


def _edge_pixels(primitive: torch.Tensor, canny_color: int) -> torch.Tensor:
    """Mask of pixels that have the edge colour (every channel within :data:`EDGE_TOLERANCE`)."""
    tol = 2 * EDGE_TOLERANCE / 255
    return ((primitive - edge_value(canny_color)).abs() <= tol).all(dim=1, keepdim=True).float()


def binarize_edges(primitive: torch.Tensor, canny_color: int = 0) -> torch.Tensor:
    """An edge drawing (any grey levels) -> edge mask ``(B, 1, H, W)``: darker (lighter for white edges) than mid-grey."""
    _check(primitive, "primitive")
    gray = primitive.mean(dim=1, keepdim=True)
    return (gray > 0).float() if canny_color else (gray < 0).float()


def skeletonize_edges(primitive: torch.Tensor, canny_color: int = 0) -> torch.Tensor:
    """Thin hand-drawn strokes to 1 px lines (scikit-image ``morphology.skeletonize``).

    The official README suggests it for hand-drawn edges, which are much thicker than
    Canny's.  Returns the RGB edge primitive.
    """
    from skimage.morphology import skeletonize

    mask = binarize_edges(primitive, canny_color)
    out = [torch.from_numpy(skeletonize(m[0].cpu().numpy() > 0.5)).float()[None] for m in mask]
    return edges_primitive(torch.stack(out).to(primitive.device), canny_color)


def _distinct_colors(n: int) -> np.ndarray:
    """``n`` well separated colours (golden-ratio hues, alternating brightness), none black or white."""
    cols = []
    for i in range(n):
        h = (i * 0.61803398875) % 1.0
        v = 0.95 if i % 2 == 0 else 0.7
        s = 0.75 if (i // 2) % 2 == 0 else 0.5
        cols.append(colorsys.hsv_to_rgb(h, s, v))
    return (np.array(cols) * 255).round().astype(np.uint8)


def unsupervised_segmentation(
    image: torch.Tensor, method: str = "slic", *, segments: int = 24, compactness: float = 10.0, scale: float = 200.0
) -> torch.Tensor:
    """A segmentation primitive made without labels (scikit-image superpixels).

    Args:
        image: ``(1, 3, H, W)`` in ``[-1, 1]``.
        method: ``"slic"`` (``segmentation.slic``, ``segments`` regions, ``compactness``) or
            ``"felzenszwalb"`` (``segmentation.felzenszwalb``, ``scale``; ``min_size`` = 1/500 of
            the pixels).
        segments: approximate number of SLIC regions.

    Returns:
        ``(1, 3, H, W)`` map, one distinct colour per region (regions ordered by their first
        pixel, so the colours are deterministic).
    """
    from skimage.segmentation import felzenszwalb, slic

    _check(image)
    rgb = _to_uint8(image[:1])
    if method == "slic":
        labels = slic(rgb, n_segments=segments, compactness=compactness, start_label=0)
    elif method == "felzenszwalb":
        labels = felzenszwalb(rgb, scale=scale, sigma=0.8, min_size=max(16, rgb.shape[0] * rgb.shape[1] // 500))
    else:
        raise ValueError(f"unknown segmentation method {method!r}; choose slic or felzenszwalb")
    _, first, inverse = np.unique(labels.ravel(), return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))  # label -> rank of its first pixel
    colors = _distinct_colors(len(first))[order[inverse]].reshape(*labels.shape, 3)
    return _from_uint8(colors, image)


def seg_edges_primitive(seg: torch.Tensor, image: torch.Tensor, *, sigma: float = 0.5, canny_color: int = 0) -> torch.Tensor:
    """The paper's "super primitive": Canny edges of ``image`` drawn over ``seg`` (official ``seg_edges``)."""
    _check(seg, "seg")
    _check(image)
    if seg.shape[-2:] != image.shape[-2:]:
        raise PrimitiveError(f"segmentation {tuple(seg.shape[-2:])} and image {tuple(image.shape[-2:])} differ in size")
    return compose_primitive(seg, canny_edges(image, sigma), canny_color)


def make_primitive(
    image: torch.Tensor,
    kind: str,
    *,
    seg: torch.Tensor | None = None,
    sigma: float | None = None,
    canny_color: int = 0,
    seg_method: str = "slic",
    segments: int = 24,
) -> torch.Tensor:
    """The primitive of ``kind`` for ``image`` (what ``sinkit primitive`` writes).

    Args:
        image: ``(1, 3, H, W)`` in ``[-1, 1]``.
        kind: ``edges`` | ``seg`` | ``seg_edges`` (``manual`` primitives are drawn by the user).
        seg: a segmentation map for ``seg`` / ``seg_edges``; unsupervised (``seg_method``) when None.
        sigma: Canny sigma (default 2 for ``edges``, the official test value; 0.5 for
            ``seg_edges``, the official training value).
    """
    if kind == "edges":
        return edges_primitive(canny_edges(image, 2.0 if sigma is None else sigma), canny_color)
    if kind in ("seg", "seg_edges"):
        if seg is None:
            seg = unsupervised_segmentation(image, seg_method, segments=segments)
        elif seg.shape[-2:] != image.shape[-2:]:
            seg = resize_primitive(seg, "seg", tuple(image.shape[-2:]))
        if kind == "seg":
            return seg
        return seg_edges_primitive(seg, image, sigma=0.5 if sigma is None else sigma, canny_color=canny_color)
    if kind == "manual":
        raise PrimitiveError("a manual primitive is drawn by hand; there is nothing to compute")
    raise ValueError(f"unknown primitive kind {kind!r}; choose edges, seg or seg_edges")


def split_primitive(primitive: torch.Tensor, kind: str, canny_color: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Primitive -> ``(colors, edges)`` for augmentation (see the module docstring).

    - ``edges``: the drawing is binarised (mid-grey threshold); colours = plain background;
    - ``seg``: colours = the map, no edges;
    - ``seg_edges``: pixels of the edge colour form the mask; under them the colour part takes
      the colour of the nearest non-edge pixel (so that new edges can be drawn elsewhere);
    - ``manual``: the image, no edges.
    """
    _check(primitive, "primitive")
    if kind == "edges":
        edges = binarize_edges(primitive, canny_color)
        return torch.full_like(primitive, -edge_value(canny_color)), edges
    if kind in ("seg", "manual"):
        return primitive, None
    if kind == "seg_edges":
        from scipy.ndimage import distance_transform_edt

        edges = _edge_pixels(primitive, canny_color)
        colors = primitive.clone()
        for b in range(primitive.shape[0]):
            m = edges[b, 0].cpu().numpy() > 0.5
            if m.all() or not m.any():
                continue
            _, (iy, ix) = distance_transform_edt(m, return_indices=True)
            idx = torch.from_numpy(iy * m.shape[1] + ix).to(primitive.device).flatten()
            colors[b] = primitive[b].flatten(1)[:, idx].view_as(primitive[b])
        return colors, edges
    raise ValueError(f"unknown primitive kind {kind!r}")


def resize_primitive(primitive: torch.Tensor, kind: str, size: tuple[int, int], canny_color: int = 0) -> torch.Tensor:
    """Resize a primitive without inventing colours or losing edges.

    Colour parts use nearest neighbour (as the official ``A.resize(..., NEAREST)``); edge masks
    an antialiased bilinear resize where any pixel at least a quarter covered by an edge is an
    edge (nearest neighbour would drop thin lines when shrinking); ``manual`` primitives the
    library's bicubic :func:`~sinkit.core.resize.resize`.
    """
    _check(primitive, "primitive")
    size = (int(size[0]), int(size[1]))
    if tuple(primitive.shape[-2:]) == size:
        return primitive
    if kind == "manual":
        return resize(primitive, size)
    colors, edges = split_primitive(primitive, kind, canny_color)
    colors = F.interpolate(colors, size=size, mode="nearest-exact")
    if edges is not None:
        edges = (F.interpolate(edges, size=size, mode="bilinear", antialias=True, align_corners=False) >= 0.25).float()
    return compose_primitive(colors, edges, canny_color)


def palette(seg: torch.Tensor, exclude: torch.Tensor | None = None) -> torch.Tensor:
    """The distinct colours of a segmentation map, ``(K, 3)`` uint8, most frequent first (pixels in ``exclude`` ignored)."""
    rgb = _to_uint8(seg[:1]).reshape(-1, 3)
    if exclude is not None:
        rgb = rgb[exclude[0, 0].cpu().numpy().reshape(-1) < 0.5]
    colors, counts = np.unique(rgb, axis=0, return_counts=True)
    return torch.from_numpy(colors[np.argsort(-counts, kind="stable")])


def unknown_colors(
    seg: torch.Tensor,
    known: torch.Tensor,
    *,
    exclude: torch.Tensor | None = None,
    tolerance: int = COLOR_TOLERANCE,
    min_pixels: int | None = None,
) -> list[tuple[tuple[int, int, int], int]]:
    """Colours of ``seg`` farther than ``tolerance`` (8-bit, every channel) from all of ``known``.

    Colours covering fewer than ``min_pixels`` pixels (default: 0.05 % of the image, at least
    16) are ignored: they are antialiasing or painting noise at region borders.

    Returns:
        ``[((r, g, b), pixel count), ...]``, most frequent first.
    """
    rgb = _to_uint8(seg[:1]).reshape(-1, 3)
    if exclude is not None:
        rgb = rgb[exclude[0, 0].cpu().numpy().reshape(-1) < 0.5]
    if min_pixels is None:
        min_pixels = max(16, int(0.0005 * seg.shape[-1] * seg.shape[-2]))
    colors, counts = np.unique(rgb, axis=0, return_counts=True)
    if len(known) == 0:
        far = np.ones(len(colors), dtype=bool)
    else:
        diff = np.abs(colors[:, None, :].astype(np.int16) - known.numpy()[None, :, :].astype(np.int16)).max(axis=2)
        far = diff.min(axis=1) > tolerance
    found = [(tuple(int(v) for v in c), int(n)) for c, n, f in zip(colors, counts, far) if f and n >= min_pixels]
    return sorted(found, key=lambda t: -t[1])


def seg_palette(primitive: torch.Tensor, kind: str, canny_color: int = 0) -> torch.Tensor:
    """The training colours of a ``seg``/``seg_edges`` primitive (edge pixels left out), see :func:`palette`."""
    exclude = _edge_pixels(primitive, canny_color) if kind == "seg_edges" else None
    return palette(primitive, exclude)


def check_seg_colors(primitive: torch.Tensor, known: torch.Tensor, kind: str, canny_color: int = 0) -> None:
    """Raise :class:`PrimitiveError` naming the colours of a ``seg``/``seg_edges`` primitive unseen in training.

    A DeepSIM generator has only ever seen the training map's labels; an unknown colour is
    usually a typo in a paint program (anti-aliased brush, wrong swatch).
    """
    if kind not in ("seg", "seg_edges"):
        return
    exclude = _edge_pixels(primitive, canny_color) if kind == "seg_edges" else None
    found = unknown_colors(primitive, known, exclude=exclude)
    if found:
        listed = ", ".join(f"#{r:02x}{g:02x}{b:02x} ({n} px)" for (r, g, b), n in found[:8])
        more = f" and {len(found) - 8} more" if len(found) > 8 else ""
        shown = ", ".join(f"#{r:02x}{g:02x}{b:02x}" for r, g, b in known.tolist()[:12])
        raise PrimitiveError(
            f"the segmentation uses colours never seen in training: {listed}{more}; "
            f"paint regions only with the training colours ({shown}{' ...' if len(known) > 12 else ''})"
        )


def check_not_blank(primitive: torch.Tensor, name: str = "primitive") -> None:
    """Raise :class:`PrimitiveError` when the primitive is one flat colour (nothing to translate)."""
    _check(primitive, name)
    if float(primitive.amax() - primitive.amin()) < 2 / 255:
        raise PrimitiveError(f"the {name} is blank (a single flat colour): there is nothing to translate")
