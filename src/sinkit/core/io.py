"""Image files in, image files out: the only place where pixels cross the file boundary.

Inside the library every image is a float tensor of shape ``(B, 3, H, W)`` with
values in ``[-1, 1]`` (the convention of SinGAN's official code).  This module
converts from and to files with Pillow and nothing else touches files.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from .errors import SinkitError

__all__ = [
    "ImageReadError",
    "OutputPathError",
    "image_size",
    "ensure_dir",
    "load_image",
    "load_mask",
    "save_image",
    "save_grid",
    "to_pil",
    "from_pil",
]

#: 16-bit integer modes Pillow uses for single-channel 16-bit files (PNG, TIFF).
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


class ImageReadError(SinkitError, ValueError):
    """A file exists but could not be decoded as an image."""


class OutputPathError(SinkitError, OSError):
    """An output folder cannot be created or written (a path under a regular file, no permission...)."""


def ensure_dir(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Create the folder ``path`` (and its parents) and check it can be written, before any work
    that would write there, so a bad ``--out`` fails in a second, not after an hour.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OutputPathError: ``"cannot create the output folder out/x: out is a file"``, or not writable.
    """
    path = Path(path)
    for parent in [path, *path.parents]:
        if parent.exists():
            if not parent.is_dir():
                detail = "it is a file" if parent == path else f"{parent} is a file"
                raise OutputPathError(f"cannot create the {what} {path}: {detail}")
            break
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputPathError(f"cannot create the {what} {path}: {err.strerror or err}") from err
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write in the {what} {path}: permission denied")
    return path


def _open(path: str | os.PathLike, max_size: int | None = None) -> Image.Image:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image file not found: {path}")
    if path.is_dir():
        raise ImageReadError(f"expected an image file, got a directory: {path}")
    try:
        with warnings.catch_warnings():
            # 89-178 Mpx: Pillow warns in two lines; above it refuses (DecompressionBombError, below)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
            if max_size is not None:
                img = _decode_reduced(img, max_size)
            img.load()
    except UnidentifiedImageError as err:
        raise ImageReadError(f"not an image file (Pillow cannot identify it): {path}") from err
    except Image.DecompressionBombError as err:
        raise ImageReadError(
            f"image is too large to decode safely: {path} ({err}); downscale it first"
        ) from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageReadError(f"cannot read image {path}: {err}") from err
    # Phone photos store rotation as an EXIF tag; apply it so the pixels are upright.
    return ImageOps.exif_transpose(img)


#: a reduced decode keeps at least this many times the size the caller needs; the library's
#: antialiased resize does the rest.  Measured on a 10000x10000 photo resized to 40 px
#: (docs/reliability.md): margin 8 differs from a full decode by 0.2 grey levels on average
#: (max 3.9 of 255; margin 2: 1.9, max 38) and peaks at 277 MiB instead of 4.0 GiB.
DECODE_MARGIN = 8


def _decode_reduced(img: Image.Image, max_size: int) -> Image.Image:
    """Decode ``img`` at an integer fraction of its size whose long side stays >= ``DECODE_MARGIN *
    max_size`` (8x): JPEG decodes at 1/2, 1/4 or 1/8 directly (``draft``, DCT scaling), any format is then
    box-reduced by an integer factor (``reduce``) before any float conversion.  A 10000x10000 photo
    for a 250 px model then never exists as a full-size float array."""
    if max_size < 1:
        raise ValueError(f"max_size must be >= 1 px, got {max_size}")
    need = DECODE_MARGIN * max_size
    w, h = img.size
    if max(w, h) <= need:
        return img
    if img.format == "JPEG":
        ratio = need / max(w, h)
        img.draft(img.mode, (math.ceil(w * ratio), math.ceil(h * ratio)))  # smallest DCT scale >= the size asked
    img.load()
    factor = max(img.size) // need
    if factor >= 2:
        try:
            img = img.reduce(factor)
        except ValueError:  # a mode reduce does not handle (palette, 1-bit): decode it whole
            pass
    return img


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(height, width)`` of an image file as :func:`load_image` would orient it, read from the
    header only (nothing is decoded).

    Raises:
        FileNotFoundError, ImageReadError: as :func:`load_image`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            w, h = img.size
            rotated = img.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # EXIF orientation: a quarter turn
    except UnidentifiedImageError as err:
        raise ImageReadError(f"not an image file (Pillow cannot identify it): {path}") from err
    except (Image.DecompressionBombError, OSError, SyntaxError, ValueError) as err:
        raise ImageReadError(f"cannot read image {path}: {err}") from err
    return (w, h) if rotated else (h, w)


def _to_float_rgb(img: Image.Image) -> np.ndarray:
    """Pillow image of any mode -> ``(H, W, 3)`` float32 array in ``[0, 1]``."""
    if img.mode in _SIXTEEN_BIT_MODES:
        # 16-bit grayscale: convert("RGB") would clip every value above 255 to white.
        arr = np.asarray(img).astype(np.float32) / 65535.0
        return np.repeat(np.clip(arr, 0.0, 1.0)[..., None], 3, axis=2)
    if img.mode == "F":
        arr = np.asarray(img).astype(np.float32)
        arr = arr / 255.0 if arr.max() > 1.0 else arr
        return np.repeat(np.clip(arr, 0.0, 1.0)[..., None], 3, axis=2)
    has_alpha = img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        img.mode == "P" and "transparency" in img.info
    )
    if has_alpha:
        rgba = np.asarray(img.convert("RGBA")).astype(np.float32) / 255.0
        alpha = rgba[..., 3:4]
        return rgba[..., :3] * alpha + (1.0 - alpha)  # composite over white
    return np.asarray(img.convert("RGB")).astype(np.float32) / 255.0


def from_pil(img: Image.Image) -> torch.Tensor:
    """Convert a Pillow image to a ``(1, 3, H, W)`` float32 tensor in ``[-1, 1]``.

    Same mode handling as :func:`load_image`.
    """
    arr = _to_float_rgb(img)
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).unsqueeze(0) * 2.0 - 1.0


def load_image(path: str | os.PathLike, *, max_size: int | None = None, device: str | torch.device | None = None) -> torch.Tensor:
    """Read an image file into a ``(1, 3, H, W)`` float32 tensor in ``[-1, 1]``.

    Handles every mode a user is likely to hand us:

    * EXIF orientation is applied first (photos from phones come out upright);
    * grayscale (``L``, ``1``) and palette (``P``) images become RGB by
      repeating / looking up the colour;
    * 16-bit grayscale PNG/TIFF (``I;16``) is scaled by ``1 / 65535`` (a plain
      ``convert("RGB")`` would clip it); 16-bit RGB files are reduced to 8 bit
      by Pillow when decoding;
    * images with transparency (``RGBA``, ``LA``, palette with a transparent
      index) are alpha-composited over an opaque white background:
      ``rgb * alpha + 1 * (1 - alpha)``;
    * CMYK and YCbCr are converted to RGB by Pillow.

    Args:
        path: image file (any format Pillow reads: PNG, JPEG, TIFF, BMP, WebP, GIF...).
        max_size: the long side, px, the caller will downscale the image to (None: full size).
            A larger file is decoded at an integer fraction of its size whose long side is
            still at least 8 times ``max_size`` (JPEG: DCT scaling while decoding; then an
            integer box reduction), so memory follows the size used, not the file's.
        device: where to put the tensor (default CPU).

    Returns:
        Tensor of shape ``(1, 3, H, W)``, dtype float32, values in ``[-1, 1]``.

    Raises:
        FileNotFoundError: the path does not exist (message names the path).
        ImageReadError: the path is a directory, not an image, truncated or corrupt.
    """
    with _open(path, max_size) as img:
        tensor = from_pil(img)
    return tensor.to(device) if device is not None else tensor


def load_mask(path: str | os.PathLike, *, max_size: int | None = None, device: str | torch.device | None = None) -> torch.Tensor:
    """Read a mask file into a ``(1, 1, H, W)`` float32 tensor in ``[0, 1]`` (1 = selected).

    RGB masks are reduced to their luminance; a mask with an alpha channel and
    constant colour uses the alpha channel.  No thresholding happens here: soft
    masks stay soft (see :mod:`sinkit.tasks.masks` for binarisation and blending).

    ``max_size``: as :func:`load_image` (decode at reduced size when far larger).

    Raises:
        FileNotFoundError, ImageReadError: as :func:`load_image`.
    """
    with _open(path, max_size) as img:
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            rgba = np.asarray(img.convert("RGBA")).astype(np.float32) / 255.0
            if float(rgba[..., :3].std()) < 1e-3:  # constant colour: the shape lives in alpha
                arr = rgba[..., 3]
            else:
                arr = (rgba[..., :3].mean(axis=2)) * rgba[..., 3]
        else:
            arr = _to_float_rgb(img).mean(axis=2)
    mask = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))[None, None]
    return mask.to(device) if device is not None else mask


def to_pil(image: torch.Tensor) -> Image.Image:
    """Convert a ``(1, 3, H, W)`` or ``(3, H, W)`` tensor in ``[-1, 1]`` to an 8-bit RGB image.

    Values outside ``[-1, 1]`` are clipped.

    Raises:
        ValueError: the tensor is not a single RGB image.
    """
    if image.dim() == 4:
        if image.shape[0] != 1:
            raise ValueError(f"expected a single image (1, 3, H, W), got {tuple(image.shape)}")
        image = image[0]
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"expected (3, H, W) or (1, 3, H, W), got {tuple(image.shape)}")
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    arr = ((image.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return Image.fromarray(arr.permute(1, 2, 0).numpy(), mode="RGB")


def save_image(image: torch.Tensor, path: str | os.PathLike) -> Path:
    """Write a ``(1, 3, H, W)`` or ``(3, H, W)`` tensor in ``[-1, 1]`` as an 8-bit image file.

    The format follows the suffix (PNG when the suffix is ``.png`` or missing);
    parent folders are created.  Returns the path written.
    """
    path = Path(path)
    if path.suffix == "":
        path = path.with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    to_pil(image).save(path)
    return path


def save_grid(
    images: torch.Tensor | Sequence[torch.Tensor],
    path: str | os.PathLike,
    *,
    ncol: int | None = None,
    labels: Sequence[str] | None = None,
    padding: int = 4,
) -> Path:
    """Write a contact sheet: images laid out in a grid on a white background.

    Args:
        images: ``(B, 3, H, W)`` tensor or a sequence of ``(1, 3, h, w)`` tensors in
            ``[-1, 1]``; sizes may differ (each cell is as large as the largest image).
        path: output file (PNG).
        ncol: images per row (default: about square).
        labels: optional caption per image, drawn above it.
        padding: pixels between cells.

    Returns:
        The path written.
    """
    tiles = [img[i : i + 1] for img in ([images] if torch.is_tensor(images) else images) for i in range(img.shape[0])]
    if not tiles:
        raise ValueError("save_grid needs at least one image")
    if labels is not None and len(labels) != len(tiles):
        raise ValueError(f"got {len(labels)} labels for {len(tiles)} images")
    n = len(tiles)
    ncol = ncol or math.ceil(math.sqrt(n))
    nrow = math.ceil(n / ncol)
    cell_h = max(t.shape[2] for t in tiles)
    cell_w = max(t.shape[3] for t in tiles)
    label_h = 14 if labels else 0
    sheet = Image.new(
        "RGB",
        (ncol * (cell_w + padding) + padding, nrow * (cell_h + label_h + padding) + padding),
        "white",
    )
    draw = ImageDraw.Draw(sheet)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, ncol)
        x = padding + c * (cell_w + padding)
        y = padding + r * (cell_h + label_h + padding)
        if labels:
            draw.text((x, y), str(labels[k]), fill="black")
        sheet.paste(to_pil(tile), (x, y + label_h))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path
