"""Models written by sinkit 0.1.0 (before the core reshape) load and give the same outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import sinkit
from sinkit.tasks import inject

FIXTURES = Path(__file__).parent / "fixtures"

# The fixtures were computed on another CPU.  oneDNN chooses its convolution kernels by the
# instruction set, so the summation order (not the model) differs between machines: on an AMD
# EPYC the outputs differ by up to 6e-8 (SinGAN) and 9e-6 (SinIR, whose deeper nets amplify
# rounding).  Anything a format or loading change can break (another noise draw, a weight in
# the wrong scale, a missing normalisation) moves values in [-1, 1] by 1e-2 or more.
SAME = dict(rtol=0, atol=1e-4)


def _expected(name: str) -> dict[str, torch.Tensor]:
    return load_file(str(FIXTURES / name / "expected.safetensors"))


def test_singan_0_1_0_model_samples_identically():
    model = sinkit.load(FIXTURES / "singan-0.1.0", device="cpu")
    want = _expected("singan-0.1.0")
    assert model.method == "singan" and model.num_scales == 4 and model.complete
    torch.testing.assert_close(model.sample(3, generator=11), want["sample_n"], **SAME)
    torch.testing.assert_close(model.sample(2, start_scale=1, generator=12), want["sample_n1"], **SAME)
    torch.testing.assert_close(model.sample(2, scale_h=1.5, generator=13), want["sample_wide"], **SAME)
    torch.testing.assert_close(model.reconstruct()[-1], want["reconstruction"], **SAME)


def test_sinir_0_1_0_model_reconstructs_and_injects_identically():
    model = sinkit.load(FIXTURES / "sinir-0.1.0", device="cpu")
    want = _expected("sinir-0.1.0")
    assert model.method == "sinir" and model.num_scales == 4
    torch.testing.assert_close(model.reconstruct()[-1], want["reconstruction"], **SAME)
    torch.testing.assert_close(model.sample(2, start_scale=1), want["sample_n1"], **SAME)
    image = sinkit.resize(sinkit.load_image(Path(sinkit.__file__).parent / "data" / "rocket.jpg"), (20, 30))
    torch.testing.assert_close(inject(model, image.flip(-1), 1), want["inject_1"], **SAME)


@pytest.mark.parametrize("name", ["singan-0.1.0", "sinir-0.1.0"])
def test_0_1_0_model_resaved_by_this_version_loads_the_same(name, tmp_path):
    model = sinkit.load(FIXTURES / name, device="cpu")
    model.save(tmp_path / "again")
    again = sinkit.load(tmp_path / "again", device="cpu")
    for (k, a), (k2, b) in zip(sorted(model.state_dict().items()), sorted(again.state_dict().items())):
        assert k == k2 and torch.equal(a, b)
