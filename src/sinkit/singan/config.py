"""SinGAN hyperparameters: the official defaults, and the presets built from them."""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["SinGANConfig", "PRESETS"]


@dataclass(frozen=True)
class SinGANConfig:
    """Everything that defines a SinGAN training run; stored verbatim in the checkpoint.

    Defaults are the official implementation's (``config.py`` of the authors'
    code) unless a comment says otherwise.
    """

    # --- pyramid (paper sec. 3: coarsest short side 25 px, long side 250 px, r ~ 4/3)
    max_size: int = 250
    """long side of the finest scale, px"""
    min_size: int = 25
    """short side of the coarsest scale, px"""
    scale_factor: float = 0.75
    """nominal ratio between scales; recomputed per image (official ``scale_factor``)"""

    # --- networks (paper sec. 2.1, fig. 5)
    num_layers: int = 5
    """conv layers per generator / discriminator (receptive field 11 px)"""
    kernel_size: int = 3
    base_channels: int = 32
    """width at the coarsest scales; doubles every ``channels_double_every`` scales"""
    channels_double_every: int = 4
    max_channels: int = 128
    norm: str = "batch"
    """normalisation after each hidden conv of G and D: ``batch`` (paper, fig. 5), ``none``
    (ConSinGAN's networks, Hinz et al. WACV 2021), ``uncropped``: batch normalisation at the
    scales trained on the whole image, none at the scales trained on crops (``crop_size``), or
    ``coarsest``: batch normalisation at the coarsest scale only.  Batch normalisation of a
    crop-trained scale normalises by each 64 px window's own statistics in training but by their
    running average when sampling, a different function (docs/singan.md)"""

    # --- optimisation (official: niter 2000, Dsteps = Gsteps = 3, lr 5e-4, beta1 0.5)
    iters: int = 2000
    """iterations per scale"""
    d_steps: int = 3
    """critic updates per iteration"""
    g_steps: int = 3
    """generator updates per iteration"""
    lr_g: float = 5e-4
    lr_d: float = 5e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lr_decay_at: float = 0.8
    """fraction of ``iters`` at which the learning rates drop (official: MultiStepLR at 1600 of 2000)"""
    lr_gamma: float = 0.1

    # --- losses (paper eq. 4-5)
    gp_weight: float = 0.1
    """WGAN-GP weight (official ``lambda_grad``)"""
    alpha: float = 10.0
    """reconstruction loss weight (100 for super-resolution)"""
    noise_amp_init: float = 0.1
    """sigma_n = noise_amp_init * RMSE(up(x_rec_{n+1}), x_n)"""

    # --- cost (not in the paper)
    crop_size: int = 0
    """train scales larger than this on random crops of at most ``crop_size`` x ``crop_size`` px
    (critic, generator and reconstruction loss; the coarser scales' inputs and sampling stay
    whole-image; the window's corner is clamped so the image edges are trained as often as the
    centre, ``ScaleTrainer._window``).  The networks are convolutional with an 11 px receptive
    field, so a crop teaches the same patch statistics at a fraction of the cost.  0: the whole
    image (paper)"""

    train_depth: int = 1
    """scales trained together (not in SinGAN: ConSinGAN's concurrent training, Hinz et al., WACV 2021,
    sec. 3.1).  At a scale trained on the whole image, the ``train_depth - 1`` next-coarser generators
    are trained too, through this scale's adversarial and reconstruction losses, with learning rates
    scaled by ``lr_scale`` per scale of age.  Crop-trained scales (``crop_size``) train alone.
    1: SinGAN (each scale alone, the coarser ones frozen).  With the ``cpu`` preset, 2 lowers
    patch_swd and pixel diversity alike (layouts closer to the image's, fewer new ones; docs/singan.md)"""
    lr_scale: float = 0.1
    """learning-rate factor per scale of age for the coarser generators of ``train_depth`` (ConSinGAN: 0.1)"""

    # --- variants
    noise_padding: bool = False
    """draw noise at padded size instead of zero-padding it (official animation models)"""
    sr_factor: float = 0.0
    """super-resolution model: the upscaling factor its pyramid is built for (0: ordinary pyramid;
    see :meth:`SinGAN.sr_config`, paper sec. 4)"""
    bf16: bool | None = None
    """bfloat16 autocast for the networks (not in the paper).  None: on where the hardware computes
    bf16 natively (CPUs with AVX512-BF16 or AMX, CUDA GPUs from Ampere on; see
    :func:`sinkit.core.device.native_bf16`), off elsewhere; True / False force it.  On this project's
    2-core AMX machine it makes a paper-preset iteration ~2.5x faster than float32 (docs/singan.md)"""
    seed: int = 0
    """seed of initialisation, training noise and z* (each scale reseeds from it)"""

    @property
    def receptive_field(self) -> int:
        """Receptive field of a generator / discriminator, px (11 for 5 layers of 3x3, paper sec. 2.1)."""
        return self.num_layers * (self.kernel_size - 1) + 1

    def channels(self, index: int) -> int:
        """Network width at scale ``index`` (0 = coarsest): 32 for 0-3, 64 for 4-7, 128 from 8."""
        return min(self.base_channels * 2 ** (index // self.channels_double_every), self.max_channels)

    def crop_at(self, size: tuple[int, int]) -> tuple[int, int] | None:
        """The training window ``(h, w)`` of a scale of ``size`` px, or None when it trains on the whole image."""
        if not self.crop_size:
            return None
        crop = (min(size[0], self.crop_size), min(size[1], self.crop_size))
        return None if crop == tuple(size) else crop

    def batch_norm_at(self, index: int, size: tuple[int, int]) -> bool:
        """Whether the networks of scale ``index`` (0 = coarsest), ``size`` px, use batch normalisation (see ``norm``)."""
        if self.norm == "uncropped":
            return self.crop_at(size) is None
        return self.norm == "batch" or (self.norm == "coarsest" and index == 0)

    def __post_init__(self):
        for name in ("max_size", "min_size", "num_layers", "iters", "d_steps", "g_steps", "base_channels", "train_depth"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.min_size > self.max_size:
            raise ValueError(f"min_size ({self.min_size}) must not exceed max_size ({self.max_size})")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 1, got {self.kernel_size}")
        if self.min_size < self.receptive_field:
            # the discriminator's convolutions are unpadded (official): the coarsest scale must hold one receptive field
            raise ValueError(
                f"min_size ({self.min_size}) must be at least the networks' receptive field, "
                f"{self.receptive_field} px (num_layers * (kernel_size - 1) + 1)"
            )
        if not 0 < self.scale_factor < 1:
            raise ValueError(f"scale_factor must be in (0, 1), got {self.scale_factor}")
        if self.sr_factor != 0 and not self.sr_factor > 1:
            raise ValueError(f"sr_factor must be 0 (off) or > 1, got {self.sr_factor}")
        if self.crop_size and self.crop_size < 2 * self.num_layers * (self.kernel_size - 1) + 2:
            raise ValueError(f"crop_size must be 0 (off) or at least twice the receptive field, got {self.crop_size}")
        if self.norm not in ("batch", "none", "uncropped", "coarsest"):
            raise ValueError(f"norm must be 'batch', 'none', 'uncropped' or 'coarsest', got {self.norm!r}")
        if not 0 < self.lr_scale <= 1:
            raise ValueError(f"lr_scale must be in (0, 1], got {self.lr_scale}")
        if not 0 < self.lr_decay_at <= 1:
            raise ValueError(f"lr_decay_at must be in (0, 1], got {self.lr_decay_at}")


#: ``paper``: exactly the official defaults.
#: ``fast``: CPU-friendly (see the README's preset table): smaller image, narrower and fewer steps.
#: ``cpu``: ``fast``'s narrow one-step networks on the paper's 250 px pyramid, with 64 px
#: training crops at the scales larger than that, and no batch normalisation at those scales
#: (issue 13; docs/singan.md).
_FAST = replace(
    SinGANConfig(),
    max_size=128,
    iters=500,
    d_steps=1,
    g_steps=1,
    max_channels=32,
)
PRESETS: dict[str, SinGANConfig] = {
    "paper": SinGANConfig(),
    "fast": _FAST,
    "cpu": replace(_FAST, max_size=SinGANConfig.max_size, iters=1600, crop_size=64, norm="uncropped"),
}
