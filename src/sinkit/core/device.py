"""Device selection."""

from __future__ import annotations

import torch

__all__ = ["resolve_device", "native_bf16"]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` -> CUDA if available, else Apple MPS, else CPU; other names are checked.

    Raises:
        ValueError: an unknown name, or a device this torch build / machine does not have.
    """
    if isinstance(device, torch.device):
        return device
    name = (device or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError("--device cuda asked for, but this torch build has no CUDA device (use auto or cpu)")
        return torch.device(name)
    if name == "mps":
        if not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
            raise ValueError("--device mps asked for, but MPS is not available here (use auto or cpu)")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or mps")


def native_bf16(device: str | torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively, so bf16 autocast is a speed-up rather than an emulation.

    CPU: AVX512-BF16 or AMX (Intel Cooper Lake / Sapphire Rapids and later, AMD Zen 4 and later);
    on other CPUs oneDNN emulates bf16 and it is slower than float32.  CUDA: what
    ``torch.cuda.is_bf16_supported()`` says (Ampere and later).  MPS and others: False.
    """
    device = torch.device(device)
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        checks = [getattr(cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
        return any(check() for check in checks if check is not None)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return False
