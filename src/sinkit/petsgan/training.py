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

import copy
import warnings
from typing import Callable

import torch
import torch.nn.functional as F

from ..core.training import private_noise_generator
from .config import PetsGANConfig
from .data import prepare_hr_target, prepare_images
from .model import PetsGAN
from .networks import EMA, DEPNet, LRDiscriminator, MultiScaleDiscriminator, sparsity_loss
from .priors import PriorSet, build_prior_set

__all__ = ["PetsGANTrainer", "PHASES", "GUARD_EVERY", "GUARD_PATIENCE", "fit", "ir_saturated", "saturated", "load_vgg_into"]

PHASES = ("dep", "dip", "joint", "hr")
#: ``ir_guard``: DIPNet iterations between snapshots of a healthy IR network
GUARD_EVERY = 100
#: ``ir_guard``: consecutive DIPNet steps with a saturated IR output that count as a dead network
GUARD_PATIENCE = 20


def load_vgg_into(pt, path: str | None = None, *, download: bool = True) -> str:
    """Initialise the patch-transfer convs from VGG-19 when the weights can be found; returns the init used."""
    from ..core.weights import WeightsUnavailable, load_weights

    try:
        pt.load_vgg(load_weights("vgg19", path, download=download))
    except WeightsUnavailable:
        pass
    return pt.init


class PetsGANTrainer:
    """The training-only state around a :class:`PetsGAN`: raw DEPNet weights, discriminators,
    optimizers, the prior set, the random generator and the phase counters.

    Args:
        model: an untrained (or resumed) :class:`PetsGAN`; its ``depnet`` receives the EMA weights.
        device: where to train.
        prior: a ready :class:`PriorSet` (None: built from ``model.config`` unless ``build_prior=False``,
            e.g. when :meth:`set_state` will restore it).
        biggan: a BigGAN generator for ``prior='biggan'`` (None: the pretrained file).

    Raises:
        ValueError: bad prior folder.  WeightsUnavailable: ``prior='biggan'`` without weights.
    """

    def __init__(self, model: PetsGAN, *, device: str | torch.device = "cpu", prior: PriorSet | None = None,
                 biggan=None, build_prior: bool = True):
        self.model = model
        self.config = c = model.config
        self.device = torch.device(device)
        self.generator = torch.Generator().manual_seed(c.seed)
        lr = model.lr
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(c.seed + 1)  # initialisation of the training-only networks
            self.g = DEPNet(c.dep_channels, c.pos_channels, tuple(lr.shape[-2:]), c.pe_extension)
            self.d_lr = LRDiscriminator(tuple(lr.shape[-2:]), c.dep_d_channels)
            self.d_hr = MultiScaleDiscriminator(c.d_channels, c.d_branches)
        self.g.load_state_dict(model.depnet.state_dict())
        if prior is None and build_prior:
            with torch.no_grad():
                # z_fixed from its own stream: drawn from self.generator (seeded with the training seed)
                # it equalled the first noise of model.sample(generator=seed), so sample #0 was the
                # reconstruction.  The old draw is still taken and discarded, so the prior set and every
                # later draw are what they were.
                torch.randn(model.fixed_noise.shape, generator=self.generator)
                z_gen = private_noise_generator(c.seed, "petsgan.fixed_noise")
                model.fixed_noise.copy_(torch.randn(model.fixed_noise.shape, generator=z_gen))
            prior = build_prior_set(model.hr.cpu(), lr.cpu(), c, self.generator, biggan=biggan)
        self.prior = prior
        if prior is not None:
            model.info["prior"] = prior.record()
        for m in (self.model, self.g, self.d_lr, self.d_hr):
            m.to(self.device)
        self.prior_images = prior.images.to(self.device) if prior is not None else None
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
        self.opt_hr = torch.optim.Adam(self.model.ir_hr.parameters(), lr=c.lr_ir) if c.hr_scale > 1 else None
        self.iteration = {p: 0 for p in PHASES}
        self.pool: torch.Tensor | None = None  # joint-phase fake LR pool (``joint_pool``)
        # ``ir_guard`` state: the IR lr factor, consecutive saturated steps, the last healthy snapshot
        self.guard: dict = {"lr_scale": 1.0, "streak": 0, "snapshot": None, "snapshot_iteration": 0}

    # ------------------------------------------------------------------ helpers
    def phase_length(self, phase: str) -> int:
        c = self.config
        return {"dep": c.dep_iters, "dip": c.dip_iters, "joint": c.joint_iters,
                "hr": c.hr_iters if c.hr_scale > 1 else 0}[phase]

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
        # lr_scale is 1.0 unless the guard rolled the phase back (x * 1.0 == x: no change otherwise)
        self.opt_dip.param_groups[1]["lr"] = (c.lr_ir * self.guard["lr_scale"]
                                              * c.ir_lr_gamma ** (it // c.ir_lr_step if c.ir_lr_step else 0))
        if c.ir_guard and self.guard["snapshot"] is None and it < c.dip_iters:
            self._snapshot_dip()
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
                pm, attn = self.model.pt(noisy, self.model.reference, tau=c.pt_tau_train, iterations=1,
                                         paste=c.pt_paste)
            loss_pt = F.mse_loss(pm.float(), lr_real)
            loss_sp = sparsity_loss(attn)
        else:
            loss_pt = loss_sp = torch.zeros(())
        lr_c, hr_c = self._crop(lr_real, hr_real, generator)
        with self._autocast():
            rec = self.model.ir(self._ir_noise(lr_c, generator)).float()
        loss_ir = F.mse_loss(rec, hr_c)
        (loss_ir + loss_pt + c.sparsity_weight * loss_sp).backward()
        grad_norm = torch.nn.utils.get_total_norm([p.grad for p in self.model.ir.parameters() if p.grad is not None])
        self.opt_dip.step()
        self.iteration["dip"] += 1
        if c.ir_guard:
            self._guard_dip(saturated(rec.detach(), hr_c))
        return {"ir": loss_ir.item(), "pt": loss_pt.item(), "sparsity": loss_sp.item(), "ir_grad": grad_norm.item()}

    def _snapshot_dip(self) -> None:
        """Keep the DIPNet phase's weights (PT, IR) and Adam state for :meth:`_guard_dip`."""
        self.guard["snapshot"] = copy.deepcopy({
            "pt": self.model.pt.state_dict(), "ir": self.model.ir.state_dict(), "opt": self.opt_dip.state_dict()})
        self.guard["snapshot_iteration"] = self.iteration["dip"]

    def _guard_dip(self, dead: bool) -> None:
        """``ir_guard``, after each DIPNet step: count consecutive steps whose IR output was saturated
        (``dead``); after ``GUARD_PATIENCE`` of them restore the last snapshot and halve the IR learning
        rate for the rest of the phase (recorded in ``model.info["ir_rollbacks"]``); on a healthy step
        every ``GUARD_EVERY`` iterations take a new snapshot.  The iteration count runs on: the phase keeps
        its length.  Why: places50/5.jpg's `fast` IR network (no normalisation, Adam at 5e-4) blew up at
        DIPNet iteration ~1330 and never recovered, tanh at +1 and a zero gradient (docs/petsgan.md)."""
        g, it = self.guard, self.iteration["dip"]
        g["streak"] = g["streak"] + 1 if dead else 0
        if g["streak"] >= GUARD_PATIENCE:
            snap = g["snapshot"]
            self.model.pt.load_state_dict(snap["pt"])
            self.model.ir.load_state_dict(snap["ir"])
            self.opt_dip.load_state_dict(copy.deepcopy(snap["opt"]))
            g["lr_scale"] *= 0.5
            g["streak"] = 0
            self.model.info.setdefault("ir_rollbacks", []).append(
                {"at": it, "back_to": g["snapshot_iteration"], "lr_scale": g["lr_scale"]})
        elif not dead and it % GUARD_EVERY == 0:
            self._snapshot_dip()
        if it >= self.config.dip_iters:
            g["snapshot"] = None  # the phase is over: nothing to roll back to, nothing to checkpoint

    # ------------------------------------------------------------------ phase 3: joint
    def _fake_lr(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        with torch.no_grad(), self._autocast():
            # The official joint phase runs PT at tau = 1e-5: the pasted weight is 1.0 in float32, so
            # DEPNet receives no gradient through it (its lr is 1e-6 anyway); computing PT without
            # autograd gives the same numbers at a fraction of the memory.
            return self.model.transfer(self.g(self._noise(batch, generator))).float()

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

    # ------------------------------------------------------------------ x4 extension
    def hr_step(self, generator: torch.Generator) -> dict[str, float]:
        """One iteration of the x``hr_scale`` extension: a second IR network on noisy HR crops -> the
        large image (reconstruction only, paper "Fast training of high resolution images")."""
        c = self.config
        s = c.hr_scale
        it = self.iteration["hr"]
        self.opt_hr.param_groups[0]["lr"] = c.lr_ir * c.ir_lr_gamma ** (it // c.ir_lr_step if c.ir_lr_step else 0)
        hr, big = self.model.hr, self.model.real_hr
        if float(torch.rand((), generator=generator)) < 0.5:
            hr, big = hr.flip(-1), big.flip(-1)
        k = c.hr_crop // s
        h, w = hr.shape[-2:]
        kh, kw = min(k, h), min(k, w)
        top = int(torch.randint(0, h - kh + 1, (1,), generator=generator))
        left = int(torch.randint(0, w - kw + 1, (1,), generator=generator))
        x = hr[..., top : top + kh, left : left + kw]
        y = big[..., top * s : (top + kh) * s, left * s : (left + kw) * s]
        self.opt_hr.zero_grad(set_to_none=True)
        with self._autocast():
            out = self.model.ir_hr(self._ir_noise(x, generator)).float()
        loss = F.mse_loss(out, y)
        loss.backward()
        self.opt_hr.step()
        self.iteration["hr"] += 1
        return {"hr": loss.item()}

    # ------------------------------------------------------------------ driving
    def step(self, phase: str, generator: torch.Generator | None = None) -> dict[str, float]:
        """One iteration of ``phase`` (``dep``, ``dip`` or ``joint``) with ``generator`` (default: the trainer's)."""
        fn: dict[str, Callable] = {"dep": self.dep_step, "dip": self.dip_step, "joint": self.joint_step,
                                   "hr": self.hr_step}
        if phase not in fn:
            raise ValueError(f"unknown phase {phase!r}; phases: {', '.join(PHASES)}")
        return fn[phase](self.generator if generator is None else generator)

    def run(self, *, progress: bool = True, on_step: Callable[[str, int, dict], None] | None = None) -> PetsGAN:
        """Run every unfinished phase to its end without checkpoints (tests, experiments; :func:`fit` uses the
        core's per-iteration driver)."""
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
    _OPTIMIZERS = ("opt_g", "opt_d_lr", "opt_dip", "opt_joint", "opt_d_hr", "opt_hr")

    def get_state(self) -> dict:
        """Everything besides the model's own weights needed to resume (a tree of tensors and scalars)."""
        state = {
            "g": dict(self.g.state_dict()), "d_lr": dict(self.d_lr.state_dict()), "d_hr": dict(self.d_hr.state_dict()),
            "rng": self.generator.get_state(), "prior": self.prior_images, "iteration": dict(self.iteration),
            "prior_record": dict(self.model.info.get("prior", {})),
        }
        for name in self._OPTIMIZERS:
            if getattr(self, name) is not None:
                state[name] = getattr(self, name).state_dict()
        if self.pool is not None:
            state["pool"] = self.pool
        if self.config.ir_guard:
            state["guard"] = {k: v for k, v in self.guard.items() if v is not None}
        return state

    def set_state(self, state: dict) -> None:
        """Restore :meth:`get_state` output (strict for the networks)."""
        for name in ("g", "d_lr", "d_hr"):
            getattr(self, name).load_state_dict(state[name], strict=True)
        for name in self._OPTIMIZERS:
            if getattr(self, name) is not None:
                getattr(self, name).load_state_dict(state[name])
        self.generator.set_state(state["rng"])
        self.prior_images = state["prior"].to(self.device)
        self.pool = state["pool"].to(self.device) if "pool" in state else None
        self.iteration = {p: int(state["iteration"].get(p, 0)) for p in PHASES}
        if "guard" in state:
            self.guard = {"snapshot": None, **state["guard"]}  # get_state leaves out a snapshot of None
        self.model.info["prior"] = dict(state.get("prior_record", {}))


def saturated(output: torch.Tensor, target: torch.Tensor, fraction: float = 0.9) -> bool:
    """True when more than ``fraction`` of ``output``'s values are at the tanh limits (``|x| > 0.999``)
    while ``target`` (same range, ``[-1, 1]``) has at most half there: an IR network that diverged."""
    def at_limit(x: torch.Tensor) -> float:
        return float((x.abs() > 0.999).float().mean())

    return at_limit(output) > fraction and at_limit(target) <= 0.5


def ir_saturated(model: PetsGAN, fraction: float = 0.9) -> bool:
    """True when the IR network's restoration of the training image ``IR(LR)`` is :func:`saturated`: the
    mark of an IR network whose activations diverged (observed once in `fast`'s DIPNet phase,
    places50/5.jpg, before ``ir_guard``).  An under-trained IR network outputs values near 0, not +-1,
    so short runs do not trigger it."""
    with torch.no_grad():
        out = model.restore()
    return saturated(out, model.real, fraction)


def fit(
    cls,
    inputs: dict[str, torch.Tensor],
    config: PetsGANConfig,
    *,
    out_dir: str | None = None,
    resume: bool = False,
    device: str | torch.device = "auto",
    progress: bool = True,
    stop_after: int | None = None,
    checkpoint_every: int = 500,
    checkpoint_seconds: float = 120.0,
    vgg: str = "auto",
    prior: PriorSet | None = None,
    biggan=None,
) -> PetsGAN:
    """Train PetsGAN with the core's per-iteration driver (``external``, ``internal``, ``joint``).

    Args:
        inputs: ``{"image": (1, 3, H, W)}`` in ``[-1, 1]``, any size (HR/LR made here).
        config: hyperparameters.
        out_dir: checkpoint folder (None: nothing saved); resumable every ``checkpoint_every``
            iterations / ``checkpoint_seconds`` s.
        resume: continue the run in ``out_dir`` (bit-identical to an uninterrupted one).
        stop_after: stop after this many iterations in total (tests, interruption).
        vgg: patch-transfer init: ``"auto"`` (VGG-19 when found, else random), ``"random"``, or a file.
        prior, biggan: a ready prior set / BigGAN generator (tests).

    Raises:
        ValueError: image too small; ``resume`` with another config or image.
        WeightsUnavailable: ``prior='biggan'`` without its weights.

    Warns:
        RuntimeWarning: the finished model's IR network is saturated (:func:`ir_saturated`): training diverged.
    """
    from ..core.device import resolve_device
    from ..core.training import Phase, start_run, train_iterations

    device = resolve_device(device)
    hr, _ = prepare_images(inputs["image"].cpu(), config.max_size, config.factor)
    hr_inputs = {"image": hr.to(device)}

    def create() -> PetsGAN:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            model = cls(config, hr_inputs)
        if config.hr_scale > 1:
            with torch.no_grad():
                model.real_hr.copy_(prepare_hr_target(inputs["image"].cpu(), tuple(hr.shape[-2:]), config.hr_scale))
        model.info["pt_init"] = "random" if vgg == "random" else load_vgg_into(model.pt, None if vgg == "auto" else vgg)
        return model.to(device)

    model, saved = start_run(cls, hr_inputs, config, out_dir=out_dir, resume=resume, device=device, create=create)
    resumed = saved is not None or int(model.info.get("iteration", 0)) > 0
    trainer = PetsGANTrainer(model, device=device, prior=prior, biggan=biggan, build_prior=not resumed)
    if model.complete and resumed and saved is None:
        return model.eval()
    names = {"dep": "external (DEPNet)", "dip": "internal (DIPNet)", "joint": "joint", "hr": f"x{config.hr_scale} extension"}
    phases = [Phase(names[p], trainer.phase_length(p), lambda i, p=p: trainer.step(p)) for p in PHASES
              if trainer.phase_length(p) > 0]
    train_iterations(model, phases, get_state=trainer.get_state, set_state=trainer.set_state, out_dir=out_dir,
                     resume_state=saved, checkpoint_every=checkpoint_every, checkpoint_seconds=checkpoint_seconds,
                     progress=progress, stop_after=stop_after)
    model.eval()
    for problem in model.training_problems():
        warnings.warn(f"PetsGAN training {problem} (sinkit train ... --seed 1); docs/petsgan.md, '2026-12-06, late night'",
                      RuntimeWarning, stacklevel=2)
    return model
