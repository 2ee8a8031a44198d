"""What each speed lever of sinkit's SinGAN iteration gives, each measured on its own.

Every variant is sinkit's :class:`~sinkit.singan.trainer.ScaleTrainer` at one
scale (default: the finest of ``../shared/data/places50/0.jpg``, paper preset)
with ONE lever switched off (or, for the ones sinkit does not use, on), each in
its own process; the controller runs ``--iters`` iterations of each variant in
turn for ``--rounds`` rounds, so slow drifts of the machine hit every variant
alike.  Prints seconds per iteration (median, min) and the cost of the variant
relative to the first one.

Levers:

* ``bf16``: bfloat16 autocast (config ``bf16``; the default where the CPU has
  AVX512-BF16/AMX);
* ``channels_last``: networks and images in NHWC, oneDNN's native layout;
* ``statnorm``: the critic's batch norm in elementary ops
  (:class:`~sinkit.singan.networks.BatchStatNorm2d`), whose double backward
  is cheaper than PyTorch's composite one;
* ``reuse``: the first generator step reuses the last critic step's fake (one
  generator forward less per iteration, as the official loop);
* ``malloc``: glibc keeps freed memory (:func:`~sinkit.singan.trainer.prepare_process`);
* not used by sinkit, measured: ``compile`` (``torch.compile`` of the generator,
  whose graph has no double backward), ``fused_adam`` (``Adam(fused=True)``).

    python benchmarks/singan_levers.py                       # bf16 and fp32 variants at 188x250
    python benchmarks/singan_levers.py --variants fp32,fp32-channels_last --iters 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vs_official import DEFAULT_IMAGE, _build, _load, _reply  # noqa: E402

#: name -> (precision, levers switched off, levers switched on)
VARIANTS = {
    "bf16": ("bf16", [], []),
    "bf16-channels_last": ("bf16", ["channels_last"], []),
    "bf16-statnorm": ("bf16", ["statnorm"], []),
    "bf16-reuse": ("bf16", ["reuse"], []),
    "bf16-malloc": ("bf16", ["malloc"], []),
    "bf16+compile": ("bf16", [], ["compile"]),
    "bf16+fused_adam": ("bf16", [], ["fused_adam"]),
    "fp32": ("fp32", [], []),
    "fp32-channels_last": ("fp32", ["channels_last"], []),
    "fp32-statnorm": ("fp32", ["statnorm"], []),
    "fp32-reuse": ("fp32", ["reuse"], []),
    "fp32-malloc": ("fp32", ["malloc"], []),
    "fp32-all": ("fp32", ["channels_last", "statnorm", "reuse", "malloc"], []),
}
DEFAULT_VARIANTS = ["bf16", "bf16-channels_last", "bf16-statnorm", "bf16-reuse", "bf16-malloc", "bf16+fused_adam",
                    "fp32", "fp32-channels_last", "fp32-statnorm", "fp32-reuse", "fp32-malloc", "fp32-all"]


def _make(variant: str, image: str, preset: str, scale_from_end: int):
    import torch
    import torch.nn as nn
    from dataclasses import replace

    from sinkit.singan import PRESETS
    from sinkit.singan.networks import BatchStatNorm2d
    from sinkit.singan.trainer import ScaleTrainer, prepare_process

    precision, off, on = VARIANTS[variant]
    if "malloc" not in off:
        prepare_process()
    config = replace(PRESETS[preset], bf16=precision == "bf16")
    model, index = _build(image, scale_from_end, config)
    tr = ScaleTrainer(model, index)
    g, d = tr.scale.generator, tr.scale.discriminator
    if "channels_last" in off:
        fmt = torch.contiguous_format
        tr.memory_format = fmt
        for net in (g, d, *(s.generator for s in model.scales)):
            net.to(memory_format=fmt)
        tr.real = tr.real.contiguous(memory_format=fmt)
        tr.x_up_rec = tr.x_up_rec.contiguous(memory_format=fmt)
    if "statnorm" in off:
        for m in d.modules():
            if isinstance(m, BatchStatNorm2d):
                m.__class__ = nn.BatchNorm2d  # same state, PyTorch's kernel and double backward
    if "reuse" in off:
        tr.reuse_fake = False
    if "fused_adam" in on:
        tr.opt_d = torch.optim.Adam(d.parameters(), lr=config.lr_d, betas=config.betas, fused=True)
        tr.opt_g = torch.optim.Adam(g.parameters(), lr=config.lr_g, betas=config.betas, fused=True)
        tr.sched_d = torch.optim.lr_scheduler.MultiStepLR(tr.opt_d, milestones=[1600], gamma=config.lr_gamma)
        tr.sched_g = torch.optim.lr_scheduler.MultiStepLR(tr.opt_g, milestones=[1600], gamma=config.lr_gamma)
    if "compile" in on:
        g.forward = torch.compile(g.forward)
    return tr, model, index


def worker(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    tr, model, index = _make(args.worker, args.image, args.preset, args.scale_from_end)
    t = time.perf_counter()
    tr.step()
    tr.step()
    print(json.dumps({"size": list(model.sizes[index]), "index": index, "warmup_s": time.perf_counter() - t}), flush=True)
    import resource

    for line in sys.stdin:
        times = []
        for _ in range(int(line)):
            t = time.perf_counter()
            tr.step()
            times.append(time.perf_counter() - t)
        print(json.dumps(times + [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", default=str(DEFAULT_IMAGE))
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--scale-from-end", type=int, default=0, help="0 = finest scale (default), 1 = the one before, ...")
    ap.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help=f"comma list from: {', '.join(VARIANTS)}")
    ap.add_argument("--iters", type=int, default=2, help="iterations per turn (default: 2)")
    ap.add_argument("--rounds", type=int, default=3, help="turns per variant (default: 3)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json", help="also write every timing to this file")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    print(f"load average before: {_load()}; {args.threads} threads per process; {args.image}; preset {args.preset}", flush=True)
    procs, infos = {}, {}
    for v in names:
        cmd = [sys.executable, __file__, "--worker", v, "--image", args.image, "--preset", args.preset,
               "--scale-from-end", str(args.scale_from_end), "--threads", str(args.threads)]
        env = dict(os.environ)
        procs[v] = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, env=env)
        infos[v] = _reply(procs[v])  # one warm-up at a time
    times = {v: [] for v in names}
    rss = {}
    loads = [_load()]
    for _ in range(args.rounds):
        for v in names:
            procs[v].stdin.write(f"{args.iters}\n")
            *t, rss[v] = _reply(procs[v])
            times[v] += t
        loads.append(_load())
    for p in procs.values():
        p.stdin.close()
        p.wait()
    size = infos[names[0]]["size"]
    print(f"scale {infos[names[0]]['index']} ({size[0]}x{size[1]}); {args.rounds} rounds x {args.iters} iterations per variant")
    print("| variant | s/iter median | min | vs first | peak RSS, MiB |")
    print("|---|---|---|---|---|")
    base = statistics.median(times[names[0]])
    for v in names:
        med = statistics.median(times[v])
        print(f"| {v} | {med:.2f} | {min(times[v]):.2f} | {med / base:.2f}x | {rss[v]:.0f} |")
    print(f"load average during: {', '.join(loads)}; after: {_load()}")
    if args.json:
        Path(args.json).write_text(json.dumps({"infos": infos, "times": times, "rss_mb": rss, "loads": loads}, indent=2))


if __name__ == "__main__":
    main()
