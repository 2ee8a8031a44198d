"""PetsGAN hyperparameters: the official defaults, and the presets built from them.

Sources: the paper (Zhang et al., AAAI 2022, "Training Details" and eq. 6-8) and
the official code (zhangzc21/PetsGAN ``main.py`` argument defaults,
``Models/models.py``).  Where the two disagree the paper wins and the field's
comment says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["PetsGANConfig", "PRESETS", "PRIOR_KINDS", "DEP_LOSSES", "PE_EXTENSIONS"]

#: external prior sets for DEPNet: BigGAN-128 inversion + jitter (DGP), a folder of
#: images, or augmentations of the LR image only (the offline default).
PRIOR_KINDS = ("auto", "biggan", "folder", "augment")
#: ``ns``: non-saturating GAN of paper eq. 6; ``wgan-gp``: the official code's critic loss.
DEP_LOSSES = ("ns", "wgan-gp")
#: how the positional encoding covers a sample of another size (see ``networks.positional_encoding``).
PE_EXTENSIONS = ("stretch", "continue")
#: how the patch transfer writes its matches (see ``networks.PatchTransfer``).
PT_PASTES = ("average", "centre", "median")


@dataclass(frozen=True)
class PetsGANConfig:
    """Everything that defines a PetsGAN training run; stored verbatim in the checkpoint."""

    # --- data (paper "Training Details"; official ``_read_image``)
    max_size: int = 256
    """long side of the HR image, px (smaller images are not enlarged)"""
    factor: int = 8
    """LR = HR / factor; HR sides are floored to multiples of it (official ``downscale_factor``)"""

    # --- external prior (paper sec. "External priors"; official ``_prepare_data``)
    prior: str = "auto"
    """``auto`` = ``folder`` when ``prior_images`` is set, else ``biggan`` when its weights exist, else ``augment``"""
    prior_images: str | None = None
    """folder of prior images (``--prior-images``)"""
    biggan_weights: str | None = None
    """BigGAN-128 ``G_ema.pth`` (else ``SINKIT_BIGGAN_WEIGHTS`` / ``SINKIT_WEIGHTS_DIR`` / torch hub cache)"""
    biggan_class: int = -1
    """ImageNet class for the inversion; -1 = the best-reconstructing of ``biggan_class_candidates``"""
    biggan_class_candidates: int = 20
    """random classes tried when ``biggan_class`` is -1"""
    inversion_iters: int = 200
    """Adam steps on the latent code (ours; DGP fine-tunes G progressively, see docs/petsgan.md)"""
    jitter_stds: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5)
    """latent jitter std devs (official ``RunJitter(stds=...)``; paper: N(0, 0.5))"""
    jitter_per_std: int = 100
    """jittered samples per std (official ``num_sample = 100``: 500 in all)"""
    mix_ratio: float = 0.3
    """share of TPS/flip augmentations of the image in the prior set (official ``mix_ratio``)"""
    lr_copies: int = 25
    """copies of the LR image and of its mirror added to the prior set (official: 25 + 25)"""
    augment_count: int = 200
    """size of the ``augment`` prior set (ours: there is no inversion set to take a ratio of)"""
    tps_points: int = 4
    """TPS control points per side (official ``tps_warp(points_per_dim=4)``)"""
    tps_scale: float = 0.05
    """TPS control point jitter, fraction of the side (official ``scale=0.05``)"""
    crop_min: float = 1.0
    """smallest random crop (fraction of each side) in the augmentations; 1 = no crops (official)"""
    prior_mirrors: bool = True
    """mirror images in the prior set: the official ``_prepare_data`` adds the mirror of every prior
    image and of the LR copies, and ``DataTrans`` flips half of the augmentations.  False (ours) keeps
    every image the right way round"""

    # --- DEPNet G (official ``Generator``; paper eq. 6)
    dep_channels: int = 64
    """width of the first conv; the next three have twice this (official ``mid_channels``)"""
    pos_channels: int = 8
    """sinusoidal positional encoding channels (official ``d_model = 8``)"""
    pe_extension: str = "stretch"
    """positions of a larger/smaller sample: ``stretch`` over the trained range, or ``continue`` the grid"""
    ema_decay: float = 0.99
    """EMA of DEPNet's weights (official ``functions.ema(decay=0.99)``)"""
    dep_iters: int = 5000
    """official ``gan_epoch``"""
    dep_batch: int = 32
    """paper: 32 for phi(P_G); the official code uses 8 (``gan_batch``)"""
    dep_loss: str = "ns"
    """paper eq. 6: non-saturating GAN; the official code trains a WGAN-GP critic"""
    dep_gp_weight: float = 10.0
    """gradient penalty weight, used only with ``dep_loss="wgan-gp"``"""
    dep_collapse_weight: float = 1.0
    """collapse penalty of eq. 6 (official ``diversity_loss`` weight 1)"""
    dep_rec_weight: float = 50.0
    """``50 * MSE(G(z_fixed), LR)`` (official ``external_learning``)"""
    dep_d_channels: int = 32
    """LR discriminator width (official ``Discriminator``: dim 32, three stride-2 blocks, linear head)"""
    lr_g: float = 1e-4
    lr_d: float = 1e-4

    # --- DIPNet: patch transfer (paper eq. 7-8; official ``patch_match``)
    patch_size: int = 7
    """window s (paper: 7)"""
    pt_tau_train: float = 0.01
    """softmax temperature while DIPNet is trained (official forward default ``tao=0.01``)"""
    pt_tau: float = 1e-5
    """temperature in the joint phase and at sampling (official ``tao = 0.00001``)"""
    pt_iters: int = 10
    """patch-transfer iterations at sampling and in the joint phase (official ``lpm_iter``)"""
    pt_hard: bool = False
    """paste with weight 1 instead of the max attention value (official ``lpm_hard``)"""
    pt_mirror: bool = True
    """patch-transfer reference: the LR image and its mirror side by side (official ``ref_image``);
    False (ours): the LR image alone"""
    pt_paste: str = "average"
    """``'average'``: every LR pixel is the mean of the ``patch_size``-square windows pasted over it
    (paper eq. 7, official ``fold * divisor``); ``'centre'`` (ours): the centre pixel of its own
    best-matching window, which keeps the pasted pixels unblurred; ``'median'`` (ours): the per-channel
    median of the reference pixels the windows over it would paste, unblurred like ``'centre'`` but an
    isolated bad match is outvoted"""
    pt_noise: float = 0.01
    """std of the noise added to the LR image for the PT reconstruction loss (official)"""
    sparsity_weight: float = 1.0
    """weight of the attention sparsity term of eq. 8"""
    lr_pt: float = 1e-5
    """official ``lr_lpm``; 0 skips the PT loss terms in the DIPNet phase (the convs stay as initialised)"""

    # --- DIPNet: IR network (official ``recnet``: noud, conv up-mode = conv + PixelShuffle)
    ir_channels: int = 64
    """official ``recnet_dim``"""
    ir_norm: str = "in"
    """``in`` (official InstanceNorm) or ``none`` (lets crops stand for the whole image)"""
    dip_iters: int = 5000
    """official ``recnet_epoch``"""
    lr_ir: float = 5e-4
    """official ``lr_recnet``; StepLR every ``ir_lr_step`` iterations by ``ir_lr_gamma``"""
    ir_lr_step: int = 500
    ir_lr_gamma: float = 0.5
    ir_noise_std: float = 0.3
    """Gaussian noise on the IR input with probability ``ir_noise_p`` (official kornia ``RandomGaussianNoise``)"""
    ir_noise_p: float = 0.5
    ir_guard: bool = False
    """roll the DIPNet phase back when the IR network dies (ours; `fast` sets it): when its output is
    saturated on ``GUARD_PATIENCE`` consecutive training crops, the IR and PT weights and their Adam state
    return to the last healthy snapshot (one every ``GUARD_EVERY`` iterations) and the IR learning rate is
    halved for the rest of the phase (``sinkit.petsgan.training``).  A run that never dies is
    bit-identical to one without the guard"""

    # --- joint co-learning (official ``co_learning``)
    joint_iters: int = 5000
    """official ``co_epoch``"""
    joint_batch: int = 1
    """paper: batch 1 for the patch adversarial loss"""
    d_channels: int = 64
    """multi-scale discriminator width (official ``msd_dim``)"""
    d_branches: int = 3
    """dilation 1..d_branches branches (official ``msd_stage``)"""
    lr_d_hr: float = 1e-4
    """official ``lr_D_hr``"""
    lr_joint_g: float = 1e-6
    """DEPNet's learning rate in the joint phase (official ``lr_rates[0]``)"""
    lr_joint_ir: float = 1e-4
    """IR network's learning rate in the joint phase (official ``lr_rates[1:]``)"""
    joint_gan_weight: float = 1.0
    """official ``co_gen_beta``"""
    joint_rec_weight: float = 100.0
    """L1 reconstruction weight (official ``co_rec_beta``)"""
    warmup_iters: int = 500
    """linear LR warm-up of G and F in the joint phase (paper: "warm up strategy"; length ours)"""

    # --- x4 high-resolution extension (paper "Fast training of high resolution images", fig. 6)
    hr_scale: int = 1
    """1 = off; 4: a second DIPNet (IR network, x4) trained by reconstruction maps the 256 px
    samples to 1024 px (needs a training image that large)"""
    hr_iters: int = 2000
    """iterations of the extension's reconstruction phase (ours; the paper gives none)"""
    hr_channels: int = 32
    hr_crop: int = 256
    """output crop side of the extension's training, px (multiple of ``hr_scale``)"""

    # --- HR refinement of samples (ours; not in the paper)
    hr_refine: int = 0
    """0 = off (paper); n > 0: each random sample ``F(G(z))`` is refined with the HR training image's own
    7x7 patches through the n finest levels of a GPNN pyramid of that image (:mod:`sinkit.gpnn`: the
    sample injected at level ``num_levels - n``, then completeness-normalised patch nearest neighbours,
    Granot et al. CVPR 2022 eq. 2, ``hr_refine_iters`` per level; an n above the pyramid's levels starts
    at its coarsest: a 192x248 image has 10 levels, a wide one fewer).  DIPNet's patch transfer made at HR
    what it does at LR; it restores the fine texture the IR network blurs (docs/petsgan.md, "HR refinement").
    Samples only: the tasks, the reconstruction and training are unchanged"""
    hr_refine_iters: int = 10
    """patch-replacement iterations per refined level (GPNN's ``iters``; paper 10)"""

    # --- speed (not in the paper)
    joint_pool: int = 0
    """>0: the joint phase draws its fake LR inputs (``PT(G(z))``) from a pool of this many, made once
    when the phase starts (the official code draws fresh ones; G hardly moves there: lr 1e-6 and no
    gradient through PT at tau 1e-5)"""
    crop_size: int = 0
    """HR crop side for IR / discriminator training, multiple of ``factor``; 0 = whole image (official)"""
    bf16: bool = False
    """bfloat16 autocast for the networks"""
    seed: int = 0

    def __post_init__(self):
        for name in ("max_size", "factor", "dep_channels", "ir_channels", "d_channels", "d_branches",
                     "dep_batch", "joint_batch", "patch_size", "dep_d_channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("dep_iters", "dip_iters", "joint_iters", "hr_iters", "pt_iters", "warmup_iters", "crop_size",
                     "joint_pool", "augment_count", "lr_copies", "hr_refine"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.factor & (self.factor - 1):
            raise ValueError(f"factor must be a power of two (x2 PixelShuffle stages), got {self.factor}")
        if self.patch_size % 2 == 0:
            raise ValueError(f"patch_size must be odd, got {self.patch_size}")
        if self.pos_channels % 4:
            raise ValueError(f"pos_channels must be a multiple of 4, got {self.pos_channels}")
        if self.prior not in PRIOR_KINDS:
            raise ValueError(f"unknown prior {self.prior!r}; choose from {', '.join(PRIOR_KINDS)}")
        if self.prior == "folder" and not self.prior_images:
            raise ValueError("prior='folder' needs prior_images (a folder of images)")
        if self.dep_loss not in DEP_LOSSES:
            raise ValueError(f"unknown dep_loss {self.dep_loss!r}; choose from {', '.join(DEP_LOSSES)}")
        if self.pe_extension not in PE_EXTENSIONS:
            raise ValueError(f"unknown pe_extension {self.pe_extension!r}; choose from {', '.join(PE_EXTENSIONS)}")
        if self.pt_paste not in PT_PASTES:
            raise ValueError(f"unknown pt_paste {self.pt_paste!r}; choose from {', '.join(PT_PASTES)}")
        if self.ir_norm not in ("in", "none"):
            raise ValueError(f"ir_norm must be 'in' or 'none', got {self.ir_norm!r}")
        if self.hr_scale < 1 or self.hr_scale & (self.hr_scale - 1):
            raise ValueError(f"hr_scale must be 1 or a power of two, got {self.hr_scale}")
        if self.hr_scale > 1 and (self.hr_crop < self.hr_scale or self.hr_crop % self.hr_scale):
            raise ValueError(f"hr_crop must be a positive multiple of hr_scale ({self.hr_scale}), got {self.hr_crop}")
        if self.hr_refine_iters < 1:
            raise ValueError(f"hr_refine_iters must be >= 1, got {self.hr_refine_iters}")
        if self.hr_refine and self.hr_scale > 1:
            raise ValueError("hr_refine works on the 256 px samples; it cannot be combined with the x4 extension (hr_scale > 1)")
        if self.crop_size and self.crop_size % self.factor:
            raise ValueError(f"crop_size must be a multiple of factor ({self.factor}), got {self.crop_size}")
        if not 0 <= self.mix_ratio < 1:
            raise ValueError(f"mix_ratio must be in [0, 1), got {self.mix_ratio}")
        if not 0 < self.crop_min <= 1:
            raise ValueError(f"crop_min must be in (0, 1], got {self.crop_min}")
        if not 0 < self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay}")


_PAPER = PetsGANConfig()

#: ``paper``: the official values (a GPU workload: 3 x 5000 iterations at 256 px).
#: ``fast``: CPU design, 256 px in <= 10 min on a quiet 2-core CPU (see docs/petsgan.md for why
#: each value; every other value is the paper's).
PRESETS: dict[str, PetsGANConfig] = {
    "paper": _PAPER,
    "fast": replace(
        _PAPER,
        dep_channels=32,
        dep_iters=1500,
        dep_batch=8,
        # the official code's WGAN-GP critic, not eq. 6's non-saturating loss: with the offline
        # `augment` prior the NS DEPNet collapsed to one layout (LR-sample pixel diversity 0.07 vs
        # 0.23 with WGAN-GP, places50/0.jpg, docs/petsgan.md)
        dep_loss="wgan-gp",
        ir_channels=32,
        ir_norm="none",
        # 3000 (StepLR every 1000) again since the HR refinement: it replaces the detail above 1/4 scale,
        # so the refined samples of 3000 and 6000 score the same on the first 10 Places50 images (each
        # image within 0.002: patch_swd 0.059 / 0.059, nn_patch 0.016 / 0.016, diversity 0.317 / 0.318)
        # and training takes 7.9 min per image instead of ~9.9 (AMD, 2 threads).  What 6000 still buys
        # is the IR network's restoration: reconstruction 27.6 dB against 24.9, i.e. sharper paint / edit
        # / harmonize results, which go through DIPNet unrefined (docs/petsgan.md, "Fewer DIPNet iterations")
        dip_iters=3000,
        ir_lr_step=1000,
        # no noise on the IR input (official: N(0, 0.3) with p 0.5, eq. 8's "small disturbance").  At
        # 32 channels and 3000 crop iterations the IR network cannot learn both the clean and the noisy
        # mapping; with the noise it learns a denoising blur (places50/2.jpg, IR network alone: restoration
        # 24.2 dB, horizontal smears; without: 25.3 dB and the ridges come back; docs/petsgan.md)
        ir_noise_p=0.0,
        # the IR network without normalisation died once in 10 images (places50/5.jpg, DIPNet iteration
        # ~1330: tanh at +1, zero gradient, white samples); the guard rolls it back and halves its lr.
        # It changes nothing in a run that does not die (docs/petsgan.md, "2026-12-07")
        ir_guard=True,
        joint_iters=300,
        joint_pool=24,
        lr_joint_g=0.0,
        lr_joint_ir=2e-5,
        lr_pt=0.0,
        d_channels=32,
        warmup_iters=50,
        crop_size=96,
        pt_iters=3,
        # the patch transfer's reference without the LR image's mirror, and each pixel the centre of its
        # best-matching window instead of the average of 49 overlapping ones (both ours).  On the `fast`
        # models of the first 3 Places50 images, sampling only: patch_swd 0.041 -> 0.031, pixel
        # diversity 0.229 -> 0.265, asymmetry 0.51 -> 0.72 (images 0.76); trained with them: patch_swd
        # 0.031, diversity 0.265, each better on 3 of 3 (docs/petsgan.md, "Centre-pixel paste")
        pt_mirror=False,
        pt_paste="centre",
        augment_count=120,
        crop_min=0.6,
        # every sample refined with the HR image's own patches through the 9 finest of the 10 GPNN
        # levels of a 248 px image, from ~20x26 px: just below the LR layout's 1/8 (ours).  On the 10
        # `fast` models of the first 10 Places50 images, sampling only, against 6 levels (its value
        # until 2026-12-07, evening): patch_swd 0.059 -> 0.028 (lower on 10 of 10), nn_patch 0.016 ->
        # 0.009, sharpness 0.67 -> 0.89, pixel diversity 0.317 -> 0.320 (higher on 4 of 10: the
        # completeness term pulls wrong proportions back to the image's, and some layouts with them);
        # unrefined -> 6 levels: sharpness 0.18 -> 0.67, nn_patch 0.058 -> 0.016; ~5 s per sample
        # (docs/petsgan.md, "HR refinement" and "Refining from the layout's scale")
        hr_refine=9,
    ),
}
