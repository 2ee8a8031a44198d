"""SinGAN training: scale by scale, coarsest first (paper sec. 2.2; official ``training.py``)."""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..core.device import resolve_device
from ..core.io import save_grid, save_image
from ..core.losses import gradient_penalty
from ..core.pyramid import PyramidSpec, singan_pyramid, sr_pyramid
from ..core.resize import resize, resize_matrix
from ..core.training import private_noise_generator, scale_seed, start_run, train_scales
from .config import SinGANConfig
from .model import Scale, SinGAN
from .networks import build_networks, init_weights

__all__ = ["train", "pyramid_spec", "train_scale", "ScaleTrainer", "prepare_process", "reconstruction_noise_generator"]


def prepare_process() -> bool:
    """Keep freed memory in the process instead of returning it to the kernel (glibc only).

    A training iteration allocates and frees the same few hundred megabytes of
    activations again and again.  glibc serves large blocks with ``mmap`` and
    returns freed heap tops to the kernel, so every iteration page-faults the
    same memory back in (zeroed by the kernel).  Raising ``M_MMAP_THRESHOLD`` to
    its maximum (32 MiB) and ``M_TRIM_THRESHOLD`` to 1 GiB keeps that memory
    mapped (what ``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_`` do when set
    before the process starts); the process's resident memory then stays at its
    peak.  Set ``SINKIT_MALLOC_TUNING=0`` to leave the allocator alone.

    Returns:
        True when the settings were applied.
    """
    if os.environ.get("SINKIT_MALLOC_TUNING", "1") == "0":
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        return False
    if mallopt is None:
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # <malloc.h>
    return bool(mallopt(M_MMAP_THRESHOLD, 32 * 2**20)) and bool(mallopt(M_TRIM_THRESHOLD, 2**30))


def reconstruction_noise_generator(seed: int) -> torch.Generator:
    """The random source of z*, separate from every stream a sampling seed can select.

    z* used to come first out of ``torch.Generator().manual_seed(scale_seed(seed, 0))``;
    for seed 0 that is the generator ``model.sample(..., generator=0)`` builds,
    so sample #0 started from z* and came out nearly the reconstruction.  The
    seed here is 64 bits of SHA-256 of the training seed: fixed by the training
    config (a resumed run draws the same z*), and no small integer a user or
    the bench passes as a sampling seed reproduces it.  Saved models store z*,
    so they sample exactly as before.
    """
    return private_noise_generator(seed, "singan.z_rec")


def pyramid_spec(config: SinGANConfig, height: int, width: int) -> PyramidSpec:
    """The scale sizes ``config`` builds for a ``height`` x ``width`` px image (what :func:`train` trains).

    Raises:
        ValueError: image too small for the pyramid.
    """
    if config.sr_factor:
        return sr_pyramid(height, width, config.sr_factor, min_size=config.min_size, max_size=config.max_size)
    return singan_pyramid(height, width, min_size=config.min_size, max_size=config.max_size, scale_factor=config.scale_factor)


def train(
    image: torch.Tensor,
    config: SinGANConfig,
    *,
    out_dir: str | Path | None = None,
    resume: bool = False,
    device: str | torch.device = "auto",
    progress: bool = True,
    stop_after: int | None = None,
    on_scale_end: Callable[[SinGAN, int], None] | None = None,
) -> SinGAN:
    """Train SinGAN on one image.

    After every finished scale the model is saved to ``out_dir`` (atomically),
    together with ``scales/NN/`` images (real, reconstruction, samples), so an
    interrupted run loses at most the scale in progress.

    Args:
        image: ``(1, 3, H, W)`` in ``[-1, 1]``, any size; it is resized so its long
            side is at most ``config.max_size``.
        config: hyperparameters (:data:`~sinkit.singan.config.PRESETS`).
        out_dir: where to save checkpoints and per-scale images (None: nothing saved).
        resume: continue the run saved in ``out_dir`` (same image and config).
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        progress: show a progress bar per scale.
        stop_after: train only this many scales in total (for tests / interruption).
        on_scale_end: called with ``(model, index)`` after each scale.

    Returns:
        The trained :class:`SinGAN`.

    Raises:
        ValueError: image too small for the pyramid; ``resume`` with a different
            image or config than the saved run.
        CheckpointError: ``resume`` from a corrupt checkpoint.
    """
    if image.dim() != 4 or image.shape[:2] != (1, 3):
        raise ValueError(f"expected a (1, 3, H, W) image, got {tuple(image.shape)}")
    device = resolve_device(device)
    spec = pyramid_spec(config, image.shape[2], image.shape[3])
    real = resize(image.to(device), spec.image_size)

    model, _ = start_run(
        SinGAN, {"image": real}, config, out_dir=out_dir, resume=resume, device=device,
        create=lambda: SinGAN(config, {"image": real}, spec, [], {}),
    )
    if device.type == "cpu":
        prepare_process()
    model.info["precision"] = "bf16" if model.uses_bf16() else "fp32"
    return train_scales(
        model,
        lambda index: train_scale(model, index, progress=progress),
        model.scales.append,
        iters=config.iters,
        out_dir=out_dir,
        stop_after=stop_after,
        write_scale_images=write_scale_images,
        on_scale_end=on_scale_end,
    )


def train_scale(model: SinGAN, index: int, *, progress: bool = True) -> tuple[Scale, dict]:
    """Train G_index and D_index against the pyramid level ``index``; earlier scales are frozen.

    Implements SinGAN eq. 4 (see :class:`ScaleTrainer` for one iteration and the
    deviations from the official loop).

    Returns:
        The trained :class:`Scale` and a dict of loss summaries.
    """
    trainer = ScaleTrainer(model, index)
    config = model.config
    size = trainer.scale.size
    rec_history: list[float] = []
    d_history: list[float] = []
    bar = tqdm(
        range(config.iters),
        desc=f"scale {index}/{model.spec.num_scales - 1} {size[0]}x{size[1]}",
        disable=not progress,
        leave=True,
        dynamic_ncols=True,
    )
    for it in bar:
        loss_d, loss_adv, loss_rec = trainer.step()
        rec_history.append(loss_rec.item())
        d_history.append(loss_d.item())
        if progress and (it % 25 == 0 or it == config.iters - 1):
            bar.set_postfix(D=f"{loss_d.item():+.3f}", G=f"{loss_adv.item():+.3f}", rec=f"{loss_rec.item():.4f}")
    bar.close()
    scale = trainer.finish()
    k = max(1, min(20, len(rec_history) // 5))
    losses = {
        "rec_first": sum(rec_history[:k]) / k,
        "rec_last": sum(rec_history[-k:]) / k,
        "d_last": sum(d_history[-k:]) / k,
        "noise_amp": scale.noise_amp,
    }
    return scale, losses


class ScaleTrainer:
    """G_n, D_n, their optimisers and the fixed inputs of one scale, and one training iteration.

    ``step()`` is one iteration of SinGAN eq. 4 (``min_G max_D L_adv + alpha * L_rec``
    with WGAN-GP): ``d_steps`` critic updates, then ``g_steps`` generator updates,
    then the learning-rate schedules.  ``finish()`` returns the trained :class:`Scale`.

    Deviations from the official loop (each keeps the method; see docs/singan.md):

    * the reconstruction noise z* is drawn once and kept fixed (paper; the
      official code redraws it every iteration, upstream issue #63);
    * the official code reuses the last critic step's fake in all generator
      steps, which modern PyTorch rejects after the first (#148): the first
      generator step reuses it (as the official code does), the others
      recompute it;
    * the ``d_steps`` random images from the coarser scales are drawn in one
      batched pass per iteration instead of one pass per critic step (the
      coarser generators are frozen and in eval mode, so each image has the same
      distribution); the other critic steps' fakes are computed without autograd;
      the critic's parameters collect no gradient during generator steps.

    Option, off by default: with ``config.train_depth > 1`` (ConSinGAN's concurrent training) a
    whole-image scale also trains its next-coarser generators; its generator steps then recompute
    the coarser images with autograd (:meth:`_coarser_with_grad`) instead of reusing the last
    critic step's fake.

    Speed (same computation, measured in docs/singan.md and ``benchmarks/vs_official.py``):
    networks and images in channels-last layout (oneDNN's native layout: no
    reorders, and with bf16 it reaches the CPU's AMX / AVX512-BF16 units), and
    the critic's batch normalisation in elementary ops
    (:class:`~sinkit.singan.networks.BatchStatNorm2d`) whose double backward,
    needed by the gradient penalty, is several times cheaper than PyTorch's;
    with crop training, the coarser scales computed only where the window
    reads them (:meth:`_coarser_in_window`).

    Args:
        model: the model whose scales ``0 .. index - 1`` are trained.
        index: the scale to train (``== model.num_scales``).

    Attributes:
        reuse_fake: the first generator step reuses the last critic step's fake
            (official; default).  False recomputes it, as sinkit did before; kept
            to measure the difference (``benchmarks/singan_levers.py``).
        window_coarser: with crop training, compute the coarser scales' image only where the
            training window reads it (:meth:`_coarser_in_window`; default).  False draws it
            on the whole image; kept to measure the difference
            (``benchmarks/singan_window_draw.py``).  Both give the same values up to
            float rounding and consume the random stream identically.
    """

    reuse_fake: bool = True
    window_coarser: bool = True

    def __init__(self, model: SinGAN, index: int):
        config: SinGANConfig = model.config
        device = model.device
        self.model, self.index, self.config = model, index, config
        seed = scale_seed(config.seed, index)
        torch.manual_seed(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.memory_format = torch.channels_last if device.type in ("cpu", "cuda") else torch.contiguous_format

        channels = config.channels(index)
        size = tuple(model.pyramid[index].shape[-2:])
        g_net, d_net = build_networks(channels, config, index, size)
        init_weights(g_net)
        init_weights(d_net)
        previous = model.scales[index - 1] if index > 0 else None
        if previous is not None and previous.channels == channels and config.batch_norm_at(index - 1, previous.size) == config.batch_norm_at(index, size):
            # Official: a scale of the same width starts from the previous scale's weights
            # (not across a change of normalisation, norm="uncropped"/"coarsest": those weights expect batch norm).
            g_net.load_state_dict(previous.generator.state_dict())
            d_net.load_state_dict(previous.discriminator.state_dict())
        g_net.to(device, memory_format=self.memory_format).train()
        d_net.to(device, memory_format=self.memory_format).train()
        for s in model.scales:  # the frozen coarser generators draw x_up every iteration
            s.generator.to(memory_format=self.memory_format)

        real = model.pyramid[index].contiguous(memory_format=self.memory_format)
        self.real = real
        self.scale = scale = Scale(g_net, d_net, 1.0, size, None)
        self.pad = pad = scale.generator_padding if config.noise_padding else 0
        if index == 0:
            # Coarsest: sigma = 1, input image zero; z* drawn once (1 channel, expanded), from its own
            # stream so that no sampling seed redraws it (see reconstruction_noise_generator).
            z_gen = reconstruction_noise_generator(config.seed)
            scale.z_rec = torch.randn(1, 1, size[0] + 2 * pad, size[1] + 2 * pad, generator=z_gen).to(device)
            self.z_rec = scale.z_rec
            self.x_up_rec = torch.zeros_like(real)
        else:
            with torch.no_grad():
                x_up_rec = resize(model.reconstruct(stop=index)[-1], size)
            scale.noise_amp = config.noise_amp_init * math.sqrt(F.mse_loss(x_up_rec, real).item())
            self.x_up_rec = x_up_rec.contiguous(memory_format=self.memory_format)
            self.z_rec = torch.zeros(1, 3, size[0] + 2 * pad, size[1] + 2 * pad, device=device)
        self.noise_channels = 1 if index == 0 else 3
        # crop training (not in the paper): critic and generator see random windows of at most
        # crop_size x crop_size px; None: the whole image (paper)
        self.crop = config.crop_at(size)

        # concurrent training (config.train_depth; ConSinGAN, Hinz et al. WACV 2021, sec. 3.1): the
        # coarser generators trained with this one, at learning rates lr_scale ** age; only where
        # this scale trains on the whole image (so are they).  The others stay frozen.
        self.concurrent = [] if self.crop is not None else list(range(max(0, index - config.train_depth + 1), index))
        if self.concurrent:
            for k, s in enumerate(model.scales):
                s.generator.requires_grad_(k in self.concurrent)  # no autograd graph through the frozen ones
        g_groups = [{"params": list(g_net.parameters()), "lr": config.lr_g}]
        g_groups += [
            {"params": list(model.scales[k].generator.parameters()), "lr": config.lr_g * config.lr_scale ** (index - k)}
            for k in reversed(self.concurrent)  # by age: G_{n-1}, G_{n-2}, ...
        ]
        self.opt_d = torch.optim.Adam(d_net.parameters(), lr=config.lr_d, betas=config.betas)
        self.opt_g = torch.optim.Adam(g_groups, betas=config.betas)
        milestone = [max(1, round(config.lr_decay_at * config.iters))]
        self.sched_d = torch.optim.lr_scheduler.MultiStepLR(self.opt_d, milestones=milestone, gamma=config.lr_gamma)
        self.sched_g = torch.optim.lr_scheduler.MultiStepLR(self.opt_g, milestones=milestone, gamma=config.lr_gamma)
        self.autocast = model._autocast
        self._matrices: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # upsampling matrices, by finer scale
        self._spans: dict[int, tuple[list, list]] = {}  # their nonzero spans (_resize_spans)
        self.window_pays = self._window_pays()

    def _draw_coarser(self, noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """``(d_steps, 3, h, w)`` upsampled random images from the frozen coarser scales (zeros at the
        coarsest), drawn from ``self.gen`` or from ``noise`` (:meth:`_coarser_noise`: the same images)."""
        config, model, size = self.config, self.model, self.scale.size
        with torch.no_grad():
            if self.index == 0:
                x_ups = torch.zeros(config.d_steps, 3, *size, device=self.real.device)
            else:
                zeros = torch.zeros(config.d_steps, 3, *model.sizes[0], device=self.real.device)
                x_ups = resize(model.run_scales(zeros, 0, stop=self.index, noise="random" if noise is None else noise, generator=self.gen), size)
        return x_ups.contiguous(memory_format=self.memory_format)

    def _coarser_with_grad(self, noise: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x_up, x_up_rec)``, each ``(1, 3, h, w)``, with autograd through the concurrent coarser
        generators (``config.train_depth``): the last critic step's coarser image (last entry of
        ``noise``) and the reconstruction path's (z*, 0, ..., 0), in one batch of two.  The coarser
        generators stay in eval mode (batch norm with its running statistics), so the two batch members
        do not interact."""
        model, n = self.model, self.index
        per_scale = [torch.cat([z[-1:], model.reconstruction_noise(k).expand_as(z[-1:])]) for k, z in enumerate(noise)]
        zeros = torch.zeros(2, 3, *model.sizes[0], device=self.real.device)
        x_ups = resize(model.run_scales(zeros, 0, stop=n, noise=per_scale), self.scale.size)
        x_ups = x_ups.contiguous(memory_format=self.memory_format)
        return x_ups[:1], x_ups[1:]

    def _coarser_noise(self) -> list[torch.Tensor]:
        """The noise maps ``_draw_coarser`` would draw, one ``(d_steps, c, h, w)`` per coarser scale,
        drawn from ``self.gen`` in the same order (so both paths leave the stream in the same state)."""
        model, d = self.model, self.config.d_steps
        return [model.noise_like(k, d, model.sizes[k], self.gen) for k in range(self.index)]

    def _coarser_in_window(self, noise: list[torch.Tensor], j: int, window: tuple[int, int, int, int]) -> torch.Tensor:
        """``(1, 3, h, w)``: image ``j`` of :meth:`_draw_coarser`, computed only where ``window`` reads it.

        Speed, same values: at a crop-trained scale the generator reads ``x_up`` only in the
        training window plus its receptive reach ``p``, yet drawing it on the whole image runs
        every coarser generator at full size (at the finest scale of the ``cpu`` preset, 40 % of
        an iteration).  Walking down the pyramid, each scale's needed rows and columns are the
        nonzero support of the upsampling matrix (:func:`~sinkit.core.resize.resize_matrix`) plus
        that generator's reach; walking back up, each coarser generator runs on its region only
        (:meth:`Scale.generate` with a window, eval mode: the crop of the whole-image output) and
        the region is upsampled by the matrices.  With the noise of :meth:`_coarser_noise` the
        result equals ``_draw_coarser()[j]`` inside the read region (float rounding: ~1e-6; tested)
        and is zero outside it, where nothing reads it.
        """
        model, sizes, n = self.model, self.model.sizes, self.index
        device = self.real.device
        inputs, outputs = self._read_regions(window)
        with torch.no_grad():
            x_up = torch.zeros(1, 3, *sizes[0], device=device)  # the coarsest scale's input (run_scales)
            for k in range(n):
                (r0, r1), (c0, c1) = outputs[k]
                with model._autocast():
                    out = model.scales[k].generate(
                        x_up.contiguous(memory_format=self.memory_format), noise[k][j : j + 1],
                        noise_padding=self.config.noise_padding, window=(r0, c0, r1 - r0, c1 - c0),
                    ).float()
                if k == n - 1:
                    out = out.clamp(-1.0, 1.0)  # run_scales clips its last output before the final resize
                (a0, a1), (b0, b1) = inputs[k + 1]
                m_rows, m_cols = self._resize_matrices(k + 1)
                part = m_rows[a0:a1, r0:r1] @ out @ m_cols[b0:b1, c0:c1].T
                if tuple(sizes[k + 1]) != tuple(sizes[k]):  # resize() returns a same-size image unclipped
                    part = part.clamp(-1.0, 1.0)
                x_up = torch.zeros(1, 3, *sizes[k + 1], device=device)
                x_up[:, :, a0:a1, b0:b1] = part
        return x_up.contiguous(memory_format=self.memory_format)

    def _read_regions(self, window: tuple[int, int, int, int]) -> tuple[dict, dict]:
        """Rows and columns ``((r0, r1), (c0, c1))`` that ``window`` reads, per coarser scale:
        of its input ``x_up`` (first dict, this scale included) and of its generator's output
        (second dict)."""
        model, sizes, n = self.model, self.model.sizes, self.index
        top, left, height, width = window
        reach = self.scale.generator_padding
        rows = (max(0, top - reach), min(sizes[n][0], top + height + reach))
        cols = (max(0, left - reach), min(sizes[n][1], left + width + reach))
        inputs, outputs = {n: (rows, cols)}, {}
        for k in range(n - 1, -1, -1):
            spans_rows, spans_cols = self._resize_spans(k + 1)
            rows, cols = _support(spans_rows[rows[0] : rows[1]]), _support(spans_cols[cols[0] : cols[1]])
            outputs[k] = (rows, cols)
            reach = model.scales[k].generator_padding
            rows = (max(0, rows[0] - reach), min(sizes[k][0], rows[1] + reach))
            cols = (max(0, cols[0] - reach), min(sizes[k][1], cols[1] + reach))
            inputs[k] = (rows, cols)
        return inputs, outputs

    def _window_pays(self) -> bool:
        """Whether the windowed draw saves work here: a centred window reads less than half of
        the next coarser scale (at the scales just above the crop size it reads nearly all of it,
        and the whole-image draw is as fast)."""
        if self.crop is None or self.index == 0:
            return False
        (h, w), (ch, cw) = self.scale.size, self.crop
        _, outputs = self._read_regions(((h - ch) // 2, (w - cw) // 2, ch, cw))
        (r0, r1), (c0, c1) = outputs[self.index - 1]
        size = self.model.sizes[self.index - 1]
        return (r1 - r0) * (c1 - c0) < 0.5 * size[0] * size[1]

    def _resize_matrices(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Row and column matrices of the upsampling from scale ``k - 1`` to scale ``k`` (cached)."""
        if k not in self._matrices:
            (h0, w0), (h1, w1) = self.model.sizes[k - 1], self.model.sizes[k]
            m_rows, m_cols = resize_matrix(h0, h1), resize_matrix(w0, w1)
            self._spans[k] = (_spans(m_rows), _spans(m_cols))
            self._matrices[k] = (m_rows.to(self.real.device), m_cols.to(self.real.device))
        return self._matrices[k]

    def _resize_spans(self, k: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Per output row and per output column of :meth:`_resize_matrices` ``(k)``, the
        ``(first, last + 1)`` input index it reads (plain Python: no tensor ops, no device sync)."""
        self._resize_matrices(k)
        return self._spans[k]

    def _window(self) -> tuple[int, int, int, int] | None:
        """A random ``(top, left, height, width)`` training window, or None for the whole image.

        The corner is drawn uniformly from ``[-(c - 1), n - 1]`` and clamped to ``[0, n - c]``, so a
        window lies flush with an image edge with probability ``c / (n + c - 1)`` per side.  A
        uniform corner in ``[0, n - c]`` would train the edge rows and columns (the only ones whose
        receptive field reaches the zero padding) 64x less often than the centre at 64 px crops of
        188 px, and the samples show a seam along the border; clamped, an edge row is covered as
        often as a row in the middle of the image (for ``n >= 2c - 1``), and no row more than 2x as
        often (the rows ``c`` px in from an edge).
        """
        if self.crop is None:
            return None

        def corner(n: int, c: int) -> int:
            return min(max(int(torch.randint(1 - c, n, (1,), generator=self.gen)), 0), n - c)

        (h, w), (ch, cw) = self.scale.size, self.crop
        top = corner(h, ch)  # drawn before left: the seeded window sequence
        left = corner(w, cw)
        return top, left, ch, cw

    @staticmethod
    def _cut(x: torch.Tensor, window: tuple[int, int, int, int] | None) -> torch.Tensor:
        if window is None:
            return x
        top, left, h, w = window
        return x[:, :, top : top + h, left : left + w]

    def step(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One iteration; returns the last critic loss (without the penalty), adversarial and reconstruction losses."""
        config, scale, real, gen, autocast = self.config, self.scale, self.real, self.gen, self.autocast
        g_net, d_net = scale.generator, scale.discriminator
        padding = config.noise_padding
        size = scale.size
        z = torch.randn(1, self.noise_channels, size[0] + 2 * self.pad, size[1] + 2 * self.pad, generator=gen).to(real.device)
        windowed = self.window_coarser and self.window_pays
        if windowed or self.concurrent:
            noise = self._coarser_noise()
        if not windowed:
            x_ups = self._draw_coarser(noise if self.concurrent else None)

        fake_graph = None
        for j in range(config.d_steps):
            window = self._window()
            x_up = self._coarser_in_window(noise, j, window) if windowed else x_ups[j : j + 1]
            real_w = self._cut(real, window)
            # (concurrent training recomputes it: the generator steps need gradients through the coarser scales)
            last = self.reuse_fake and j == config.d_steps - 1 and not self.concurrent
            # the last critic step's fake keeps its graph: the first generator step reuses it (official)
            with torch.set_grad_enabled(last), autocast():
                out = scale.generate(x_up, z, noise_padding=padding, window=window)
            fake_graph = out if last else None
            fake = out.detach().float()
            self.opt_d.zero_grad(set_to_none=True)
            with autocast():
                loss_d = -d_net(real_w).float().mean() + d_net(fake).float().mean()
                gp = gradient_penalty(d_net, real_w, fake, gen)
            (loss_d + config.gp_weight * gp).backward()
            self.opt_d.step()

        d_net.requires_grad_(False)
        for k in range(config.g_steps):
            self.opt_g.zero_grad(set_to_none=True)
            rec_window = self._window()
            x_up_rec = self.x_up_rec
            if self.concurrent:
                x_up, x_up_rec = self._coarser_with_grad(noise)
            with autocast():
                if k == 0 and fake_graph is not None:
                    fake = fake_graph
                else:
                    fake = scale.generate(x_up, z, noise_padding=padding, window=window)
                loss_adv = -d_net(fake).float().mean()
                rec = scale.generate(x_up_rec, self.z_rec, noise_padding=padding, window=rec_window).float()
            loss_rec = F.mse_loss(rec, self._cut(real, rec_window))
            (loss_adv + config.alpha * loss_rec).backward()
            self.opt_g.step()
        d_net.requires_grad_(True)
        self.sched_d.step()
        self.sched_g.step()
        return loss_d.detach(), loss_adv.detach(), loss_rec.detach()

    def finish(self) -> Scale:
        """The trained scale: networks in eval mode and the default memory layout."""
        for s in [*self.model.scales, self.scale]:
            s.generator.requires_grad_(True)  # undo the freezing of concurrent training
            s.generator.to(memory_format=torch.contiguous_format)
            s.discriminator.to(memory_format=torch.contiguous_format)
        self.scale.generator.eval()
        self.scale.discriminator.eval()
        return self.scale


def _spans(matrix: torch.Tensor) -> list[tuple[int, int]]:
    """Per row of ``matrix``, ``(first, last + 1)`` of its nonzero columns."""
    spans = []
    for row in matrix:
        nonzero = torch.nonzero(row).flatten()
        spans.append((int(nonzero[0]), int(nonzero[-1]) + 1))
    return spans


def _support(spans: list[tuple[int, int]]) -> tuple[int, int]:
    """``(first, last + 1)``: the columns that any of the rows with these ``spans`` reads."""
    return min(a for a, _ in spans), max(b for _, b in spans)


@torch.no_grad()
def write_scale_images(model: SinGAN, index: int, folder: Path, num_samples: int = 4) -> None:
    """Real image, reconstruction and random samples at scale ``index`` (to see where training went wrong)."""
    folder.mkdir(parents=True, exist_ok=True)
    save_image(model.pyramid[index], folder / "real.png")
    save_image(model.reconstruct(stop=index + 1)[-1], folder / "reconstruction.png")
    zeros = torch.zeros(num_samples, 3, *model.sizes[0], device=model.device)
    gen = torch.Generator().manual_seed(index)
    samples = model.run_scales(zeros, 0, stop=index + 1, generator=gen)
    save_grid(samples, folder / "samples.png", ncol=num_samples)
