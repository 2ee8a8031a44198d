"""What every single-image pyramid model offers, whatever its training method.

A trained model is a pyramid of per-scale generators.  Generation, sampling
from a start scale and every manipulation task (injection of an image at some
scale) are the same loop over scales::

    x = G_k(noise_k, x_up)            # x_up: the injected / previous image at scale k
    for i in k+1 .. finest:
        x = G_i(noise_i, up(x))

:meth:`MultiScaleModel.run_scales` is that loop, written once; a method only
implements :meth:`MultiScaleModel.forward_scale` (one generator application)
and its checkpoint tensors.  Task code (``sinkit.tasks``) works on any model
through this interface.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Sequence

import torch

from .checkpoint import save_checkpoint
from .config import config_to_dict
from .pyramid import PyramidSpec, build_pyramid, scaled_sizes
from .resize import resize

__all__ = ["MultiScaleModel", "NoiseSpec", "NOISE_MODES"]

#: ``"random"``: fresh Gaussian noise; ``"reconstruction"``: the fixed reconstruction
#: noise {z*, 0, ..., 0} (SinGAN eq. 5); ``"zero"``: no noise at all.
NOISE_MODES = ("random", "reconstruction", "zero")

#: Per call: one mode for every scale, or one entry per scale from the start scale
#: on (a mode string or an explicit noise tensor from :meth:`MultiScaleModel.noise_like`).
NoiseSpec = str | Sequence[str | torch.Tensor]


class MultiScaleModel(ABC):
    """A trained pyramid of generators; scale index 0 is the coarsest.

    Attributes:
        config: the method's frozen config dataclass.
        spec: pyramid sizes (:class:`~sinkit.core.pyramid.PyramidSpec`).
        real: the training image at the finest scale, ``(1, 3, H, W)`` in ``[-1, 1]``.
        info: JSON-ready training record (wall time per scale, sinkit version...).
    """

    #: registry name, e.g. ``"singan"``
    method: ClassVar[str]
    #: False for methods whose output does not depend on noise (SinIR): "samples" are all
    #: the same image, so the CLI writes a reconstruction instead.
    stochastic: ClassVar[bool] = True

    def __init__(self, config: Any, spec: PyramidSpec, real: torch.Tensor, info: dict | None = None):
        self.config = config
        self.spec = spec
        self.real = real
        self.info: dict = dict(info or {})
        self._pyramid: list[torch.Tensor] | None = None

    # ----------------------------------------------------------------- properties
    @property
    def device(self) -> torch.device:
        return self.real.device

    @property
    def sizes(self) -> tuple[tuple[int, int], ...]:
        """``(height, width)`` of every scale, coarsest first."""
        return self.spec.sizes

    @property
    def num_scales(self) -> int:
        """Number of trained scales (equals ``len(self.sizes)`` once training finished)."""
        return self.spec.num_scales

    @property
    def pyramid(self) -> list[torch.Tensor]:
        """The training image at every scale, coarsest first (built once, cached)."""
        if self._pyramid is None or self._pyramid[0].device != self.device:
            self._pyramid = build_pyramid(self.real, self.spec)
        return self._pyramid

    def valid_injection_scales(self) -> range:
        """Scales at which an image can be injected; SinGAN's coarsest takes only noise."""
        return range(1, self.num_scales)

    def injection_input(
        self, image: torch.Tensor, index: int, sizes: Sequence[tuple[int, int]] | None = None
    ) -> torch.Tensor:
        """The ``x_up`` to feed scale ``index`` when injecting ``image`` (any size).

        Default: ``image`` resized to the scale's size.  SinGAN overrides this with
        the official down-to-the-coarser-scale-then-up construction.

        Args:
            image: ``(B, 3, H, W)`` in ``[-1, 1]``.
            index: injection scale (must be in :meth:`valid_injection_scales`).
            sizes: per-scale sizes for another output shape (default :attr:`sizes`;
                see :func:`~sinkit.core.pyramid.scaled_sizes`).

        Raises:
            ValueError: ``index`` outside :meth:`valid_injection_scales`.
        """
        self._check_injection_scale(index)
        sizes = self.sizes if sizes is None else sizes
        return resize(image, sizes[index])

    def _check_injection_scale(self, index: int) -> None:
        valid = self.valid_injection_scales()
        if index not in valid:
            raise ValueError(
                f"injection scale {index} is outside the valid range {valid.start}..{valid.stop - 1} "
                f"(0 = coarsest = paper's N)"
            )

    # ----------------------------------------------------------------- one scale
    @abstractmethod
    def forward_scale(
        self,
        index: int,
        x_up: torch.Tensor,
        *,
        noise: str | torch.Tensor = "random",
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Apply generator ``index`` to the upsampled previous image ``x_up``.

        Args:
            index: scale index (0 = coarsest).
            x_up: ``(B, 3, h, w)`` in ``[-1, 1]``; zeros at the coarsest scale.
            noise: a mode from :data:`NOISE_MODES` or an explicit noise tensor.
            generator: random source for ``"random"`` noise.

        Returns:
            ``(B, 3, h, w)`` in ``[-1, 1]``.
        """

    def noise_like(self, index: int, batch: int, size: tuple[int, int], generator: torch.Generator | None = None) -> torch.Tensor:
        """Fresh standard-normal noise of the shape :meth:`forward_scale` expects at ``index``.

        Methods without noise (SinIR) return an empty tensor.
        """
        return torch.empty(0)

    def reconstruction_noise(self, index: int) -> torch.Tensor:
        """The fixed noise of the reconstruction path at scale ``index`` (SinGAN eq. 5: z* at the
        coarsest scale, zeros elsewhere), shaped like :meth:`noise_like` at the training size.

        Default: zeros (methods without noise return an empty tensor).  Animation's
        random walk (SinGAN sec. 4) is anchored on it.
        """
        return torch.zeros_like(self.noise_like(index, 1, self.sizes[index]))

    # ----------------------------------------------------------------- the loop
    def run_scales(
        self,
        x_up: torch.Tensor,
        start: int,
        *,
        stop: int | None = None,
        sizes: Sequence[tuple[int, int]] | None = None,
        noise: NoiseSpec = "random",
        generator: torch.Generator | None = None,
        return_all: bool = False,
    ) -> torch.Tensor | list[torch.Tensor]:
        """Run generators ``start .. stop - 1`` from the image ``x_up`` given at scale ``start``.

        This is the injection mechanism of SinGAN sec. 4 and SinIR sec. 3.3:
        ``x_up`` is resized to scale ``start``'s size if needed, then every
        finer generator refines the upsampled output of the previous one.

        Args:
            x_up: ``(B, 3, h, w)`` in ``[-1, 1]``: the previous-scale image
                upsampled to ``start`` (zeros for SinGAN's coarsest scale).
            start: first scale to run (0 = coarsest).
            stop: one past the last scale (default: all trained scales).
            sizes: per-scale sizes (default :attr:`sizes`); pass
                :func:`~sinkit.core.pyramid.scaled_sizes` for other shapes.
            noise: one mode for all scales, or a sequence with one entry per
                scale run (mode string or explicit tensor).
            generator: random source (determinism with a seed).
            return_all: return every scale's output, not only the last.

        Returns:
            ``(B, 3, H, W)`` output at scale ``stop - 1`` (or the list of outputs),
            clipped to ``[-1, 1]`` (a generator's residual can overshoot).

        Raises:
            ValueError: ``start``/``stop`` outside the trained scales, or a noise
                sequence of the wrong length.
        """
        stop = self.num_scales if stop is None else stop
        if not 0 <= start < stop <= self.num_scales:
            raise ValueError(f"need 0 <= start < stop <= {self.num_scales}, got start={start}, stop={stop}")
        sizes = list(sizes if sizes is not None else self.sizes)
        per_scale = [noise] * (stop - start) if isinstance(noise, str) else list(noise)
        if len(per_scale) != stop - start:
            raise ValueError(f"need {stop - start} noise entries (scales {start}..{stop - 1}), got {len(per_scale)}")
        x = resize(x_up, sizes[start])
        outputs = []
        for k, index in enumerate(range(start, stop)):
            x = self.forward_scale(index, x, noise=per_scale[k], generator=generator)
            outputs.append(x.clamp(-1.0, 1.0))
            if index + 1 < stop:
                x = resize(x, sizes[index + 1])
        return outputs if return_all else outputs[-1]

    @torch.no_grad()
    def reconstruct(self, stop: int | None = None) -> list[torch.Tensor]:
        """Reconstruction of the training image at every scale ``< stop``, coarsest first."""
        stop = self.num_scales if stop is None else stop
        x0 = torch.zeros(1, 3, *self.sizes[0], device=self.device)
        return self.run_scales(x0, 0, stop=stop, noise="reconstruction", return_all=True)

    @torch.no_grad()
    def sample(
        self,
        num: int = 1,
        *,
        start_scale: int = 0,
        scale_h: float = 1.0,
        scale_v: float = 1.0,
        generator: torch.Generator | int | None = None,
        batch_size: int = 16,
    ) -> torch.Tensor:
        """Draw random samples (SinGAN sec. 3, "Effect of scales at test time").

        Scales coarser than ``start_scale`` follow the reconstruction path
        (fixed noise ``z_rec``) at the training size; from ``start_scale`` on,
        fresh noise is drawn.  For other shapes every level is scaled by
        ``scale_v`` (height) and ``scale_h`` (width); when ``start_scale > 0``
        the reconstruction is resized to the new shape where random generation
        begins.

        Args:
            num: number of samples.
            start_scale: first scale with random noise (0 = coarsest = paper's N).
            scale_h, scale_v: width / height factors (official defaults 1.5 and 1
                for "arbitrary size" samples; 1 = training shape).
            generator: ``torch.Generator`` or integer seed; the same seed gives
                the same images on every device.
            batch_size: samples generated per forward pass.

        Returns:
            ``(num, 3, H', W')`` in ``[-1, 1]``.

        Raises:
            ValueError: ``start_scale`` outside ``0 .. num_scales - 1`` or bad factors.
        """
        if not 0 <= start_scale < self.num_scales:
            raise ValueError(f"start_scale must be in 0..{self.num_scales - 1}, got {start_scale}")
        if isinstance(generator, int):
            generator = torch.Generator().manual_seed(generator)
        sizes = scaled_sizes(self.sizes, scale_h, scale_v)
        if start_scale > 0:
            x_up = resize(self.reconstruct(stop=start_scale)[-1], sizes[start_scale])
        else:
            x_up = torch.zeros(1, 3, *sizes[0], device=self.device)
        out = []
        for first in range(0, num, batch_size):
            b = min(batch_size, num - first)
            out.append(
                self.run_scales(x_up.expand(b, -1, -1, -1), start_scale, sizes=sizes, noise="random", generator=generator)
            )
        return torch.cat(out)

    # ----------------------------------------------------------------- persistence
    @abstractmethod
    def state_tensors(self) -> dict[str, torch.Tensor]:
        """All tensors needed to rebuild the model (weights, fixed noise, training image)."""

    def metadata(self) -> dict:
        """JSON-ready description stored next to the tensors."""
        from .. import __version__

        return {
            "method": self.method,
            "sinkit_version": __version__,
            "config": config_to_dict(self.config),
            "pyramid": self.spec.to_dict(),
            "image_size": list(self.real.shape[-2:]),
            "info": self.info,
        }

    def save(self, directory: str | Path) -> Path:
        """Write the model to ``directory`` (``config.json`` + ``model.safetensors``), atomically."""
        return save_checkpoint(directory, self.state_tensors(), self.metadata())

    @classmethod
    @abstractmethod
    def from_state(cls, tensors: dict[str, torch.Tensor], meta: dict) -> "MultiScaleModel":
        """Rebuild from :meth:`state_tensors` and :meth:`metadata` output.

        Raises:
            CheckpointError: missing or mis-shaped tensors.
        """

    def to(self, device: str | torch.device) -> "MultiScaleModel":
        """Move every tensor of the model to ``device`` (in place; returns self)."""
        raise NotImplementedError

    def describe(self) -> str:
        """Human-readable summary (what ``sinkit info`` prints)."""
        lines = [
            f"method        {self.method}",
            f"image size    {self.real.shape[-2]}x{self.real.shape[-1]} (HxW, px)",
            f"scales        {self.num_scales} (index 0 = coarsest), factor {self.spec.scale_factor:.4f}",
        ]
        if "train_seconds" in self.info:
            lines.append(f"training time {sum(self.info['train_seconds']):.1f} s")
        return "\n".join(lines)


def timer() -> float:
    return time.perf_counter()
