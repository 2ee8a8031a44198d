"""One SinGAN training iteration: the official loop's structure vs sinkit's, timed interleaved.

The official loop (tamarott/SinGAN, ``SinGAN/training.py::train_single_scale`` and
``draw_concat``, ``SinGAN/functions.py::calc_gradient_penalty``/``generate_noise``)
is rebuilt here from its structure, not copied:

* schedulers stepped at the start of the iteration; one noise map drawn
  (``generate_noise``: Gaussian, then a bilinear resample to the same size) and
  zero-padded by 5 px;
* every critic step: ``D.zero_grad()``; ``-D(real).mean()`` backward with the graph
  retained; a NEW image from the coarser scales (``draw_concat('rand')``: every
  frozen coarser generator run at batch 1 with its own fresh noise, resized by
  ``1/r`` and cropped); ``fake = G(sigma * z + prev, prev)`` WITH its autograd graph;
  ``D(fake.detach()).mean()`` backward (retained); the gradient penalty
  (one interpolation weight, ``x_hat`` a new leaf, ``autograd.grad`` with
  ``create_graph=True``, times 0.1) backward; ``optimizerD.step()``;
* every generator step: ``G.zero_grad()``; ``-D(fake).mean()`` backward through
  the critic (whose parameters still collect gradients) and the retained generator
  graph; ``10 * MSE(G(z_opt, z_prev), real)`` backward; ``optimizerG.step()``.
  The official code reuses the last critic step's fake in all three generator
  steps; modern PyTorch rejects the second and third use (upstream #148), so
  steps 2-3 recompute it (``G(noise, prev)``, the usual fix) and step 1 reuses
  it as the original does;
* the reconstruction input ``z_prev`` is computed once (first iteration), as
  the official code does.

Not rebuilt: the MATLAB-style ``imresize`` through numpy (both sides use
sinkit's torch resize, which is faster: the official side is timed on the
generous side), the per-iteration ``.item()`` logging (kept: three host reads),
image saving every 500 iterations (not timed).  The coarser scales' networks
are freshly initialised (timing does not depend on the weights), built with the
same seed in both processes.

Each implementation runs in its own process (so a process-wide setting such as
sinkit's allocator tuning applies only to sinkit), both idle except when the
controller tells one to run ``--iters`` iterations; the controller alternates
official, sinkit, official, ... for ``--rounds`` rounds at each scale and prints
seconds per iteration (min / median / max), the ratio of medians, the load
average and the precision.

    python benchmarks/vs_official.py                         # 2 finest scales of places50/0.jpg, sinkit default precision
    python benchmarks/vs_official.py --precision fp32        # sinkit in float32 as well
    python benchmarks/vs_official.py --precision both --rounds 4 --json out.json

Run it on a quiet machine (nothing else running); ``--threads``
(default: all cores) is given to both processes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# ../shared next to the checkout (a git worktree may sit one level deeper)
DEFAULT_IMAGE = next(
    (p / "shared" / "data" / "places50" / "0.jpg" for p in ROOT.parents if (p / "shared" / "data" / "places50").is_dir()),
    ROOT.parent / "shared" / "data" / "places50" / "0.jpg",
)


# ----------------------------------------------------------------------------- shared setup
def _build(image: str, index_from_end: int, config):
    """The pyramid of ``image`` and a SinGAN model whose scales below the timed one exist (fresh weights)."""
    import torch

    import sinkit
    from sinkit.core.pyramid import singan_pyramid
    from sinkit.core.resize import resize
    from sinkit.singan.model import Scale, SinGAN
    from sinkit.singan.networks import Discriminator, Generator, init_weights

    img = sinkit.load_image(image)
    spec = singan_pyramid(img.shape[2], img.shape[3], min_size=config.min_size, max_size=config.max_size, scale_factor=config.scale_factor)
    real = resize(img, spec.image_size)
    model = SinGAN(config, {"image": real}, spec, [], {})
    index = spec.num_scales - 1 - index_from_end
    torch.manual_seed(1234)
    for i in range(index):
        ch = config.channels(i)
        g, d = Generator(ch, config.num_layers, config.kernel_size), Discriminator(ch, config.num_layers, config.kernel_size)
        init_weights(g)
        init_weights(d)
        g.eval().requires_grad_(False)
        d.eval().requires_grad_(False)
        z = torch.randn(1, 1, *spec.sizes[0]) if i == 0 else None
        model.scales.append(Scale(g, d, 1.0 if i == 0 else 0.1, spec.sizes[i], z))
    return model, index


# ----------------------------------------------------------------------------- the official loop's structure
class OfficialIteration:
    """``train_single_scale``'s loop body at scale ``index`` (official structure; see the module docstring)."""

    def __init__(self, model, index):
        import torch
        import torch.nn as nn

        from sinkit.singan.networks import Discriminator, Generator, init_weights

        self.torch, self.nn = torch, nn
        config = model.config
        self.model, self.index, self.config = model, index, config
        self.reals = model.pyramid
        self.real = self.reals[index]
        ch = config.channels(index)
        self.netG = Generator(ch, config.num_layers, config.kernel_size)
        self.netD = Discriminator(ch, config.num_layers, config.kernel_size, norm=nn.BatchNorm2d)  # PyTorch's own BN
        init_weights(self.netG)
        init_weights(self.netD)
        self.netG.train()
        self.netD.train()
        self.pad = config.num_layers * (config.kernel_size // 2)  # pad_noise = pad_image = 5
        self.nzx, self.nzy = self.real.shape[2], self.real.shape[3]
        self.optimizerD = torch.optim.Adam(self.netD.parameters(), lr=config.lr_d, betas=config.betas)
        self.optimizerG = torch.optim.Adam(self.netG.parameters(), lr=config.lr_g, betas=config.betas)
        ms = [round(config.lr_decay_at * config.iters)]
        self.schedulerD = torch.optim.lr_scheduler.MultiStepLR(self.optimizerD, milestones=ms, gamma=config.lr_gamma)
        self.schedulerG = torch.optim.lr_scheduler.MultiStepLR(self.optimizerG, milestones=ms, gamma=config.lr_gamma)
        self.z_opt = self._m_noise(torch.zeros(1, 3, self.nzx, self.nzy))
        self.epoch = 0
        self.z_prev = None

    def _m_noise(self, x):
        return self.nn.functional.pad(x, (self.pad,) * 4)

    _m_image = _m_noise

    def _G(self, net, x, y):
        """``GeneratorConcatSkip2CleanAdd.forward(x, y)``: the residual is added to the centre crop of ``y``."""
        p = self.pad
        return net(x, y[:, :, p : y.shape[2] - p, p : y.shape[3] - p])

    def _generate_noise(self, channels, h, w):
        torch = self.torch
        noise = torch.randn(1, channels, h, w)
        return self.nn.functional.interpolate(noise, size=(h, w), mode="bilinear", align_corners=True)

    def _draw_concat(self, mode):
        from sinkit.core.resize import resize

        scales = self.model.scales[: self.index]
        G_z = self.torch.zeros(1, 3, *self.reals[0].shape[-2:])
        for count, (s, real_curr, real_next) in enumerate(zip(scales, self.reals, self.reals[1:])):
            h, w = real_curr.shape[-2:]
            if mode == "rand":
                z = self._generate_noise(1, h, w).expand(1, 3, h, w) if count == 0 else self._generate_noise(3, h, w)
                z = self._m_noise(z)
            else:
                z = self._m_noise(s.z_rec.expand(1, 3, h, w) if s.z_rec is not None else self.torch.zeros(1, 3, h, w))
            G_z = self._m_image(G_z[:, :, :h, :w])
            z_in = s.noise_amp * z + G_z
            G_z = self._G(s.generator, z_in.detach(), G_z)
            G_z = resize(G_z, scale=1 / self.model.spec.scale_factor)
            G_z = G_z[:, :, : real_next.shape[2], : real_next.shape[3]]
        return G_z

    def calc_gradient_penalty(self, real_data, fake_data, LAMBDA):
        torch = self.torch
        alpha = torch.rand(1, 1).expand(real_data.size())
        interpolates = alpha * real_data + ((1 - alpha) * fake_data)
        interpolates = interpolates.detach().requires_grad_(True)  # autograd.Variable(t, requires_grad=True)
        disc_interpolates = self.netD(interpolates)
        gradients = torch.autograd.grad(
            outputs=disc_interpolates, inputs=interpolates, grad_outputs=torch.ones(disc_interpolates.size()),
            create_graph=True, retain_graph=True, only_inputs=True,
        )[0]
        return ((gradients.norm(2, dim=1) - 1) ** 2).mean() * LAMBDA

    def step(self):
        torch, config, netD, netG, real = self.torch, self.config, self.netD, self.netG, self.real
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lr_scheduler.step() before optimizer.step(): official order
            self.schedulerD.step()
            self.schedulerG.step()
        noise_ = self._m_noise(self._generate_noise(3, self.nzx, self.nzy))
        for j in range(config.d_steps):
            netD.zero_grad()
            output = netD(real)
            errD_real = -output.mean()
            errD_real.backward(retain_graph=True)
            D_x = -errD_real.item()
            if j == 0 and self.epoch == 0:
                prev = self._m_image(self._draw_concat("rand"))
                z_prev = self._draw_concat("rec")
                self.noise_amp = config.noise_amp_init * torch.sqrt(torch.nn.functional.mse_loss(real, z_prev))
                self.z_prev = self._m_image(z_prev)
            else:
                prev = self._m_image(self._draw_concat("rand"))
            noise = self.noise_amp * noise_ + prev
            fake = self._G(netG, noise.detach(), prev)
            output = netD(fake.detach())
            errD_fake = output.mean()
            errD_fake.backward(retain_graph=True)
            D_G_z = output.mean().item()
            gradient_penalty = self.calc_gradient_penalty(real, fake, config.gp_weight)
            gradient_penalty.backward()
            errD = errD_real + errD_fake + gradient_penalty
            self.optimizerD.step()
        for j in range(config.g_steps):
            netG.zero_grad()
            if j > 0:  # modern PyTorch: the stale graph is rejected after optimizerG.step() (#148)
                fake = self._G(netG, noise.detach(), prev)
            output = netD(fake)
            errG = -output.mean()
            errG.backward(retain_graph=True)
            Z_opt = self.noise_amp * self.z_opt + self.z_prev
            rec_loss = config.alpha * torch.nn.functional.mse_loss(self._G(netG, Z_opt.detach(), self.z_prev), real)
            rec_loss.backward(retain_graph=True)
            rec_loss = rec_loss.detach()
            self.optimizerG.step()
        self.epoch += 1
        return errD.item() + D_x + D_G_z


# ----------------------------------------------------------------------------- sinkit
class SinkitIteration:
    """sinkit's own iteration: :meth:`sinkit.singan.trainer.ScaleTrainer.step`."""

    def __init__(self, model, index):
        from sinkit.singan.trainer import ScaleTrainer

        self.trainer = ScaleTrainer(model, index)

    def step(self):
        loss_d, _, _ = self.trainer.step()
        return loss_d.item()


# ----------------------------------------------------------------------------- worker process
def worker(args) -> None:
    import torch

    from sinkit.singan import PRESETS

    torch.set_num_threads(args.threads)
    if args.impl == "sinkit":
        from sinkit.singan.trainer import prepare_process

        prepare_process()
    config = PRESETS[args.preset]
    from dataclasses import replace

    if args.impl == "sinkit" and args.precision != "default":
        config = replace(config, bf16=args.precision == "bf16")
    model, index = _build(args.image, args.scale_from_end, config)
    it = (OfficialIteration if args.impl == "official" else SinkitIteration)(model, index)
    info = {
        "impl": args.impl,
        "size": list(model.sizes[index]),
        "index": index,
        "channels": config.channels(index),
        "threads": torch.get_num_threads(),
        "precision": "fp32" if args.impl == "official" else _precision(model),
    }
    it.step()  # warm-up (first-iteration setup, oneDNN primitive creation)
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        n = int(line)
        times = []
        for _ in range(n):
            t = time.perf_counter()
            it.step()
            times.append(time.perf_counter() - t)
        print(json.dumps(times), flush=True)


def _precision(model) -> str:
    return "bf16" if model.config.bf16 else "fp32"


def _reply(proc):
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"worker {' '.join(proc.args[-12:-10])} died (exit code {proc.wait()}); its error is above")
    return json.loads(line)


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", default=str(DEFAULT_IMAGE), help="training image (default: ../shared/data/places50/0.jpg)")
    ap.add_argument("--preset", default="paper", help="sinkit preset whose networks and steps are timed (default: paper)")
    ap.add_argument("--scales", type=int, default=2, help="how many of the finest scales to time (default: 2)")
    ap.add_argument("--iters", type=int, default=2, help="iterations per turn (default: 2)")
    ap.add_argument("--rounds", type=int, default=3, help="turns per implementation and scale (default: 3)")
    ap.add_argument("--precision", choices=["default", "fp32", "bf16", "both"], default="default",
                    help="sinkit's precision: its default on this machine, fp32, bf16, or default and fp32 (the official loop is fp32)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="intra-op threads of each process (default: all cores)")
    ap.add_argument("--json", help="also write every timing to this file")
    ap.add_argument("--worker", choices=["official", "sinkit"], help=argparse.SUPPRESS, dest="impl")
    ap.add_argument("--scale-from-end", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.impl:
        worker(args)
        return

    precisions = ["default", "fp32"] if args.precision == "both" else [args.precision]
    print(f"load average before: {_load()}; {args.threads} threads per process; image {args.image}; preset {args.preset}")
    results = []
    for k in range(args.scales):
        for precision in precisions:
            procs = {}
            infos = {}
            for impl in ("official", "sinkit"):
                cmd = [sys.executable, __file__, "--worker", impl, "--image", args.image, "--preset", args.preset,
                       "--scale-from-end", str(k), "--precision", precision, "--threads", str(args.threads)]
                procs[impl] = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
                infos[impl] = _reply(procs[impl])  # waits for its warm-up: one at a time
            times = {"official": [], "sinkit": []}
            loads = [_load()]
            for _ in range(args.rounds):
                for impl in ("official", "sinkit"):
                    procs[impl].stdin.write(f"{args.iters}\n")
                    times[impl] += _reply(procs[impl])
                loads.append(_load())
            for p in procs.values():
                p.stdin.close()
                p.wait()
            med = {impl: statistics.median(t) for impl, t in times.items()}
            row = {
                "size": infos["sinkit"]["size"], "index": infos["sinkit"]["index"], "channels": infos["sinkit"]["channels"],
                "precision_sinkit": infos["sinkit"]["precision"], "precision_official": infos["official"]["precision"],
                "threads": infos["sinkit"]["threads"], "official_s": times["official"], "sinkit_s": times["sinkit"],
                "ratio": med["official"] / med["sinkit"], "load": loads,
            }
            results.append(row)
            h, w = row["size"]
            print(
                f"scale {row['index']} ({h}x{w}, {row['channels']} ch): official (fp32) "
                f"{min(times['official']):.2f} / {med['official']:.2f} / {max(times['official']):.2f} s/iter, "
                f"sinkit ({row['precision_sinkit']}) {min(times['sinkit']):.2f} / {med['sinkit']:.2f} / {max(times['sinkit']):.2f} s/iter "
                f"(min / median / max of {len(times['sinkit'])}); ratio of medians {row['ratio']:.2f}x; "
                f"load average during: {', '.join(loads)}",
                flush=True,
            )
    print(f"load average after: {_load()}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
