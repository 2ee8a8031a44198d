"""DeepSIM hyperparameters: the official defaults and the ``fast`` CPU preset.

Sources: the paper (Vinker, Horwitz, Zabari, Hoshen, "Image Shape Manipulation
from a Single Augmented Training Sample", ICCV 2021; seed
``002_4566435e94077816.txt``) and the official code (eliahuhorwitz/DeepSIM
``options/base_options.py``, ``options/train_options.py``, the pix2pixHD
defaults it keeps, and ``train_*.sh`` which turn ``--tps_aug 1`` on).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["DeepSIMConfig", "PRESETS", "PRIMITIVE_KINDS", "AFFINE_KINDS", "VGG_MODES"]

#: primitive kinds of the official ``--primitive`` option
PRIMITIVE_KINDS = ("edges", "seg", "seg_edges", "manual")
#: official ``--affine_aug`` components (each applied with probability 0.5 when TPS is not drawn)
AFFINE_KINDS = ("shearx", "sheary", "translationx", "translationy", "rotation")
#: ``auto``: VGG perceptual loss when the ImageNet weights are found, otherwise off (recorded);
#: ``require``: error when they are missing; ``off``: never (official ``--no_vgg_loss``)
VGG_MODES = ("auto", "require", "off")


@dataclass(frozen=True)
class DeepSIMConfig:
    """Everything that defines a DeepSIM training run; stored verbatim in the checkpoint.

    Defaults are the official ones (``paper`` preset) unless a comment says otherwise.
    """

    # --- input
    primitive_kind: str = "seg_edges"
    """``edges`` | ``seg`` | ``seg_edges`` (official default, the paper's "super primitive") | ``manual``"""
    max_size: int | None = None
    """long side the pair is resized to before training, px; None keeps the official rule
    (halve while the long side > 1000).  Sides are then rounded to multiples of 2 ** n_downsample"""
    canny_sigma: float = 0.5
    """Canny sigma used when the model has to draw edges itself (seg_edges from a bare seg map:
    official ``aligned_dataset.py`` uses 0.5 at training time)"""
    canny_color: int = 0
    """0: black edges on white (official default), 1: white edges"""

    # --- generator: pix2pixHD GlobalGenerator (official networks.py)
    ngf: int = 64
    """width of the first conv; doubles at every downsampling (64 -> 1024 with 4)"""
    n_downsample: int = 4
    """stride-2 convs (official ``n_downsample_global``)"""
    n_blocks: int = 9
    """residual blocks at the bottleneck (official ``n_blocks_global``)"""

    # --- discriminators: pix2pixHD MultiscaleDiscriminator
    ndf: int = 64
    n_layers_d: int = 3
    num_d: int = 2
    """PatchGAN discriminators at full, 1/2, ... resolution"""

    # --- losses (pix2pixHD_model.py)
    lambda_feat: float = 10.0
    """weight of discriminator feature matching"""
    lambda_vgg: float = 10.0
    """weight of the VGG19 perceptual loss (official: the same ``lambda_feat``)"""
    vgg_loss: str = "auto"
    """``auto`` | ``require`` | ``off`` (see :data:`VGG_MODES`); the official default is on"""
    gan_feat_loss: bool = True

    # --- optimisation (paper sec. 4: 16000 iterations; official train_options.py)
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    niter: int = 8000
    """iterations at the initial learning rate"""
    niter_decay: int = 8000
    """iterations of linear decay to 0 after ``niter``"""

    # --- augmentation (paper sec. 3; official base_dataset.py)
    tps: bool = True
    """thin-plate-spline warps (the paper's contribution; official train scripts pass --tps_aug 1)"""
    tps_points_per_dim: int = 3
    tps_percent: float = 0.99
    """probability of a TPS warp; otherwise the ``affine_aug`` transforms"""
    tps_scale: float = 0.1
    """control point displacement, U(-s, s) times the side (x: width, y: height)"""
    flip: bool = True
    """horizontal flip with p = 0.5 (official: on unless --no_flip)"""
    affine_aug: tuple[str, ...] = ()
    """official ``--affine_aug`` components (default none); each with p = 0.5 when TPS is not drawn"""
    cutmix: bool = False
    """swap two random squares (same places in primitive and image), p = 0.5 (official --cutmix_aug)"""
    cutmix_min: int = 32
    cutmix_max: int = 96
    canny_aug: bool = False
    """redraw the edges of edge primitives with a random Canny sigma (official --canny_aug)"""
    canny_sigma_min: float = 1.2
    canny_sigma_max: float = 3.0
    canny_sigma_step: float = 0.3
    crop: bool = False
    """random crop (p = 0.5) resized back: pix2pixHD's standard augmentation, used by the paper's
    no-TPS baseline (official ``--resize_or_crop crop``)"""
    crop_fraction: float = 0.9
    """side of the crop relative to the image side (official: fineSize / loadSize)"""

    # --- runtime (not in the paper)
    bf16: bool = False
    """bfloat16 autocast for the networks (faster on CPUs with AVX512-BF16 / AMX)"""
    seed: int = 0
    checkpoint_every: int = 500
    """iterations between checkpoints (official save_latest_freq)"""

    def __post_init__(self):
        if self.primitive_kind not in PRIMITIVE_KINDS:
            raise ValueError(f"unknown primitive kind {self.primitive_kind!r}; choose from {', '.join(PRIMITIVE_KINDS)}")
        if self.vgg_loss not in VGG_MODES:
            raise ValueError(f"vgg_loss must be one of {', '.join(VGG_MODES)}, got {self.vgg_loss!r}")
        for name in ("ngf", "ndf", "n_layers_d", "num_d", "tps_points_per_dim", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("n_downsample", "n_blocks", "niter", "niter_decay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.niter + self.niter_decay < 1:
            raise ValueError("niter + niter_decay must be >= 1")
        if self.tps_points_per_dim < 2:
            raise ValueError(f"tps_points_per_dim must be >= 2, got {self.tps_points_per_dim}")
        if self.max_size is not None and self.max_size < 2**self.n_downsample:
            raise ValueError(f"max_size ({self.max_size}) must be >= 2 ** n_downsample ({2 ** self.n_downsample})")
        bad = [a for a in self.affine_aug if a not in AFFINE_KINDS]
        if bad:
            raise ValueError(f"unknown affine_aug {bad}; choose from {', '.join(AFFINE_KINDS)}")
        if not 0 <= self.tps_percent <= 1 or not 0 <= self.tps_scale < 0.5:
            raise ValueError("tps_percent must be in [0, 1] and tps_scale in [0, 0.5)")
        if not 1 <= self.cutmix_min <= self.cutmix_max:
            raise ValueError(f"need 1 <= cutmix_min <= cutmix_max, got {self.cutmix_min}, {self.cutmix_max}")
        if not 0 < self.canny_sigma_min <= self.canny_sigma_max or self.canny_sigma_step <= 0:
            raise ValueError("need 0 < canny_sigma_min <= canny_sigma_max and canny_sigma_step > 0")
        if not 0 < self.crop_fraction <= 1:
            raise ValueError(f"crop_fraction must be in (0, 1], got {self.crop_fraction}")
        if self.canny_color not in (0, 1):
            raise ValueError(f"canny_color must be 0 (black edges) or 1 (white), got {self.canny_color}")
        if self.lr <= 0 or self.canny_sigma <= 0:
            raise ValueError("lr and canny_sigma must be positive")

    @property
    def total_iters(self) -> int:
        """Total training iterations (``niter + niter_decay``)."""
        return self.niter + self.niter_decay

    @property
    def size_multiple(self) -> int:
        """Image sides are multiples of this (official ``2 ** n_downsample_global``)."""
        return 2**self.n_downsample

    @property
    def canny_sigmas(self) -> tuple[float, ...]:
        """The Canny-sigma jitter values, ``min, min + step, ..., max`` (official 1.2, 1.5, ..., 3.0)."""
        n = int(round((self.canny_sigma_max - self.canny_sigma_min) / self.canny_sigma_step)) + 1
        return tuple(round(self.canny_sigma_min + i * self.canny_sigma_step, 6) for i in range(n))


_PAPER = DeepSIMConfig()

#: ``paper``: the official defaults (about 2 h per 256 px image on a GPU, paper sec. 4; ~a day on a CPU).
#: ``fast``: a usable translation of a 256 px pair in <= 15 min on a 2-core CPU; each change is
#: explained in ``docs/deepsim.md``: long side 256 px, the paper's generator layout at a quarter
#: of its width (ngf 16: 256 channels at the bottleneck), discriminators of width 32, and
#: 800 + 800 iterations (0.45 s each on one core of the 2-core CPU, fp32).
PRESETS: dict[str, DeepSIMConfig] = {
    "paper": _PAPER,
    "fast": replace(
        _PAPER, max_size=256, ngf=16, ndf=32, niter=800, niter_decay=800,
        checkpoint_every=200,
    ),
}
