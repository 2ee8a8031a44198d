"""Pyramid models: a coarse-to-fine cascade of per-scale generators (SinGAN, SinIR).

Generation, sampling from a start scale and every manipulation task
(injection of an image at some scale) are the same loop over scales::

    x = G_k(x_up)                     # x_up: the injected / previous image at scale k
    for i in k+1 .. finest:
        x = G_i(up(x))

:meth:`PyramidModel.run_scales` is that loop, written once; a method
implements :meth:`PyramidModel.forward_scale` (one generator application, with
whatever noise the method uses), :meth:`PyramidModel.reconstruct`,
:meth:`~sinkit.core.capabilities.Sampler.sample` and its scale count.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Mapping, Sequence

import torch

from .capabilities import Injectable, Sampler, check_injection_scale
from .model import SingleImageModel
from .pyramid import PyramidSpec, build_pyramid, scaled_sizes
from .resize import resize

__all__ = ["PyramidModel", "NoiseInputs"]


class PyramidModel(SingleImageModel, Sampler, Injectable):
    """A trained pyramid of per-scale generators; scale index 0 is the coarsest (the paper's ``N``).

    Attributes:
        spec: pyramid sizes (:class:`~sinkit.core.pyramid.PyramidSpec`), all scales of the
            finished model (an interrupted run has trained only the first :attr:`num_scales`).
        real: the training image at the finest scale, ``(1, 3, H, W)`` in ``[-1, 1]`` (a buffer).
    """

    def __init__(self, config: Any, inputs: Mapping[str, torch.Tensor], spec: PyramidSpec, info: dict | None = None):
        super().__init__(config, inputs, info)
        self.spec = spec
        self._pyramid: list[torch.Tensor] | None = None

    # ----------------------------------------------------------------- sizes
    @property
    @abstractmethod
    def num_scales(self) -> int:
        """Number of trained scales (equals ``spec.num_scales`` once training finished)."""

    @property
    def sizes(self) -> tuple[tuple[int, int], ...]:
        """``(height, width)`` of every scale of the pyramid, coarsest first."""
        return self.spec.sizes

    @property
    def complete(self) -> bool:
        return self.num_scales == self.spec.num_scales

    def output_size(self) -> tuple[int, int]:
        """``(height, width)`` of the finest TRAINED scale (an interrupted run stops before ``sizes[-1]``)."""
        return tuple(self.sizes[self.num_scales - 1])

    @property
    def pyramid(self) -> list[torch.Tensor]:
        """The training image at every scale, coarsest first (built once, cached)."""
        if self._pyramid is None or self._pyramid[0].device != self.device:
            self._pyramid = build_pyramid(self.real, self.spec)
        return self._pyramid

    def _apply(self, fn, *args, **kwargs):
        self._pyramid = None  # moved to another device / dtype: rebuild on next use
        return super()._apply(fn, *args, **kwargs)

    def training_image(self) -> torch.Tensor:
        """The training image at the finest trained scale, ``(1, 3, h, w)`` in ``[-1, 1]``."""
        return self.pyramid[self.num_scales - 1]

    def image_at_scale(self, scale: int) -> torch.Tensor:
        return self.pyramid[scale]

    def sizes_for(self, size: tuple[int, int] | None) -> list[tuple[int, int]]:
        """Per-scale sizes for an output of ``size`` = ``(height, width)`` px (None: the training sizes).

        The generators are fully convolutional, so every level is scaled by the
        same factors (SinGAN's "arbitrary size" samples,
        :func:`~sinkit.core.pyramid.scaled_sizes`).
        """
        if size is None:
            return list(self.sizes)
        h, w = self.output_size()
        return scaled_sizes(self.sizes, scale_h=size[1] / w, scale_v=size[0] / h)

    def structure(self) -> dict:
        return {"pyramid": self.spec.to_dict()}

    def check_consistency(self) -> None:
        """The training image has the finest size of the pyramid, and no more scales are trained
        than the pyramid has."""
        if tuple(self.real.shape[-2:]) != tuple(self.spec.image_size):
            raise ValueError(f"its image is {self.real.shape[-2]}x{self.real.shape[-1]} px but its pyramid's finest scale is {self.spec.image_size[0]}x{self.spec.image_size[1]}")
        if not 1 <= self.num_scales <= self.spec.num_scales:
            raise ValueError(f"{self.num_scales} trained scales for a pyramid of {self.spec.num_scales}")

    # ----------------------------------------------------------------- one scale and the loop
    @abstractmethod
    def forward_scale(self, index: int, x_up: torch.Tensor, *, noise: Any = "random", generator: torch.Generator | None = None) -> torch.Tensor:
        """Apply generator ``index`` to the upsampled previous image ``x_up``.

        Args:
            index: scale index (0 = coarsest).
            x_up: ``(B, 3, h, w)`` in ``[-1, 1]``.
            noise: the method's per-scale noise argument (a mode name or a tensor; methods
                without noise ignore it).
            generator: random source.

        Returns:
            ``(B, 3, h, w)`` in ``[-1, 1]``.
        """

    def valid_injection_scales(self) -> range:
        """Scales at which an image can be injected: every trained one unless the method says otherwise."""
        return range(0, self.num_scales)

    def check_injection_scale(self, index: int) -> int:
        """Return ``index`` if it is a valid injection scale.

        Raises:
            ValueError: outside :meth:`valid_injection_scales` (the message lists the range).
        """
        return check_injection_scale(self, index)

    def injection_input(self, image: torch.Tensor, index: int, sizes: Sequence[tuple[int, int]] | None = None) -> torch.Tensor:
        """The ``x_up`` to feed scale ``index`` when injecting ``image`` (any size): ``image`` resized
        to the scale's size.  Methods override it with their official construction.

        Raises:
            ValueError: ``index`` outside :meth:`valid_injection_scales`.
        """
        self.check_injection_scale(index)
        sizes = self.sizes if sizes is None else sizes
        return resize(image, sizes[index])

    def run_scales(
        self,
        x_up: torch.Tensor,
        start: int,
        *,
        stop: int | None = None,
        sizes: Sequence[tuple[int, int]] | None = None,
        noise: Any = "random",
        generator: torch.Generator | None = None,
        return_all: bool = False,
    ) -> torch.Tensor | list[torch.Tensor]:
        """Run generators ``start .. stop - 1`` from the image ``x_up`` given at scale ``start``.

        This is the injection mechanism of SinGAN sec. 4 and SinIR sec. 3.3:
        ``x_up`` is resized to scale ``start``'s size if needed, then every
        finer generator refines the upsampled output of the previous one.

        Args:
            x_up: ``(B, 3, h, w)`` in ``[-1, 1]``: the image given to scale ``start``.
            start: first scale to run (0 = coarsest).
            stop: one past the last scale (default: all trained scales).
            sizes: per-scale sizes (default :attr:`sizes`; see :meth:`sizes_for`).
            noise: one value for every scale (a string), or a sequence with one entry per
                scale run; each entry is passed to :meth:`forward_scale` as is.
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

    @abstractmethod
    def reconstruct(self, stop: int | None = None) -> list[torch.Tensor]:
        """The model's reconstruction of the training image at every scale ``< stop``, coarsest first."""

    def reconstruction(self) -> torch.Tensor:
        with torch.no_grad():
            return self.reconstruct()[-1]

    @torch.no_grad()
    def inject(self, image, scale, *, num=1, size=None, noise="random", generator=None):
        """Inject ``image`` at ``scale`` (:meth:`injection_input`) and run the finer generators
        (:meth:`run_scales`); see :meth:`~sinkit.core.capabilities.Injectable.inject`."""
        sizes = None if size is None else self.sizes_for(size)
        x_up = self.injection_input(image.to(self.device), scale, sizes=sizes)
        return self.run_scales(x_up.expand(num, -1, -1, -1), scale, sizes=sizes, noise=noise, generator=generator)

    # ----------------------------------------------------------------- display
    def describe(self) -> str:
        lines = [super().describe()]
        lines.append(f"scales        {self.num_scales} of {self.spec.num_scales} trained (index 0 = coarsest), factor {self.spec.scale_factor:.4f}")
        return "\n".join(lines)


class NoiseInputs(ABC):
    """A pyramid whose generators take per-scale noise maps (SinGAN): the z-space that
    animation's random walk moves in (SinGAN sec. 4)."""

    @abstractmethod
    def noise_like(self, index: int, batch: int, size: tuple[int, int], generator: torch.Generator | None = None) -> torch.Tensor:
        """Fresh standard-normal noise of the shape :meth:`PyramidModel.forward_scale` takes at ``index``."""

    @abstractmethod
    def reconstruction_noise(self, index: int) -> torch.Tensor:
        """The fixed noise of the reconstruction path at scale ``index``, shaped like :meth:`noise_like`."""
