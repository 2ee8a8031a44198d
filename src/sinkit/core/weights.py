"""Finding pretrained weight files (Inception-v3, AlexNet, LPIPS for the metrics; methods register their own).

Weights are never bundled and never unpickled: files are read with
``torch.load(..., weights_only=True)``.  A file is looked for, in order:

1. an explicit path passed by the caller;
2. the environment variable named in the :class:`WeightFile` entry
   (e.g. ``SINKIT_INCEPTION_WEIGHTS=/data/pt_inception-2015-12-05-6726825d.pth``);
3. ``$SINKIT_WEIGHTS_DIR/<file name>``;
4. torch hub's cache folder, ``torch.hub.get_dir()/checkpoints/<file name>``
   (``~/.cache/torch/hub/checkpoints`` unless ``TORCH_HOME`` says otherwise),
   where an earlier download or another library may already have put it;
5. a download with ``torch.hub.load_state_dict_from_url`` into that folder
   (skipped when ``download=False`` or ``SINKIT_OFFLINE=1``).

When all of that fails, :class:`WeightsUnavailable` says exactly which file to
put where.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["WeightFile", "WEIGHTS", "WeightsUnavailable", "find_weights", "load_weights", "register_weights", "weights_available"]


class WeightsUnavailable(FileNotFoundError):
    """A pretrained weight file could not be found or downloaded (the message says where to put it)."""


@dataclass(frozen=True)
class WeightFile:
    """One downloadable weight file."""

    name: str
    """short key, e.g. ``"inception-fid"``"""
    filename: str
    """file name as published (torch hub keeps it in its cache folder)"""
    url: str
    """direct download address; empty when the file has none (then only local copies count)"""
    env: str
    """environment variable that may hold the file's path"""
    used_for: str


WEIGHTS: dict[str, WeightFile] = {
    w.name: w
    for w in (
        WeightFile(
            "inception-fid",
            "pt_inception-2015-12-05-6726825d.pth",
            "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
            "SINKIT_INCEPTION_WEIGHTS",
            "SIFID (the TF FID Inception-v3 ported to PyTorch by pytorch-fid)",
        ),
        WeightFile(
            "inception-torchvision",
            "inception_v3_google-0cc3c7bd.pth",
            "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
            "SINKIT_INCEPTION_TV_WEIGHTS",
            "SIFID exactly as the official SinGAN script (torchvision ImageNet Inception-v3)",
        ),
        WeightFile(
            "alexnet",
            "alexnet-owt-7be5be79.pth",
            "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            "SINKIT_ALEXNET_WEIGHTS",
            "LPIPS backbone (torchvision ImageNet AlexNet)",
        ),
        WeightFile(
            "lpips-alex",
            "alex.pth",
            "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth",
            "SINKIT_LPIPS_WEIGHTS",
            "LPIPS v0.1 linear layers for AlexNet",
        ),
        WeightFile(
            "vgg19",
            "vgg19-dcbb9e9d.pth",
            "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
            "SINKIT_VGG19_WEIGHTS",
            "VGG-19 ImageNet features (torchvision; PetsGAN patch-transfer conv1, perceptual losses)",
        ),
    )
}


def register_weights(entry: WeightFile) -> WeightFile:
    """Make a weight file known by ``entry.name`` (a method package registers the files it can use,
    e.g. VGG19 for a perceptual loss); registering the same entry twice is harmless.

    Raises:
        ValueError: another entry already uses ``entry.name``.
    """
    known = WEIGHTS.get(entry.name)
    if known is not None and known != entry:
        raise ValueError(f"weight file name {entry.name!r} is already registered for {known.filename}")
    WEIGHTS[entry.name] = entry
    return entry


def _hub_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def _home_relative(path: Path) -> str:
    """``path`` with the user's home folder written as ``~`` (messages end up in committed reports)."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def _candidates(entry: WeightFile) -> list[Path]:
    found = []
    if os.environ.get(entry.env):
        found.append(Path(os.environ[entry.env]).expanduser())
    if os.environ.get("SINKIT_WEIGHTS_DIR"):
        found.append(Path(os.environ["SINKIT_WEIGHTS_DIR"]).expanduser() / entry.filename)
    found.append(_hub_dir() / entry.filename)
    return found


def _entry(name: str) -> WeightFile:
    try:
        return WEIGHTS[name]
    except KeyError:
        raise ValueError(f"unknown weight file {name!r}; known: {', '.join(WEIGHTS)}") from None


def find_weights(name: str, path: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """Path of weight file ``name`` (a key of :data:`WEIGHTS`), downloading it if allowed.

    Args:
        name: a key of :data:`WEIGHTS` (``"inception-fid"``, ``"inception-torchvision"``, ``"alexnet"``,
            ``"lpips-alex"``, and what method packages add with :func:`register_weights`).
        path: explicit file; when given it must exist (no fallback).
        download: try ``torch.hub`` when no local copy exists (also off when ``SINKIT_OFFLINE=1``).

    Raises:
        WeightsUnavailable: no local copy and the download failed or was not allowed;
            the message names the file, the URL and the folders searched.
    """
    entry = _entry(name)
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise WeightsUnavailable(f"{entry.used_for}: weight file {p} does not exist")
        return p
    for p in _candidates(entry):
        if p.is_file():
            return p
    error = "downloads disabled" if entry.url else "no direct download address"
    if entry.url and download and os.environ.get("SINKIT_OFFLINE", "") in ("", "0"):
        try:
            _hub_dir().mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(entry.url, str(_hub_dir() / entry.filename), progress=False)
            return _hub_dir() / entry.filename
        except Exception as err:  # no network, proxy, HTTP error: all end in the same advice
            error = f"download failed: {type(err).__name__}: {err}"
    raise WeightsUnavailable(
        f"{entry.used_for} needs the weight file {entry.filename} ({error}).\n"
        f"  Download {entry.url or 'it (see the docs of the method that needs it)'}\n"
        f"  and put it at {_home_relative(_hub_dir() / entry.filename)}\n"
        f"  (or anywhere, and set {entry.env}=/path/to/{entry.filename}, "
        f"or put it in the folder named by SINKIT_WEIGHTS_DIR)."
    )


def load_weights(name: str, path: str | os.PathLike | None = None, *, download: bool = True) -> dict[str, torch.Tensor]:
    """The state dict in weight file ``name``, read without unpickling code (``weights_only=True``).

    Raises:
        WeightsUnavailable: see :func:`find_weights`.
        ValueError: the file is not a plain state dict of tensors.
    """
    file = find_weights(name, path, download=download)
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"{file} is not a readable PyTorch state dict: {err}") from err
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"{file} does not hold a flat state dict of tensors")
    return state


def weights_available(name: str) -> bool:
    """True when weight file ``name`` is already on disk (never downloads)."""
    return any(p.is_file() for p in _candidates(_entry(name)))
