"""PetsGAN training: three phases, each a step function a per-iteration driver can call.

Phases (official ``main.py``: ``external_learning``, ``internal_learning``,
``co_learning``; paper eq. 5-8):

``dep``   DEPNet G vs the LR discriminator D_G on the external prior set:
          non-saturating GAN + collapse penalty (eq. 6) + ``50 * MSE(G(z*), LR)``;
          EMA of G.
``dip``   DIPNet: patch transfer on ``LR + noise`` -> LR (MSE) + attention
          sparsity (eq. 8); IR network on noisy LR -> HR (MSE); StepLR.
``joint`` co-learning: hinge GAN of ``IR(PT(G(z)))`` against the HR image with
          the multi-scale discriminator (no gradient penalty) + ``100 * L1``
          reconstruction of HR from noisy LR; linear LR warm-up.

Every random draw of a step comes from the ``torch.Generator`` passed to it, so
a run restored from :meth:`PetsGANTrainer.state_tensors` with the generator's
state continues bit-identically.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from .config import PetsGANConfig
from .data import prepare_images
from .model import PetsGAN
from .networks import EMA, DEPNet, LRDiscriminator, MultiScaleDiscriminator, sparsity_loss
from .priors import PriorSet, build_prior_set

__all__ = ["PetsGANTrainer", "PHASES", "optimizer_tensors", "load_optimizer_tensors", "load_vgg_into"]

PHASES = ("dep", "dip", "joint")


def load_vgg_into(pt, path: str | None = None, *, download: bool = True) -> str:
    """Initialise the patch-transfer convs from VGG-19 when the weights can be found; returns the init used."""
    from ..core.weights import WeightsUnavailable, load_weights

    try:
        pt.load_vgg(load_weights("vgg19", path, download=download))
    except WeightsUnavailable:
        pass
    return pt.init


class PetsGANTrainer:
    """All training state: the model, the training-only networks, optimizers and phase counters.

    Args:
        image: ``(1, 3, H, W)`` in ``[-1, 1]``.
        config: hyperparameters.
        device: where to train.
        prior: a ready :class:`PriorSet` (None: built from ``config``).
        biggan: a BigGAN generator for ``prior='biggan'`` (None: the pretrained file).
        vgg: ``"auto"`` (VGG-19 weights when found, else random), ``"random"``, or a weight file path.

    Raises:
        ValueError: image too small, bad prior folder.
        WeightsUnavailable: ``prior='biggan'`` without weights.
    """

    def __init__(self, image: torch.Tensor, config: PetsGANConfig, *, device: str | torch.device = "cpu",
                 prior: PriorSet | None = None, biggan=None, vgg: str = "auto"):
        self.config = c = config
        self.device = torch.device(device)
        hr, lr = prepare_images(image.cpu(), c.max_size, c.factor)
        self.generator = torch.Generator().manual_seed(c.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(c.seed)  # weight initialisation
            self.model = PetsGAN(c, hr, lr)
            self.g = DEPNet(c.dep_channels, c.pos_channels, tuple(lr.shape[-2:]), c.pe_extension)
            self.model.depnet.load_state_dict(self.g.state_dict())
            self.d_lr = LRDiscriminator(tuple(lr.shape[-2:]), c.dep_d_channels)
            self.d_hr = MultiScaleDiscriminator(c.d_channels, c.d_branches)
        if vgg != "random":
            self.model.info["pt_init"] = load_vgg_into(self.model.pt, None if vgg == "auto" else vgg)
        else:
            self.model.info["pt_init"] = "random"
        self.model.fixed_noise.copy_(torch.randn(lr.shape[0], 1, *lr.shape[-2:], generator=self.generator))
        self.prior = prior if prior is not None else build_prior_set(hr, lr, c, self.generator, biggan=biggan)
        self.model.info["prior"] = self.prior.record()
        for m in (self.model, self.g, self.d_lr, self.d_hr):
            m.to(self.device)
        self.prior_images = self.prior.images.to(self.device)
        self.ema = EMA(self.g, self.model.depnet, c.ema_decay)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=c.lr_g)  # official: Adam defaults everywhere
        self.opt_d_lr = torch.optim.Adam(self.d_lr.parameters(), lr=c.lr_d)
        self.opt_dip = torch.optim.Adam([
            {"params": self.model.pt.parameters(), "lr": c.lr_pt},
            {"params": self.model.ir.parameters(), "lr": c.lr_ir},
        ])
        self.opt_joint = torch.optim.Adam([
            {"params": self.g.parameters(), "lr": c.lr_joint_g},
            {"params": self.model.ir.parameters(), "lr": c.lr_joint_ir},
        ])
        self.opt_d_hr = torch.optim.Adam(self.d_hr.parameters(), lr=c.lr_d_hr)
        self.iteration = {p: 0 for p in PHASES}
        self.pool: torch.Tensor | None = None  # joint-phase fake LR pool (``joint_pool``)

    # ------------------------------------------------------------------ helpers
    def phase_length(self, phase: str) -> int:
        return {"dep": self.config.dep_iters, "dip": self.config.dip_iters, "joint": self.config.joint_iters}[phase]

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.bf16)

    def _noise(self, b: int, generator: torch.Generator) -> torch.Tensor:
        h, w = self.model.lr.shape[-2:]
        return torch.randn(b, 1, h, w, generator=generator).to(self.device)

    def _ir_noise(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Official kornia ``RandomGaussianNoise(0, 0.3, p=0.5)`` on the IR input: ``Delta c`` of eq. 8."""
        c = self.config
        keep = (torch.rand(x.shape[0], 1, 1, 1, generator=generator) < c.ir_noise_p).to(x)
        return x + keep * c.ir_noise_std * torch.randn(x.shape, generator=generator).to(x)

    def _pair(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """The (LR, HR) pair or its mirror, cropped to ``crop_size`` when set (official: random flip)."""
        lr, hr = self.model.lr, self.model.hr
        if float(torch.rand((), generator=generator)) < 0.5:
            lr, hr = lr.flip(-1), hr.flip(-1)
        return self._crop(lr, hr, generator)

    def _crop(self, lr, hr, generator):
        c = self.config
        if not c.crop_size:
            return lr, hr
        f = c.factor
        s = c.crop_size // f
        h, w = lr.shape[-2:]
        sh, sw = min(s, h), min(s, w)
        top = int(torch.randint(0, h - sh + 1, (1,), generator=generator))
        left = int(torch.randint(0, w - sw + 1, (1,), generator=generator))
        lr_c = lr[..., top : top + sh, left : left + sw]
        hr_c = None if hr is None else hr[..., top * f : (top + sh) * f, left * f : (left + sw) * f]
        return lr_c, hr_c

    # ------------------------------------------------------------------ phase 1: DEPNet
    def dep_step(self, generator: torch.Generator) -> dict[str, float]:
        """One DEPNet iteration: a D_G update then a G update (paper eq. 6)."""
        c = self.config
        b = c.dep_batch
        self.g.train()
        idx = torch.randint(0, self.prior_images.shape[0], (b,), generator=generator)
        real = self.prior_images[idx.to(self.prior_images.device)]
        with torch.no_grad(), self._autocast():
            fake = self.g(self._noise(b, generator))
        self.opt_d_lr.zero_grad(set_to_none=True)
        with self._autocast():
            out_real, out_fake = self.d_lr(real).float(), self.d_lr(fake.float()).float()
        if c.dep_loss == "ns":
            loss_d = F.softplus(-out_real).mean() + F.softplus(out_fake).mean()
        else:
            a = torch.rand(b, 1, 1, 1, generator=generator).to(real)
            x_hat = (a * real + (1 - a) * fake.float()).requires_grad_(True)
            (grad,) = torch.autograd.grad(self.d_lr(x_hat).sum(), x_hat, create_graph=True)
            gp = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
            loss_d = out_fake.mean() - out_real.mean() + c.dep_gp_weight * gp
        loss_d.backward()
        self.opt_d_lr.step()

        self.opt_g.zero_grad(set_to_none=True)
        noise = self._noise(b, generator)
        with self._autocast():
            out = self.d_lr(self.g(noise)).float()
            rec = self.g(self.model.fixed_noise).float()
        loss_gan = F.softplus(-out).mean() if c.dep_loss == "ns" else -out.mean()
        pairs = b // 2 * 2
        collapse = -(out[0:pairs:2] - out[1:pairs:2]).abs().mean() if pairs else out.new_zeros(())
        loss_rec = F.mse_loss(rec, self.model.lr)
        (loss_gan + c.dep_collapse_weight * collapse + c.dep_rec_weight * loss_rec).backward()
        self.opt_g.step()
        self.ema.update()
        self.iteration["dep"] += 1
        return {"d": loss_d.item(), "g": loss_gan.item(), "collapse": collapse.item(), "rec": loss_rec.item()}

    # ------------------------------------------------------------------ phase 2: DIPNet
    def dip_step(self, generator: torch.Generator) -> dict[str, float]:
        """One DIPNet iteration: PT reconstruction + sparsity, IR reconstruction (eq. 8)."""
        c = self.config
        it = self.iteration["dip"]
        self.opt_dip.param_groups[1]["lr"] = c.lr_ir * c.ir_lr_gamma ** (it // c.ir_lr_step if c.ir_lr_step else 0)
        self.model.train()
        lr_full = self.model.lr
        if float(torch.rand((), generator=generator)) < 0.5:
            flip = True
        else:
            flip = False
        lr_real = lr_full.flip(-1) if flip else lr_full
        hr_real = self.model.hr.flip(-1) if flip else self.model.hr
        self.opt_dip.zero_grad(set_to_none=True)
        noisy = lr_real + c.pt_noise * torch.randn(lr_real.shape, generator=generator).to(lr_real)
        if c.lr_pt > 0:
            with self._autocast():
                pm, attn = self.model.pt(noisy, self.model.reference, tau=c.pt_tau_train, iterations=1)
            loss_pt = F.mse_loss(pm.float(), lr_real)
            loss_sp = sparsity_loss(attn)
        else:
            loss_pt = loss_sp = torch.zeros(())
        lr_c, hr_c = self._crop(lr_real, hr_real, generator)
        with self._autocast():
            rec = self.model.ir(self._ir_noise(lr_c, generator)).float()
        loss_ir = F.mse_loss(rec, hr_c)
        (loss_ir + loss_pt + c.sparsity_weight * loss_sp).backward()
        self.opt_dip.step()
        self.iteration["dip"] += 1
        return {"ir": loss_ir.item(), "pt": loss_pt.item(), "sparsity": loss_sp.item()}

    # ------------------------------------------------------------------ phase 3: joint
    def _fake_lr(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        c = self.config
        with torch.no_grad(), self._autocast():
            # The official joint phase runs PT at tau = 1e-5: the pasted weight is 1.0 in float32, so
            # DEPNet receives no gradient through it (its lr is 1e-6 anyway); computing PT without
            # autograd gives the same numbers at a fraction of the memory.
            return self.model.pt(self.g(self._noise(batch, generator)), self.model.reference,
                                 tau=c.pt_tau, iterations=c.pt_iters, hard=c.pt_hard)[0].float()

    def _fake_hr(self, generator: torch.Generator) -> torch.Tensor:
        c = self.config
        if c.joint_pool:
            if self.pool is None:
                self.pool = torch.cat([self._fake_lr(1, generator) for _ in range(c.joint_pool)])
            idx = torch.randint(0, c.joint_pool, (c.joint_batch,), generator=generator)
            fake_lr = self.pool[idx.to(self.pool.device)]
        else:
            fake_lr = self._fake_lr(c.joint_batch, generator)
        fake_lr, _ = self._crop(fake_lr, None, generator)
        with self._autocast():
            return self.model.ir(fake_lr).float()

    def joint_step(self, generator: torch.Generator) -> dict[str, float]:
        """One co-learning iteration: a D update then an F (and G) update (official ``co_learning``)."""
        c = self.config
        it = self.iteration["joint"]
        if it == 0:  # official co_learning: the trained G starts from DEPNet's EMA weights
            self.g.load_state_dict(self.model.depnet.state_dict())
        warm = min(1.0, (it + 1) / c.warmup_iters) if c.warmup_iters else 1.0
        self.opt_joint.param_groups[0]["lr"] = c.lr_joint_g * warm
        self.opt_joint.param_groups[1]["lr"] = c.lr_joint_ir * warm
        self.model.train()
        self.g.train()

        _, hr_real = self._pair(generator)
        with torch.no_grad():
            fake = self._fake_hr(generator)
        self.opt_d_hr.zero_grad(set_to_none=True)
        with self._autocast():
            loss_d = F.relu(1 - self.d_hr(hr_real).float()).mean() + F.relu(1 + self.d_hr(fake).float()).mean()
        loss_d.backward()
        self.opt_d_hr.step()

        self.opt_joint.zero_grad(set_to_none=True)
        fake = self._fake_hr(generator)
        with self._autocast():
            loss_g = -self.d_hr(fake).float().mean()
        lr_c, hr_c = self._pair(generator)
        with self._autocast():
            rec = self.model.ir(self._ir_noise(lr_c, generator)).float()
        loss_rec = F.l1_loss(rec, hr_c)
        (c.joint_gan_weight * loss_g + c.joint_rec_weight * loss_rec).backward()
        for p in self.d_hr.parameters():
            p.grad = None
        self.opt_joint.step()
        self.ema.update()
        self.iteration["joint"] += 1
        return {"d": loss_d.item(), "g": loss_g.item(), "rec": loss_rec.item()}

    # ------------------------------------------------------------------ driving
    def step(self, phase: str, generator: torch.Generator | None = None) -> dict[str, float]:
        """One iteration of ``phase`` (``dep``, ``dip`` or ``joint``) with ``generator`` (default: the trainer's)."""
        fn: dict[str, Callable] = {"dep": self.dep_step, "dip": self.dip_step, "joint": self.joint_step}
        if phase not in fn:
            raise ValueError(f"unknown phase {phase!r}; phases: {', '.join(PHASES)}")
        return fn[phase](self.generator if generator is None else generator)

    def run(self, *, progress: bool = True, on_step: Callable[[str, int, dict], None] | None = None) -> PetsGAN:
        """Run every unfinished phase to its end (a simple driver; the core's per-iteration driver replaces it)."""
        from tqdm.auto import tqdm

        for phase in PHASES:
            total = self.phase_length(phase)
            bar = tqdm(total=total, initial=self.iteration[phase], desc=f"petsgan {phase}", disable=not progress,
                       leave=False)
            while self.iteration[phase] < total:
                losses = self.step(phase)
                bar.update(1)
                bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()}, refresh=False)
                if on_step is not None:
                    on_step(phase, self.iteration[phase], losses)
            bar.close()
        self.model.info["iterations"] = dict(self.iteration)
        return self.model

    # ------------------------------------------------------------------ state
    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict]:
        """Everything needed to resume: tensors (networks, optimizers, RNG, prior set) and JSON metadata."""
        tensors: dict[str, torch.Tensor] = {}
        for name, module in (("model", self.model), ("g", self.g), ("d_lr", self.d_lr), ("d_hr", self.d_hr)):
            tensors.update({f"{name}.{k}": v for k, v in module.state_dict().items()})
        meta: dict = {"iteration": dict(self.iteration), "optimizers": {}}
        for name in ("opt_g", "opt_d_lr", "opt_dip", "opt_joint", "opt_d_hr"):
            t, groups = optimizer_tensors(getattr(self, name), name)
            tensors.update(t)
            meta["optimizers"][name] = groups
        tensors["rng"] = self.generator.get_state()
        if self.pool is not None:
            tensors["pool"] = self.pool
        tensors["prior"] = self.prior_images
        meta["prior"] = self.prior.record()
        meta["info"] = self.model.info
        return tensors, meta

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Restore :meth:`state_tensors` output (strict: every network key must match)."""
        for name, module in (("model", self.model), ("g", self.g), ("d_lr", self.d_lr), ("d_hr", self.d_hr)):
            sub = {k[len(name) + 1 :]: v for k, v in tensors.items() if k.startswith(name + ".")}
            module.load_state_dict(sub, strict=True)
        for name in ("opt_g", "opt_d_lr", "opt_dip", "opt_joint", "opt_d_hr"):
            load_optimizer_tensors(getattr(self, name), name, tensors, meta["optimizers"][name])
        self.generator.set_state(tensors["rng"])
        self.prior_images = tensors["prior"].to(self.device)
        self.pool = tensors["pool"].to(self.device) if "pool" in tensors else None
        self.iteration = {p: int(meta["iteration"][p]) for p in PHASES}
        self.model.info.update(meta.get("info", {}))


def optimizer_tensors(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """An optimizer's state as flat tensors ``prefix.<param>.<key>`` plus its JSON param groups."""
    sd = opt.state_dict()
    tensors = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            tensors[f"{prefix}.{idx}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    groups = [{k: v for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, groups


def load_optimizer_tensors(opt: torch.optim.Optimizer, prefix: str, tensors: dict[str, torch.Tensor],
                           groups: list[dict]) -> None:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            idx, name = key[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(idx), {})[name] = value
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    opt.load_state_dict({"state": state, "param_groups": groups})


STATE_DIR = "train_state"


def train(
    image: torch.Tensor,
    config: PetsGANConfig,
    *,
    out_dir: str | None = None,
    resume: bool = False,
    device: str | torch.device = "cpu",
    progress: bool = True,
    checkpoint_every: float = 120.0,
    stop_after: int | None = None,
    vgg: str = "auto",
    prior: PriorSet | None = None,
) -> PetsGAN:
    """Train PetsGAN on one image, checkpointing so an interrupted run resumes bit-identically.

    The full training state (networks, optimizers, RNG, prior set, phase
    counters) is written to ``out_dir/train_state/`` every ``checkpoint_every``
    seconds and at the end of every phase; the finished model to ``out_dir``
    (:meth:`PetsGAN.save`).  Interim driver until the core's per-iteration
    driver (issue 8) takes over.

    Args:
        image: ``(1, 3, H, W)`` in ``[-1, 1]``.
        config: hyperparameters (``PRESETS``).
        out_dir: checkpoint folder (None: nothing saved).
        resume: continue ``out_dir/train_state`` when present.
        stop_after: stop after this many iterations in total (tests, interruption).
        vgg: patch-transfer init (see :class:`PetsGANTrainer`).

    Returns:
        The trained :class:`PetsGAN` (in eval mode).

    Raises:
        ValueError: image too small; ``resume`` with another config or image.
    """
    import time
    from pathlib import Path

    from tqdm.auto import tqdm

    from ..core.checkpoint import load_checkpoint, save_checkpoint
    from ..core.config import config_to_dict

    trainer = PetsGANTrainer(image, config, device=device, vgg=vgg, prior=prior)
    state_dir = Path(out_dir) / STATE_DIR if out_dir is not None else None
    elapsed = {p: 0.0 for p in PHASES}
    if resume and state_dir is not None and (state_dir / "model.safetensors").exists():
        tensors, meta = load_checkpoint(state_dir)
        if meta["config"] != config_to_dict(config):
            raise ValueError(f"cannot resume {out_dir}: it was trained with another config")
        if not torch.equal(tensors["model.hr"], trainer.model.hr.cpu()):
            raise ValueError(f"cannot resume {out_dir}: it was trained on a different image")
        trainer.load_state_tensors(tensors, meta)
        elapsed.update(meta.get("train_seconds", {}))

    def save_state():
        if state_dir is None:
            return
        tensors, meta = trainer.state_tensors()
        save_checkpoint(state_dir, tensors, {"method": "petsgan-train-state", "config": config_to_dict(config),
                                             "train_seconds": elapsed, **meta})

    done = 0
    last = time.perf_counter()
    for phase in PHASES:
        total = trainer.phase_length(phase)
        bar = tqdm(total=total, initial=trainer.iteration[phase], desc=f"petsgan {phase}", disable=not progress)
        t0 = time.perf_counter()
        base = elapsed[phase]
        while trainer.iteration[phase] < total:
            if stop_after is not None and done >= stop_after:
                elapsed[phase] = base + time.perf_counter() - t0
                save_state()
                bar.close()
                return trainer.model.eval()
            losses = trainer.step(phase)
            done += 1
            bar.update(1)
            bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()}, refresh=False)
            if time.perf_counter() - last > checkpoint_every:
                elapsed[phase] = base + time.perf_counter() - t0
                save_state()
                last = time.perf_counter()
        elapsed[phase] = base + time.perf_counter() - t0
        bar.close()
        save_state()
    model = trainer.model.eval()
    model.info["train_seconds"] = {p: round(v, 2) for p, v in elapsed.items()}
    model.info["iterations"] = dict(trainer.iteration)
    if out_dir is not None:
        model.save(out_dir)
    return model
