"""Every way we know to hand a command bad input, with the exit code and the error line expected.

This table is data only; ``tests/test_bad_inputs.py`` runs each row through the
CLI (in-process, with click's test runner) and asserts:

* the exit code (1: the command refused the input; 2: click refused an option,
  a usage error), never a Python traceback;
* exactly one line starting with ``Error: `` (click prints ``Usage: ...``
  above it for exit code 2), whose text after ``Error: `` matches ``message``
  (a regular expression, matched from the start).

Placeholders in ``args`` are filled by the test (see its ``Workspace``):

=====================  ===============================================================
``{image}``            a 32x48 px PNG of the bundled photo; ``{image:HxW}`` the same at H x W px
``{mask}``             a mask PNG of the same size (white square)
``{text}``             a text file named ``.png`` (not an image)
``{file}``             a regular file (to put an ``--out`` under it)
``{missing}``          a path that does not exist
``{empty}``            an empty folder
``{out}``              a fresh folder for the row's outputs (does not exist yet)
``{dataset}``          a folder of 2 tiny images; ``{noimages}`` one with none
``{model:NAME}``       a finished tiny model of method NAME (trained with ``TINY_TRAIN[NAME]``);
                       every row gets its own copy, so a row that wrongly succeeds harms no other
``{model}``            the same for EVERY method in ``TINY_TRAIN`` whose model class has the
                       capability named in ``needs``: the row is run once per such method
``{partial:NAME}``     a tiny model of NAME whose training stopped early (``info``: INCOMPLETE)
``{ckpt:KIND}``        a damaged copy of ``{model:singan}``; KIND is a key of ``CORRUPTIONS`` in the test
``{locked}``           a run folder whose lock names a live process (PID 1)
``{samples}``          a folder of samples written by ``sinkit sample``, contact sheet included
``{otherbench}``       a benchmark folder made with other settings
=====================  ===============================================================

Adding a method (DeepSIM, GPNN...): add ``TINY_TRAIN["name"]``, the training
image and the ``sinkit train`` options that train a model of it in about a
second (its extra inputs may use the placeholders, e.g. ``--primitive {mask}``), and its own rows
below ``# --- your method here``.  The generic ``{model}`` rows then run on it
too: a new method passes the same table as every other.  See docs/reliability.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Bad", "TINY_TRAIN", "ROWS"]


@dataclass(frozen=True)
class Bad:
    """One bad input.

    Attributes:
        args: the command line after ``sinkit``, with placeholders (split with ``shlex``).
        code: expected exit code.
        message: regular expression for the error line after ``Error: `` (``re.match``).
        needs: for ``{model}`` rows: the capability a method's model class must have for the row
            to apply (``Sampler``, ``Injectable``, ``PyramidModel``, ``NoiseInputs``,
            ``Translator``); empty: every method.
        env: environment variables for the run.
    """

    args: str
    code: int
    message: str
    needs: str = ""
    env: dict = field(default_factory=dict)


#: ``sinkit train IMAGE --out DIR ...``: the training image (a placeholder) and the options that
#: train a tiny model of each method in about a second
TINY_TRAIN: dict[str, list[str]] = {
    "singan": ["{image}", "--preset", "fast", "--max-size", "40", "--iters", "4", "--min-size", "20", "--set", "max_channels=8", "--set", "base_channels=8"],
    "sinir": ["{image}", "--method", "sinir", "--preset", "fast", "--max-size", "40", "--iters", "4", "--set", "channels=8", "--set", "min_size=16"],
    # PetsGAN's smallest image is 96x128 (LR 12x16 at factor 8); the augmentation prior needs no download
    "petsgan": ["{image:96x128}", "--method", "petsgan", "--preset", "fast", "--prior", "augment", "--samples", "0",
                *[f"--set={k}=2" for k in ("dep_iters", "dip_iters", "joint_iters", "pt_iters", "warmup_iters", "dep_batch", "lr_copies")],
                *[f"--set={k}=4" for k in ("dep_channels", "dep_d_channels", "d_channels", "augment_count")],
                "--set=ir_channels=8", "--set=crop_size=64"],
    "deepsim": ["{image}", "--method", "deepsim", "--primitive", "{mask}", "--primitive-kind", "manual", "--preset", "fast",
                *[f"--set={k}=4" for k in ("ngf", "ndf")], "--set=n_downsample=2", "--set=n_blocks=1",
                "--set=niter=2", "--set=niter_decay=2", "--set=vgg_loss=off"],
    # training-free: "training" stores the image and the frozen config
    "gpnn": ["{image}", "--method", "gpnn"],
    "gpdm": ["{image}", "--method", "gpdm"],
    "patch_diffusion": ["{image:128x192}", "--method", "patch_diffusion"],  # 4 levels of 0.5 above a 15 px patch
}

ROWS: list[Bad] = [
    # --- train: the run directory (issue 9: never lose a trained model)
    Bad("train {image} --out {model}", 1, r"\S+ already holds a finished \w+ model; pass --overwrite to replace it \(or choose another --out\)$"),
    Bad("train {image} --out {partial:singan}", 1, r"\S+ already holds an interrupted singan run \(1 of \d+ scales\); pass --resume to continue it, or --overwrite to start over$"),
    Bad("train {image} --out {out} --resume --overwrite", 2, r"--resume continues the run in --out, --overwrite replaces it: give one of them$"),
    Bad("train {image} --out {file}/run", 1, r"cannot create the run directory \S+/run: \S+ is a file$"),
    Bad("train {image} --out {file}", 2, r"Invalid value for '--out': Directory '\S+' is a file\.$"),
    Bad("train {image} --out {locked}", 1, r"\S+ is being written by process 1 \(lock file \S+\.sinkit\.lock\); wait for it to finish or stop it$"),
    Bad("train {image} --out {ckpt:truncated} --resume", 1, r"corrupt checkpoint file \S+model\.safetensors: "),
    # --- train: inputs and options, refused before any training
    Bad("train {missing} --out {out}", 1, r"image file not found: \S+$"),
    Bad("train {text} --out {out}", 1, r"not an image file \(Pillow cannot identify it\): \S+$"),
    Bad("train {image} --out {out} --min-size 10", 1, r"min_size \(10\) must be at least the networks' receptive field, 11 px"),
    Bad("train {image} --out {out} --alpha nan", 1, r"alpha must be a finite number, got nan$"),
    Bad("train {image} --out {out} --iters 0", 1, r"iters must be >= 1, got 0$"),
    Bad("train {image} --out {out} --max-size 10", 1, r"min_size \(25\) must not exceed max_size \(10\)$"),
    Bad("train {image} --out {out} --scale-factor 1.5", 1, r"scale_factor must be in \(0, 1\), got 1\.5$"),
    Bad("train {image} --out {out} --method bogus", 1, r"unknown method 'bogus'; available: "),
    Bad("train {image} --out {out} --preset bogus", 2, r"Invalid value for --preset: unknown preset 'bogus' for singan; available: paper, fast, cpu$"),
    Bad("train {image} --out {out} --set bogus=1", 2, r"Invalid value for --set: SinGANConfig has no field 'bogus'"),
    Bad("train {image} --out {out} --set iters=abc", 2, r"Invalid value for --set: iters expects int, got 'abc'$"),
    Bad("train {image} --out {out} --task sr --factor 1", 1, r"super-resolution factor must be > 1, got 1\.0$"),
    Bad("train {image} --out {out} --method sinir --alpha 3", 2, r"No such option '--alpha'"),
    # --- sample (every sampler)
    Bad("sample {model} --num 0 --out {out}", 2, r"Invalid value for '--num': 0 is not in the range x>=1\.$", needs="Sampler"),
    Bad("sample {model} --batch-size 0 --out {out}", 2, r"Invalid value for '--batch-size': 0 is not in the range x>=1\.$", needs="Sampler"),
    Bad("sample {model} --scale-h inf --out {out}", 2, r"Invalid value for '--scale-h': inf is not a finite number > 0$", needs="Sampler"),
    Bad("sample {model} --scale-v nan --out {out}", 2, r"Invalid value for '--scale-v': nan is not a finite number > 0$", needs="Sampler"),
    Bad("sample {model} --scale-h -1 --out {out}", 2, r"Invalid value for '--scale-h': -1 is not a finite number > 0$", needs="Sampler"),
    Bad("sample {model} --scale-h 100 --scale-v 100 --max-memory 1G --out {out}", 1,
        r"8 samples of \d+x\d+ px \(batches of 8\) would need about [\d.]+ [GT]iB of memory \(estimate\), above the limit of 1\.0 GiB \(--max-memory\); "
        r"use a smaller --batch-size or --num, or smaller --scale-h/--scale-v, or raise the limit", needs="Sampler"),
    Bad("sample {model} --scale-h 30 --out {out}", 1, r"8 samples of \d+x\d+ px .* above the limit of 1\.0 MiB \(SINKIT_MAX_MEMORY\)", needs="Sampler", env={"SINKIT_MAX_MEMORY": "1M"}),
    Bad("sample {model} --max-memory lots --out {out}", 2, r"Invalid value for --max-memory: not a memory size: 'lots'", needs="Sampler"),
    Bad("sample {model} --out {file}/samples", 1, r"cannot create the output folder \S+/samples: \S+ is a file$", needs="Sampler"),
    Bad("sample {model} --start-scale 99 --out {out}", 2, r"Invalid value for --start-scale: scale 99 is outside the valid range 0\.\.\d+", needs="PyramidModel"),
    Bad("sample {model} --start-scale top --out {out}", 2, r"Invalid value for --start-scale: 'top' is not a scale", needs="PyramidModel"),
    Bad("sample {partial:singan} --out {out}", 1, r"\S+ is an INCOMPLETE model \(training stopped at 1 of \d+ scales\): outputs are \d+x\d+ px instead of \d+x\d+; finish it with sinkit train IMAGE --out \S+ --resume, or pass --allow-incomplete$"),
    Bad("sample {empty} --out {out}", 1, r"no model\.safetensors in \S+: not a sinkit model directory"),
    Bad("sample {image} --out {out}", 1, r"\S+ is a file, not a model directory: train a model first"),
    Bad("sample {missing}", 2, r"Invalid value for 'MODEL_DIR': Path '\S+' does not exist\.$"),
    # --- damaged checkpoints (what each damage is: CORRUPTIONS in tests/test_bad_inputs.py)
    Bad("info {ckpt:truncated}", 1, r"corrupt checkpoint file \S+model\.safetensors: "),
    Bad("info {ckpt:zeros}", 1, r"corrupt or foreign checkpoint file \S+: cannot read sinkit metadata \(bad header length\)$"),
    Bad("info {ckpt:foreign}", 1, r"corrupt or foreign checkpoint file \S+: cannot read sinkit metadata \('sinkit'\)$"),
    Bad("info {ckpt:future}", 1, r"\S+ has checkpoint format 99; this sinkit reads format 1$"),
    Bad("info {ckpt:unknown_method}", 1, r"\S+: unknown method 'nosuchgan'; available: "),
    Bad("info {ckpt:extra_scale}", 1, r"singan checkpoint: its tensors do not match its metadata: unexpected tensors scales\.\d+\."),
    Bad("info {ckpt:missing_tensor}", 1, r"singan checkpoint: its tensors do not match its metadata: missing tensors scales\.0\.generator\.head\.0\.weight \(1\)$"),
    Bad("info {ckpt:missing_image}", 1, r"singan checkpoint lacks its training input 'image' \(tensor 'real'\)$"),
    Bad("info {ckpt:misshaped}", 1, r"singan checkpoint: its tensors do not match its metadata: mis-shaped tensors scales\.0\.generator\.tail\.0\.bias \(4,\) vs \(3,\)"),
    Bad("info {ckpt:wrong_image_size}", 1, r"singan checkpoint: its image tensor is \(1, 3, \d+, \d+\) but its metadata says \(1, 3, 7, 7\)$"),
    Bad("info {ckpt:pyramid_mismatch}", 1, r"singan checkpoint is inconsistent: its image is \d+x\d+ px but its pyramid's finest scale is 99x99$"),
    Bad("info {ckpt:bad_config}", 1, r"singan checkpoint has an unreadable config: unknown SinGANConfig fields: \['warp'\]$"),
    # --- tasks (every injectable model; paint's coarsest scale is not valid for SinGAN)
    Bad("paint {model} --paint {text} --scale all --out {out}", 1, r"not an image file \(Pillow cannot identify it\): \S+$", needs="Injectable"),
    Bad("paint {model} --paint {image} --scale 99 --out {out}", 2, r"Invalid value for --scale: scale 99 is outside the valid range", needs="Injectable"),
    Bad("paint {model:singan} --paint {image} --scale 0 --out {out}", 2, r"Invalid value for --scale: scale 0 is outside the valid range 1\.\."),
    Bad("paint {model} --paint {image} --scale all --quantize --k 0 --out {out}", 2, r"Invalid value for '--k': 0 is not in the range x>=1\.$", needs="Injectable"),
    Bad("paint {model} --paint {image} --scale all --max-memory 1K --out {out}", 1, r"paint-to-image at \d+ scale\(s\), \d+x\d+ px each would need about .* above the limit of 1\.0 KiB", needs="Injectable"),
    Bad("edit {model} --input {image} --mask {missing} --scale all --out {out}", 1, r"image file not found: \S+$", needs="Injectable"),
    Bad("edit {model} --input {image} --mask {mask} --scale all --dilation -1 --out {out}", 2, r"Invalid value for '--dilation': -1 is not in the range x>=0\.$", needs="Injectable"),
    Bad("edit {model} --input {image} --mask {mask} --scale all --blur nan --out {out}", 2, r"Invalid value for '--blur': nan is not a finite number >= 0$", needs="Injectable"),
    Bad("harmonize {model} --input {text} --mask {mask} --scale all --out {out}", 1, r"not an image file", needs="Injectable"),
    Bad("harmonize {model} --input {image} --mask {mask} --scale all --out {file}/h", 1, r"cannot create the output folder \S+/h: \S+ is a file$", needs="Injectable"),
    Bad("transfer {model} --input {image} --scale N-99 --out {out}", 2, r"Invalid value for --scale: scale N-99 is outside the valid range", needs="Injectable"),
    Bad("transfer {partial:singan} --input {image} --scale 1 --out {out}", 1, r"\S+ is an INCOMPLETE model"),
    Bad("upscale {model} --factor 1 --out {out}", 1, r"upscaling factor must be a finite number > 1, got 1\.0$", needs="PyramidModel"),
    Bad("upscale {model} --factor inf --out {out}", 2, r"Invalid value for '--factor': inf is not a finite number > 0$", needs="PyramidModel"),
    Bad("upscale {model} --factor 1000 --out {out}", 1, r"upscaling \d+x\d+ px x1000 to \d+x\d+ px would need about [\d.]+ [GT]iB of memory \(estimate\), above the limit", needs="PyramidModel", env={"SINKIT_MAX_MEMORY": "4G"}),
    Bad("animate {model} --fps 0 --out {out}/c.gif", 2, r"Invalid value for '--fps': 0 is not a finite number > 0$", needs="NoiseInputs"),
    Bad("animate {model} --fps nan --out {out}/c.gif", 2, r"Invalid value for '--fps': nan is not a finite number > 0$", needs="NoiseInputs"),
    Bad("animate {model} --out {out}/clip.avi", 1, r"animation file must end in \.gif or \.mp4, got 'clip\.avi'$", needs="NoiseInputs"),
    Bad("animate {model} --frames 0 --out {out}/c.gif", 2, r"Invalid value for '--frames': 0 is not in the range x>=1\.$", needs="NoiseInputs"),
    Bad("animate {model} --beta 2 --out {out}/c.gif", 2, r"Invalid value for --alpha/--beta: alpha and beta must be in \[0, 1\], got 0\.1, 2\.0$", needs="NoiseInputs"),
    Bad("animate {model} --out {file}/c.gif", 1, r"cannot create the folder of the clip \S+: it is a file$", needs="NoiseInputs"),
    Bad("animate {model:sinir} --out {out}/c.gif", 1, r"sinir models cannot animate"),
    Bad("translate {model:singan} --primitive {image} --out {out}", 1, r"singan models cannot translate primitives \(sinkit translate\)\. SinGAN models sample"),
    # --- eval
    Bad("eval {image} {empty}", 1, r"no images \(\.jpg, .*\) in \S+empty$"),
    Bad("eval {text} {image}", 1, r"not an image file \(Pillow cannot identify it\): \S+$"),
    Bad("eval {image} {model} --num 0", 2, r"Invalid value for '--num': 0 is not in the range x>=1\.$", needs="Sampler"),
    Bad("eval {image} {model} --metrics bogus", 2, r"Invalid value for --metrics: unknown metric\(s\) bogus; known: "),
    Bad("eval {image} {partial:singan}", 1, r"\S+ is an INCOMPLETE model"),
    Bad("eval {image} {samples} --reference {mask} --metrics nn_patch", 1, r"--reference is 32x48 px but the sample is \d+x\d+ px; fidelity needs images of the same size$"),
    Bad("eval {image} {model} --json {file}/s.json", 1, r"cannot create the folder of --json \S+: it is a file$", needs="Sampler"),
    # --- bench
    Bad("bench {noimages} --out {out}", 1, r"no images \(\.jpg, .*\) in \S+$"),
    Bad("bench {missing} --out {out}", 2, r"Invalid value for 'DATASET': Directory '\S+' does not exist\.$"),
    Bad("bench {dataset} --out {out} --samples 1", 2, r"Invalid value for '--samples': 1 is not in the range x>=2\.$"),
    Bad("bench {dataset} --out {out} --limit 0", 2, r"Invalid value for '--limit': 0 is not in the range x>=1\.$"),
    Bad("bench {dataset} --out {out} --start-scales X", 1, r"'X' is not a scale; use an index \(0 = coarsest\) or N, N-1, \.\.\.$"),
    Bad("bench {dataset} --out {out} --method bogus", 1, r"unknown method 'bogus'; available: "),
    Bad("bench {dataset} --out {out} --preset bogus", 2, r"Invalid value for --preset: unknown preset 'bogus' for singan"),
    Bad("bench {dataset} --out {out} --set bogus=1", 2, r"Invalid value for --set: SinGANConfig has no field 'bogus'"),
    Bad("bench {dataset} --out {file}/b", 1, r"cannot create the benchmark folder \S+/b: \S+ is a file$"),
    Bad("bench {dataset} --out {otherbench}", 1, r"\S+ holds a benchmark with other settings \(\S+bench\.json\); use another --out or the same options$"),
    Bad("bench {dataset} --out {empty} --report-only", 1, r"\S+ holds no benchmark \(no bench\.json\)$"),
    # --- DeepSIM
    Bad("translate {model:deepsim} --primitive {text} --out {out}", 1, r"not an image file \(Pillow cannot identify it\): \S+$"),
    Bad("translate {model:deepsim} --primitive {missing} --out {out}", 1, r"image file not found: \S+$"),
    Bad("translate {model:deepsim} --primitive {mask} --out {file}/t", 1, r"cannot create the output folder \S+/t: \S+ is a file$"),
    Bad("train {image} --method deepsim --out {out}", 1, r"deepsim needs the training input 'primitive' \(--primitive: "),
    Bad("train {image} --method deepsim --primitive {text} --out {out}", 1, r"not an image file"),
    Bad("sample {model:deepsim} --out {out}", 1, r"deepsim models cannot draw random samples"),
    Bad("primitive {text} --out {out}/p.png", 1, r"not an image file \(Pillow cannot identify it\): \S+$"),
    Bad("primitive {image} --out {file}/p.png", 1, r"cannot create the output folder \S+: it is a file$"),
    Bad("primitive {image} --kind seg --segments 0 --out {out}/p.png", 2, r"Invalid value for '--segments': 0 is not in the range x>=1"),
    Bad("primitive {image} --kind seg_edges --seg {text} --out {out}/p.png", 1, r"not an image file \(Pillow cannot identify it\): \S+$"),
    # --- GPNN inpainting
    Bad("inpaint {image} --mask {text} --out {out}", 1, r"not an image file \(Pillow cannot identify it\): \S+$"),
    Bad("inpaint {image} --mask {missing} --out {out}", 2, r"Invalid value for '--mask': File '\S+' does not exist"),
    Bad("inpaint {image} --mask {mask} --alpha -1 --out {out}", 2, r"Invalid value for '--alpha': -1\.0 is not in the range x>0"),
    Bad("inpaint {image} --mask {mask} --out {file}/o", 1, r"cannot create the output folder \S+/o: \S+ is a file$"),
    Bad("inpaint {image} --mask {mask} --max-memory 1K --out {out}", 1, r"inpainting 32x48 px would need about \S+ \S+ of memory \(estimate\), above the limit of 1\.0 KiB"),
    Bad("inpaint {model:singan} --mask {mask} --out {out}", 1, r"singan models cannot inpaint"),
    # --- your method here: Bad("...", code, r"message"), ...
]
