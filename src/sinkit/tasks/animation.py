"""Single-image animation: a random walk in z-space (SinGAN sec. 4, "Single Image Animation").

"A realistic effect is achieved by a random walk in z-space, starting with
z^rec for the first frame at all generation scales."  The walk is the
official ``generate_gif`` one, per scale from the start scale on::

    z_prev1 = 0.95 z_rec + 0.05 eps,  z_prev2 = z_rec
    diff    = beta (z_prev1 - z_prev2) + (1 - beta) eps          (fresh eps every frame)
    z       = alpha z_rec + (1 - alpha) (z_prev1 + diff)
    z_prev2, z_prev1 = z_prev1, z

``alpha`` (0.1) pulls every frame back to the reconstruction, ``beta``
(0.80..0.95) is the momentum: higher = smoother, larger motion.  Scales coarser
than the start scale keep the reconstruction noise.  The official animation
models are trained with noise padding (``sinkit train --noise-padding``).
"""

from __future__ import annotations

import math

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..core.io import ensure_dir, to_pil
from ..core.capabilities import require
from ..core.pyramid_model import NoiseInputs, PyramidModel
from .inject import as_generator

__all__ = ["VideoWriterUnavailable", "random_walk", "animate", "save_animation", "check_animation_output"]


class VideoWriterUnavailable(RuntimeError):
    """No MP4 writer (imageio + imageio-ffmpeg) is installed; GIF needs only Pillow."""


def random_walk(
    z_rec: torch.Tensor,
    frames: int,
    noise: Callable[[], torch.Tensor],
    *,
    alpha: float = 0.1,
    beta: float = 0.9,
) -> torch.Tensor:
    """The official z-space random walk at one scale.

    Args:
        z_rec: ``(1, C, h, w)`` reconstruction noise of the scale (the anchor).
        frames: number of steps.
        noise: ``noise()`` returns a fresh ``(1, C, h, w)`` standard-normal tensor.
        alpha: pull towards ``z_rec`` per step, in ``[0, 1]`` (official 0.1).
        beta: momentum, in ``[0, 1]`` (official 0.80..0.95).

    Returns:
        ``(frames, C, h, w)``: the noise of every frame.
    """
    z_prev1 = 0.95 * z_rec + 0.05 * noise()
    z_prev2 = z_rec
    out = []
    for _ in range(frames):
        diff = beta * (z_prev1 - z_prev2) + (1 - beta) * noise()
        z = alpha * z_rec + (1 - alpha) * (z_prev1 + diff)
        z_prev2, z_prev1 = z_prev1, z
        out.append(z)
    return torch.cat(out)


@torch.no_grad()
def animate(
    model: PyramidModel,
    *,
    start_scale: int = 0,
    frames: int = 100,
    alpha: float = 0.1,
    beta: float = 0.9,
    generator: torch.Generator | int | None = None,
    batch_size: int = 16,
) -> torch.Tensor:
    """Frames of a short clip from a model with noise inputs (SinGAN).

    Args:
        model: trained model whose :meth:`noise_like` returns noise (not SinIR).
        start_scale: first scale whose noise walks (0 = coarsest: largest motion);
            coarser scales follow the reconstruction.
        frames: number of frames (official 100 at 10 fps).
        alpha: pull towards the reconstruction noise per frame (official 0.1).
        beta: momentum of the walk (official 0.80..0.95; 0.9 default).
        generator: seed or ``torch.Generator``.
        batch_size: frames generated per forward pass.

    Returns:
        ``(frames, 3, H, W)`` in ``[-1, 1]``; the first frame is close to the
        reconstruction of the training image.

    Raises:
        CapabilityError: a model without per-scale noise (only SinGAN-like pyramids animate).
        ValueError: bad start scale, counts or coefficients.
    """
    require(model, PyramidModel, "animate (the random walk moves through a pyramid's noise maps)")
    require(model, NoiseInputs, "animate (the random walk needs per-scale noise inputs)")
    if not 0 <= start_scale < model.num_scales:
        raise ValueError(f"start scale {start_scale} is outside the valid range 0..{model.num_scales - 1}")
    if frames < 1 or batch_size < 1:
        raise ValueError(f"frames and batch_size must be >= 1, got {frames}, {batch_size}")
    if not (0 <= alpha <= 1 and 0 <= beta <= 1):
        raise ValueError(f"alpha and beta must be in [0, 1], got {alpha}, {beta}")
    generator = as_generator(generator)
    walks = {}
    for index in range(start_scale, model.num_scales):
        z_rec = model.reconstruction_noise(index)
        fresh = lambda index=index: model.noise_like(index, 1, model.sizes[index], generator)  # noqa: E731
        walks[index] = random_walk(z_rec, frames, fresh, alpha=alpha, beta=beta)
    out = []
    for first in range(0, frames, batch_size):
        b = min(batch_size, frames - first)
        noise = ["reconstruction"] * start_scale + [walks[i][first : first + b] for i in range(start_scale, model.num_scales)]
        x0 = torch.zeros(b, 3, *model.sizes[0], device=model.device)
        out.append(model.run_scales(x0, 0, noise=noise, generator=generator))
    return torch.cat(out)


def save_animation(frames: torch.Tensor, path: str | Path, *, fps: float = 10.0) -> Path:
    """Write frames as an animated GIF (Pillow) or an MP4 (imageio-ffmpeg, H.264), by the file suffix.

    Args:
        frames: ``(T, 3, H, W)`` in ``[-1, 1]``.
        path: ``.gif`` or ``.mp4`` file; folders are created.
        fps: frames per second (> 0).

    Returns:
        The path written.

    Raises:
        ValueError: unknown suffix or bad fps.
        VideoWriterUnavailable: ``.mp4`` without ``imageio`` / ``imageio-ffmpeg``
            (``pip install 'sinkit[video]'``); GIF always works.
    """
    path = check_animation_output(path, fps)
    suffix = path.suffix.lower()
    images = [to_pil(frames[i]) for i in range(frames.shape[0])]
    if suffix == ".gif":
        duration = max(20, round(1000 / fps))  # ms per frame; browsers clamp below 20 ms
        images[0].save(path, save_all=True, append_images=images[1:], duration=duration, loop=0)
        return path
    writer = _mp4_writer()
    writer(path, [np.asarray(im) for im in images], fps)
    return path


def check_animation_output(path: str | Path, fps: float) -> Path:
    """Check what :func:`save_animation` needs before any frame is generated: a finite ``fps`` > 0,
    a ``.gif`` or ``.mp4`` suffix, a video writer for ``.mp4``, and a folder that can be created.

    Returns:
        ``path`` (its folder created).

    Raises:
        ValueError: bad fps or suffix.
        VideoWriterUnavailable: ``.mp4`` without ``imageio-ffmpeg``.
        OutputPathError: the folder cannot be created (e.g. it is under a regular file).
    """
    path = Path(path)
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a finite number > 0, got {fps}")
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ValueError(f"animation file must end in .gif or .mp4, got {path.name!r}")
    if suffix == ".mp4":
        _mp4_writer()
    ensure_dir(path.parent, "folder of the clip")
    if path.is_dir():
        raise ValueError(f"{path} is a directory; give a file name ending in .gif or .mp4")
    return path


def _mp4_writer():
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError, OSError) as err:
        raise VideoWriterUnavailable(
            f"cannot write MP4: {err}. Install the video extra (pip install 'sinkit[video]') or write a .gif instead"
        ) from err

    def write(path, arrays, fps):
        # H.264 in yuv420p needs even sides: repeat the last row / column of odd-sized frames
        # (imageio would otherwise rescale the whole frame, with a warning).
        h, w = arrays[0].shape[:2]
        pad = ((0, h % 2), (0, w % 2), (0, 0))
        arrays = [np.pad(a, pad, mode="edge") for a in arrays]
        imageio.mimwrite(path, arrays, fps=fps, codec="libx264", quality=8, macro_block_size=1)

    return write
