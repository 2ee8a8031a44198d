"""Runs the bad-input table (tests/bad_inputs.py): each row's exit code and error line, no traceback."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import socket
import struct
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import sinkit
from sinkit.cli.main import cli
from sinkit.core import capabilities, pyramid_model
from sinkit.core.checkpoint import load_checkpoint, save_checkpoint
from sinkit.core.registry import get_method

from bad_inputs import ROWS, TINY_TRAIN, Bad

CAPABILITIES = {
    "Sampler": capabilities.Sampler,
    "Translator": capabilities.Translator,
    "Injectable": capabilities.Injectable,
    "PyramidModel": pyramid_model.PyramidModel,
    "NoiseInputs": pyramid_model.NoiseInputs,
}


def _resave(src: Path, dst: Path, edit) -> None:
    tensors, meta = load_checkpoint(src)
    edit(tensors, meta)
    meta.pop("format_version", None)
    save_checkpoint(dst, tensors, meta)


def _set_version(tensors, meta):
    meta["format_version"] = 99


#: damaged copies of a finished SinGAN model for ``{ckpt:KIND}``: KIND -> (src, dst) -> None
CORRUPTIONS = {
    "truncated": lambda s, d: (d / "model.safetensors").write_bytes((s / "model.safetensors").read_bytes()[: (s / "model.safetensors").stat().st_size // 2]),
    "zeros": lambda s, d: (d / "model.safetensors").write_bytes(b"\x00" * 64),
    "foreign": lambda s, d: __import__("safetensors.torch").torch.save_file({"x": torch.zeros(2)}, str(d / "model.safetensors"), metadata={"format": "pt"}),
    "future": lambda s, d: _future(s, d),
    "unknown_method": lambda s, d: _resave(s, d, lambda t, m: m.update(method="nosuchgan")),
    "extra_scale": lambda s, d: _resave(s, d, lambda t, m: m.update(scales=m["scales"][:-1])),
    "missing_tensor": lambda s, d: _resave(s, d, lambda t, m: t.pop("scales.0.generator.head.0.weight")),
    "missing_image": lambda s, d: _resave(s, d, lambda t, m: t.pop("real")),
    "misshaped": lambda s, d: _resave(s, d, lambda t, m: t.update({"scales.0.generator.tail.0.bias": torch.zeros(4)})),
    "wrong_image_size": lambda s, d: _resave(s, d, lambda t, m: m.update(inputs={"image": [1, 3, 7, 7]})),
    "pyramid_mismatch": lambda s, d: _resave(s, d, lambda t, m: m["pyramid"]["sizes"].__setitem__(-1, [99, 99])),
    "bad_config": lambda s, d: _resave(s, d, lambda t, m: m["config"].update(warp=9)),
}


def _future(src: Path, dst: Path) -> None:
    """Format version 99: rewrite the header by hand (save_checkpoint always writes the current one)."""
    raw = (src / "model.safetensors").read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    meta = json.loads(header["__metadata__"]["sinkit"])
    meta["format_version"] = 99
    header["__metadata__"]["sinkit"] = json.dumps(meta)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    (dst / "model.safetensors").write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n :])


class Workspace:
    """The files the placeholders name, made on first use and shared by every row."""

    def __init__(self, root: Path):
        self.root = root
        self._cache: dict[str, Path] = {}
        self._rows = 0

    def _once(self, key: str, make) -> Path:
        if key not in self._cache:
            self._cache[key] = make(self.root / re.sub(r"\W", "_", key))
        return self._cache[key]

    def image(self, size: str = "32x48") -> Path:
        def make(p):
            h, w = (int(v) for v in size.split("x"))
            img = sinkit.resize(sinkit.load_image(Path(sinkit.__path__[0]) / "data" / "rocket.jpg"), (h, w))
            return sinkit.save_image(img, p.with_suffix(".png"))

        return self._once(f"image:{size}", make)

    def mask(self) -> Path:
        def make(p):
            m = -torch.ones(1, 3, 32, 48)
            m[..., 8:20, 12:30] = 1
            return sinkit.save_image(m, p.with_suffix(".png"))

        return self._once("mask", make)

    def model(self, method: str, *, partial: bool = False) -> Path:
        def make(p):
            image, *options = TINY_TRAIN[method]
            image = self.image(image.strip("{}").partition(":")[2] or "32x48")
            options = [str(self.mask()) if o == "{mask}" else o for o in options]  # extra inputs (DeepSIM's primitive)
            args = ["train", str(image), "--out", str(p), "--quiet", "--samples", "0", "--device", "cpu", *options]
            r = CliRunner().invoke(cli, args, env={"SINKIT_OFFLINE": "1"}, catch_exceptions=False)
            assert r.exit_code == 0, r.output
            if partial:  # as a run stopped early
                cls = get_method(method)
                config = sinkit.load(p).config
                shutil.rmtree(p)
                cls.fit(str(image), config, out_dir=p, device="cpu", progress=False, stop_after=1)
            return p

        return self._once(f"{'partial' if partial else 'model'}:{method}", make)

    def fill(self, text: str, tmp: Path) -> list[str]:
        self._rows += 1
        fresh = tmp / f"row{self._rows}"
        fresh.mkdir()

        def copy(src: Path) -> str:
            dst = fresh / src.name
            shutil.copytree(src, dst)
            return str(dst)

        def sub(m: re.Match) -> str:
            kind, _, arg = m.group(1).partition(":")
            if kind == "image":
                return str(self.image(arg or "32x48"))
            if kind == "mask":
                return str(self.mask())
            if kind == "text":
                p = fresh / "notes.png"
                p.write_text("not an image")
                return str(p)
            if kind == "file":
                p = fresh / "a_file"
                p.write_text("x")
                return str(p)
            if kind == "missing":
                return str(fresh / "missing.png")
            if kind == "empty":
                (fresh / "empty").mkdir(exist_ok=True)
                return str(fresh / "empty")
            if kind == "out":
                return str(fresh / "out")
            if kind == "model":
                return copy(self.model(arg))
            if kind == "partial":
                return copy(self.model(arg, partial=True))
            if kind == "ckpt":
                dst = Path(copy(self.model("singan")))
                CORRUPTIONS[arg](self.model("singan"), dst)
                return str(dst)
            if kind == "locked":
                d = fresh / "locked"
                d.mkdir()
                (d / ".sinkit.lock").write_text(f"{socket.gethostname()}:1")  # PID 1 always runs
                return str(d)
            if kind == "dataset":
                d = fresh / "dataset"
                d.mkdir()
                for name in ("1", "2"):
                    shutil.copy(self.image(), d / f"{name}.png")
                return str(d)
            if kind == "otherbench":
                d = fresh / "otherbench"
                d.mkdir()
                (d / "bench.json").write_text(json.dumps({"settings": {"method": "singan", "samples": 99}, "config": {}}))
                return str(d)
            if kind == "noimages":
                d = fresh / "noimages"
                d.mkdir()
                (d / "readme.txt").write_text("no images here")
                return str(d)
            if kind == "samples":
                d = fresh / "samples"
                r = CliRunner().invoke(cli, ["sample", str(self.model("singan")), "--num", "2", "--out", str(d), "--scale-h", "2"], catch_exceptions=False)
                assert r.exit_code == 0, r.output
                return str(d)
            raise KeyError(f"unknown placeholder {{{m.group(1)}}} in tests/bad_inputs.py")

        return [re.sub(r"\{([^}]+)\}", sub, token) for token in shlex.split(text)]


def _expand(rows: list[Bad]) -> list[tuple[str, Bad, str]]:
    """(test id, row, args) with every ``{model}`` row repeated for each method that has its capability."""
    out = []
    for i, row in enumerate(rows):
        if "{model}" not in row.args:
            out.append((f"{i:02d}-{row.args.split()[0]}", row, row.args))
            continue
        for method in TINY_TRAIN:
            cls = get_method(method)
            if row.needs and not issubclass(cls, CAPABILITIES[row.needs]):
                continue
            out.append((f"{i:02d}-{row.args.split()[0]}-{method}", row, row.args.replace("{model}", "{model:" + method + "}")))
    return out


CASES = _expand(ROWS)
SHOW = bool(__import__("os").environ.get("SINKIT_SHOW_ERRORS"))  # print every row's message (to review them)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return Workspace(tmp_path_factory.mktemp("bad_inputs"))


def test_the_table_covers_every_command():
    commands = {args.split()[0] for _, _, args in CASES}
    assert commands >= {"train", "sample", "info", "paint", "edit", "harmonize", "transfer", "upscale", "animate", "translate", "eval", "bench"}
    assert len(CASES) >= 40


@pytest.mark.parametrize("row,args", [(row, args) for _, row, args in CASES], ids=[i for i, _, _ in CASES])
def test_bad_input_gives_one_clear_line(row, args, workspace, tmp_path, monkeypatch):
    for key, value in row.env.items():
        monkeypatch.setenv(key, value)
    argv = workspace.fill(args, tmp_path)
    result = CliRunner().invoke(cli, argv)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"sinkit {' '.join(argv)} raised {type(result.exception).__name__}: {result.exception}") from result.exception
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert result.exit_code == row.code, (argv, result.output)
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    assert re.match(row.message, errors[0][len("Error: "):]), f"\n  got:      {errors[0]}\n  expected: {row.message}"
    if SHOW:
        print(f"\n{result.exit_code} sinkit {args}\n  {errors[0]}")
