"""The page's actions as plain functions: a loaded model and images in, files in an output folder out.

Each one is a thin layer over :mod:`sinkit.tasks` / the capability methods,
like the CLI commands (and writing the same kind of files: results, the
inputs as the model saw them, a labelled comparison or sweep strip), so the
page needs no method logic and these functions are tested without a browser.
Images from the page arrive as numpy arrays (``(H, W, 3|4)`` uint8) or PIL
images; paint canvases as Gradio image-editor values (``{"background",
"layers", "composite"}``).  Notes about adjusted inputs
(:class:`~sinkit.tasks.masks.InputAdjustedWarning`: resized, inverted mask...)
are returned as text for the page to show.
"""

from __future__ import annotations

import contextlib
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import torch
from PIL import Image

from ..core.capabilities import Injectable, Sampler, Translator, require
from ..core.io import from_pil, save_grid, save_image
from ..core.pyramid_model import NoiseInputs, PyramidModel
from ..core.resize import resize
from ..core.scales import scale_label
from ..tasks import animate as animate_task
from ..tasks import edit, harmonize, inject, paint_to_image, sr_steps, upscale
from ..tasks.animation import VideoWriterUnavailable, save_animation
from ..tasks.inject import fit_to_model, training_image
from ..tasks.masks import InputAdjustedWarning
from ..tasks.paint import color_centers, quantize_colors

__all__ = [
    "Limits",
    "validate_upload",
    "features",
    "to_tensor",
    "editor_image",
    "editor_mask",
    "draw_samples",
    "zip_files",
    "paint",
    "blend",
    "transfer",
    "super_resolve",
    "animate",
    "translate",
    "default_condition",
]


# ----------------------------------------------------------------------------- uploads
@dataclass(frozen=True)
class Limits:
    """Upload limits: ``max_mb`` MB per file (enforced by the server before the page sees the
    file) and ``max_pixels`` per image (checked from the file header, before decoding)."""

    max_mb: int = 25
    max_pixels: int = 40_000_000


def validate_upload(path: str | None, limits: Limits, what: str = "image") -> tuple[int, int]:
    """Check an uploaded image with the library's own reader; returns its ``(height, width)``.

    Raises:
        ValueError: nothing uploaded, too many pixels, or not a readable image
            (:class:`~sinkit.core.io.ImageReadError`, a ``ValueError``).
    """
    from PIL import UnidentifiedImageError

    from ..core.io import load_image

    if not path:
        raise ValueError(f"upload a {what} first")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:  # the header only: refuse huge images before decoding them
                w, h = im.size
    except Image.DecompressionBombError:
        raise ValueError(f"the {what} is far too large to decode safely; downscale it first") from None
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"the {what} is not an image file Pillow can read ({type(err).__name__})") from None
    if w * h > limits.max_pixels:
        raise ValueError(f"the {what} has {w}x{h} = {w * h / 1e6:.0f} megapixels, more than this app accepts ({limits.max_pixels / 1e6:.0f}); downscale it first")
    image = load_image(path)
    return int(image.shape[2]), int(image.shape[3])


# ----------------------------------------------------------------------------- what a model can do
def features(model: Any) -> dict:
    """What the page can offer for ``model``, from its capabilities.

    Returns:
        ``sample`` / ``stochastic`` / ``pyramid`` / ``inject`` / ``upscale`` / ``animate`` /
        ``translate`` flags, ``num_scales`` (pyramids), ``injection_scales`` (list of indices),
        ``output_size`` ``(h, w)``, ``mask_dilation`` (official radii), ``condition_name``.
    """
    pyramid = isinstance(model, PyramidModel)
    injectable = isinstance(model, Injectable)
    return {
        "method": model.method,
        "sample": isinstance(model, Sampler),
        "stochastic": isinstance(model, Sampler) and bool(model.stochastic),
        "pyramid": pyramid,
        "num_scales": model.num_scales if pyramid else 0,
        "inject": injectable,
        "injection_scales": list(model.valid_injection_scales()) if injectable else [],
        "upscale": pyramid and 0 < model.spec.scale_factor < 1,
        "animate": pyramid and isinstance(model, NoiseInputs) and model.stochastic,
        "translate": isinstance(model, Translator),
        "condition_name": getattr(model, "condition_name", "primitive"),
        "output_size": tuple(model.output_size()) if hasattr(model, "output_size") else None,
        "mask_dilation": dict(getattr(model, "mask_dilation", {}) or {}),
        "complete": model.complete,
    }


# ----------------------------------------------------------------------------- images from the page
def to_tensor(image: Any) -> torch.Tensor:
    """A page image (numpy ``(H, W, 3|4)`` uint8 / float, PIL image, or file path) as ``(1, 3, H, W)`` in ``[-1, 1]``.

    Transparent pixels are composited over white, as :func:`sinkit.core.io.load_image` does.

    Raises:
        ValueError: nothing given, or not an image.
    """
    if image is None:
        raise ValueError("no image given")
    if isinstance(image, (str, Path)):
        from ..core.io import load_image

        return load_image(image)
    if isinstance(image, np.ndarray):
        arr = image
        if arr.dtype != np.uint8:
            arr = np.clip(arr * (255.0 if arr.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise ValueError(f"expected an (H, W, 3|4) image, got shape {arr.shape}")
        image = Image.fromarray(arr, mode="RGBA" if arr.shape[2] == 4 else "RGB")
    if not isinstance(image, Image.Image):
        raise ValueError(f"expected an image, got {type(image).__name__}")
    return from_pil(image)


def _rgba(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, (str, Path)):
        with Image.open(value) as im:
            return np.asarray(im.convert("RGBA"))
    if isinstance(value, Image.Image):
        return np.asarray(value.convert("RGBA"))
    arr = np.asarray(value)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.shape[2] == 3:
        arr = np.concatenate([arr, np.full(arr.shape[:2] + (1,), 255, arr.dtype)], axis=2)
    return arr


def editor_image(value: Mapping[str, Any] | None) -> torch.Tensor:
    """The picture in a paint canvas: background with every stroke on it, ``(1, 3, H, W)`` in ``[-1, 1]``.

    Raises:
        ValueError: the canvas is empty.
    """
    if not value:
        raise ValueError("the canvas is empty: load an image into it first")
    composite = value.get("composite") if isinstance(value, Mapping) else value
    if composite is None:
        composite = value.get("background")
    if composite is None:
        raise ValueError("the canvas is empty: load an image into it first")
    return to_tensor(composite)


def editor_mask(value: Mapping[str, Any] | None) -> torch.Tensor:
    """The mask painted on a canvas: every pixel covered by a stroke (any layer, any colour), ``(1, 1, H, W)`` in ``{0, 1}``.

    Strokes are the non-transparent pixels of the canvas's layers (the background is
    the picture the mask is drawn over and is not part of it); the eraser makes pixels
    transparent again.

    Raises:
        ValueError: no stroke drawn.
    """
    layers = list((value or {}).get("layers") or []) if isinstance(value, Mapping) else []
    alpha = None
    for layer in layers:
        arr = _rgba(layer)
        if arr is None:
            continue
        a = arr[..., 3] > 0
        alpha = a if alpha is None else (alpha | a) if alpha.shape == a.shape else alpha
    if alpha is None or not alpha.any():
        raise ValueError("no mask drawn: paint over the region to regenerate with the brush (white = regenerate)")
    return torch.from_numpy(alpha.astype(np.float32))[None, None]


@contextlib.contextmanager
def _notes(out: list[str]):
    """Collect the library's InputAdjustedWarnings (resized input, inverted mask...) as notes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InputAdjustedWarning)
        try:
            yield out
        finally:
            for w in caught:
                if issubclass(w.category, InputAdjustedWarning) and str(w.message) not in out:
                    out.append(str(w.message))


def _scales(model: Any, scale: int | str) -> list[int]:
    """``"all"`` -> every valid injection scale; an index -> ``[index]`` (checked by the task)."""
    require(model, Injectable, "inject images (paint, edit, harmonize, transfer)")
    if isinstance(scale, str) and scale.strip().lower() == "all":
        return list(model.valid_injection_scales())
    from ..core.scales import parse_scale

    valid = model.valid_injection_scales()
    return [parse_scale(scale, valid.stop, valid)]


def _strip(results: Mapping[int, torch.Tensor], first: list[torch.Tensor], labels: list[str], path: Path) -> Path:
    images = list(first) + list(results.values())
    names = list(labels) + [f"scale {scale_label(s)}" for s in results]
    return save_grid(images, path, ncol=min(len(images), 6), labels=names)


# ----------------------------------------------------------------------------- sample
@torch.no_grad()
def draw_samples(model: Any, out_dir: Path, *, num: int = 8, seed: int = 0, start_scale: int = 0, scale_h: float = 1.0, scale_v: float = 1.0) -> tuple[list[Path], Path]:
    """``num`` random samples as PNGs plus a contact sheet (``sinkit sample``).

    Args:
        start_scale: pyramid models: first scale with random noise (0 = coarsest, most diverse).
        scale_h, scale_v: width / height factors of the output relative to the training image.

    Returns:
        ``([sample files], contact sheet)``.

    Raises:
        CapabilityError: the model does not sample.
        ValueError: bad counts, start scale or size.
    """
    require(model, Sampler, "draw random samples")
    if not 1 <= int(num) <= 64:
        raise ValueError(f"number of samples must be 1..64, got {num}")
    if not (0.25 <= scale_h <= 4 and 0.25 <= scale_v <= 4):
        raise ValueError(f"size factors must be in 0.25..4, got {scale_h} x {scale_v}")
    if isinstance(model, PyramidModel):
        if not 0 <= int(start_scale) < model.num_scales:
            raise ValueError(f"start scale must be in 0..{model.num_scales - 1}, got {start_scale}")
        samples = model.sample(int(num), generator=int(seed), start_scale=int(start_scale), scale_h=float(scale_h), scale_v=float(scale_v))
    else:
        if int(start_scale) != 0:
            raise ValueError(f"{model.method} models have no pyramid start scales")
        h, w = model.output_size()
        samples = model.sample(int(num), size=(max(1, round(h * scale_v)), max(1, round(w * scale_h))), generator=int(seed))
    files = [save_image(samples[i : i + 1], out_dir / f"sample_{i:03d}.png") for i in range(samples.shape[0])]
    return files, save_grid(samples, out_dir / "contact_sheet.png")


def zip_files(files: Iterable[Path], path: Path) -> Path:
    """Pack ``files`` (flat, by their names) into the zip file ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            zf.write(f, arcname=Path(f).name)
    return path


# ----------------------------------------------------------------------------- manipulation
@torch.no_grad()
def paint(model: Any, image: torch.Tensor, scale: int | str, out_dir: Path, *, quantize: bool = False, k: int = 5, seed: int = 0) -> tuple[Path, list[str]]:
    """Paint-to-image (``sinkit paint``): the result at one scale, or a labelled strip over all (``"all"``).

    Returns:
        ``(image file, notes)``: the result (one scale: paint + result side by side is
        ``comparison.png`` next to it) or the sweep strip.
    """
    notes: list[str] = []
    scales = _scales(model, scale)
    with _notes(notes):
        results = {s: paint_to_image(model, image, s, quantize=quantize, k=int(k), generator=int(seed)) for s in scales}
        shown = fit_to_model(image, model, name="paint")
    save_image(shown, out_dir / "paint.png")
    for s, img in results.items():
        save_image(img, out_dir / f"result_{scale_label(s)}.png")
    first, labels = [training_image(model), shown], ["training image", "paint"]
    if quantize and len(scales) == 1:
        first.append(quantize_colors(shown, color_centers(model.image_at_scale(scales[0]), int(k))))
        labels.append(f"quantized (k={k})")
    if len(scales) == 1:
        save_grid(first + [results[scales[0]]], out_dir / "comparison.png", ncol=len(first) + 1, labels=labels + [f"result {scale_label(scales[0])}"])
        return out_dir / f"result_{scale_label(scales[0])}.png", notes
    return _strip(results, first, labels, out_dir / "sweep.png"), notes


@torch.no_grad()
def blend(model: Any, task: str, image: torch.Tensor, mask: torch.Tensor, scale: int | str, out_dir: Path, *, dilation: int | None = None, seed: int = 0) -> tuple[dict[str, Path], list[str]]:
    """Editing or harmonization (``sinkit edit`` / ``sinkit harmonize``) with a mask drawn in the page.

    Args:
        task: ``edit`` or ``harmonize``.
        image: the edited image / naive composite, ``(1, 3, H, W)``.
        mask: ``(1, 1, H, W)`` in ``[0, 1]``, 1 = region to regenerate.
        scale: injection scale index, or ``"all"`` for a labelled strip over every valid scale.
        dilation: mask dilation radius, px (None: the method's official value).

    Returns:
        ``({"blended", "raw", "mask", "comparison" or "sweep": file}, notes)``; with ``"all"``,
        ``blended`` and ``raw`` are those of the coarsest scale and ``sweep`` the strip.
    """
    if task not in ("edit", "harmonize"):
        raise ValueError(f"task must be edit or harmonize, got {task!r}")
    fn = edit if task == "edit" else harmonize
    notes: list[str] = []
    scales = _scales(model, scale)
    with _notes(notes):
        results = {s: fn(model, image, s, mask=mask, dilation_radius=dilation, generator=int(seed)) for s in scales}
        shown = fit_to_model(image, model)
    first = next(iter(results.values()))
    mask_rgb = first.mask.expand(-1, 3, -1, -1) * 2 - 1
    files = {
        "input": save_image(shown, out_dir / "input.png"),
        "mask": save_image(mask_rgb, out_dir / "mask_used.png"),
    }
    for s, r in results.items():
        save_image(r.raw, out_dir / f"raw_{scale_label(s)}.png")
        save_image(r.blended, out_dir / f"blended_{scale_label(s)}.png")
    s0 = scales[0]
    files["blended"], files["raw"] = out_dir / f"blended_{scale_label(s0)}.png", out_dir / f"raw_{scale_label(s0)}.png"
    first_tiles, labels = [training_image(model), shown, mask_rgb], ["training", "input", "mask used"]
    if len(scales) == 1:
        files["comparison"] = save_grid(first_tiles + [first.raw, first.blended], out_dir / "comparison.png", ncol=5, labels=labels + [f"raw {scale_label(s0)}", f"blended {scale_label(s0)}"])
    else:
        files["sweep"] = _strip({s: r.blended for s, r in results.items()}, first_tiles, labels, out_dir / "sweep.png")
    return files, notes


@torch.no_grad()
def transfer(model: Any, image: torch.Tensor, scale: int | str, out_dir: Path, *, keep_shape: bool = False, seed: int = 0) -> tuple[Path, list[str]]:
    """Plain injection (``sinkit transfer``): one result, or a labelled strip over all scales."""
    notes: list[str] = []
    scales = _scales(model, scale)
    with _notes(notes):
        results = {s: inject(model, image, s, keep_shape=keep_shape, generator=int(seed)) for s in scales}
        shown = resize(image.to(model.device), tuple(results[scales[0]].shape[-2:])) if keep_shape else fit_to_model(image, model)
    for s, img in results.items():
        save_image(img, out_dir / f"result_{scale_label(s)}.png")
    if len(scales) == 1:
        save_grid([training_image(model), shown, results[scales[0]]], out_dir / "comparison.png", ncol=3, labels=["training image", "input", f"result {scale_label(scales[0])}"])
        return out_dir / f"result_{scale_label(scales[0])}.png", notes
    return _strip(results, [training_image(model), shown], ["training image", "input"], out_dir / "sweep.png"), notes


@torch.no_grad()
def super_resolve(model: Any, image: torch.Tensor | None, factor: float, out_dir: Path, *, noise: str = "random", seed: int = 0) -> tuple[dict[str, Path], list[str]]:
    """Super-resolution (``sinkit upscale``): result, bicubic and a side-by-side comparison."""
    require(model, PyramidModel, "upscale images (super-resolution runs the finest generator of a pyramid)")
    notes = []
    k, r = sr_steps(model, float(factor))
    notes.append(f"{k} passes of x{r:.3f} (the model's scale ratio) to reach x{float(factor):g}")
    if getattr(model.config, "sr_factor", None) == 0:
        notes.append("this model was not trained for super-resolution (train with 'super-resolution'); results will be weaker")
    image = training_image(model) if image is None else image.to(model.device)
    result = upscale(model, image, float(factor), noise=noise, generator=int(seed))
    bicubic = resize(image, tuple(result.shape[-2:]))
    files = {
        "input": save_image(image, out_dir / "input.png"),
        "result": save_image(result, out_dir / "result.png"),
        "bicubic": save_image(bicubic, out_dir / "bicubic.png"),
        "comparison": save_grid([bicubic, result], out_dir / "comparison.png", ncol=2, labels=[f"bicubic x{float(factor):g}", f"sinkit x{float(factor):g}"]),
    }
    return files, notes


@torch.no_grad()
def animate(model: Any, out_dir: Path, *, start_scale: int = 0, frames: int = 50, fps: float = 10.0, alpha: float = 0.1, beta: float = 0.9, seed: int = 0, fmt: str = "gif") -> tuple[dict[str, Path], list[str]]:
    """Animation (``sinkit animate``): a GIF or MP4 clip and a sheet of frames.

    Falls back to a GIF (with a note) when MP4 writing is not installed.
    """
    require(model, PyramidModel, "animate (animation walks through a pyramid's noise maps)")
    require(model, NoiseInputs, "animate (animation needs per-scale noise inputs)")
    if not 2 <= int(frames) <= 300:
        raise ValueError(f"frames must be 2..300, got {frames}")
    notes = []
    if not getattr(model.config, "noise_padding", True):
        notes.append("this model was trained without noise padding (official animation models use it)")
    clip = animate_task(model, start_scale=int(start_scale), frames=int(frames), alpha=float(alpha), beta=float(beta), generator=int(seed))
    path = out_dir / f"clip.{'mp4' if fmt == 'mp4' else 'gif'}"
    try:
        written = save_animation(clip, path, fps=float(fps))
    except VideoWriterUnavailable as err:
        written = save_animation(clip, path.with_suffix(".gif"), fps=float(fps))
        notes.append(f"{err}; wrote a GIF instead")
    n = int(frames)
    picks = sorted({0, n // 4, n // 2, (3 * n) // 4, n - 1})
    sheet = save_grid([training_image(model)] + [clip[i : i + 1] for i in picks], out_dir / "frames.png", ncol=len(picks) + 1, labels=["training image"] + [f"frame {i}" for i in picks])
    return {"clip": written, "frames": sheet}, notes


def default_condition(model: Any) -> torch.Tensor | None:
    """The condition a translator was trained with (its training input named ``condition_name``), if stored."""
    if not isinstance(model, Translator):
        return None
    return model.training_inputs.get(model.condition_name)


@torch.no_grad()
def translate(model: Any, condition: torch.Tensor, out_dir: Path, *, seed: int = 0) -> tuple[dict[str, Path], list[str]]:
    """Translate an (edited) primitive with a conditional model (``sinkit translate``)."""
    require(model, Translator, "translate primitives")
    name = model.condition_name
    result = model.translate(condition.to(model.device), generator=int(seed))
    size = tuple(result.shape[-2:])
    shown = [resize(t.to(result.device), size) for t in model.training_inputs.values() if t.shape[1] == 3]
    labels = [f"training {n}" for n, t in model.training_inputs.items() if t.shape[1] == 3]
    tiles = shown + [resize(condition.to(result.device), size), result]
    files = {
        "result": save_image(result, out_dir / "result.png"),
        name: save_image(condition, out_dir / f"{name}.png"),
        "comparison": save_grid(tiles, out_dir / "comparison.png", ncol=len(tiles), labels=labels + [name, "result"]),
    }
    return files, []
