"""Models written by sinkit 0.1.0 (before the core reshape) load and give the same outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import sinkit
from sinkit.tasks import inject

FIXTURES = Path(__file__).parent / "fixtures"


def _expected(name: str) -> dict[str, torch.Tensor]:
    return load_file(str(FIXTURES / name / "expected.safetensors"))


def test_singan_0_1_0_model_samples_identically():
    model = sinkit.load(FIXTURES / "singan-0.1.0", device="cpu")
    want = _expected("singan-0.1.0")
    assert model.method == "singan" and model.num_scales == 4 and model.complete
    torch.testing.assert_close(model.sample(3, generator=11), want["sample_n"], rtol=0, atol=0)
    torch.testing.assert_close(model.sample(2, start_scale=1, generator=12), want["sample_n1"], rtol=0, atol=0)
    torch.testing.assert_close(model.sample(2, scale_h=1.5, generator=13), want["sample_wide"], rtol=0, atol=0)
    torch.testing.assert_close(model.reconstruct()[-1], want["reconstruction"], rtol=0, atol=0)


def test_sinir_0_1_0_model_reconstructs_and_injects_identically():
    model = sinkit.load(FIXTURES / "sinir-0.1.0", device="cpu")
    want = _expected("sinir-0.1.0")
    assert model.method == "sinir" and model.num_scales == 4
    torch.testing.assert_close(model.reconstruct()[-1], want["reconstruction"], rtol=0, atol=0)
    torch.testing.assert_close(model.sample(2, start_scale=1), want["sample_n1"], rtol=0, atol=0)
    image = sinkit.resize(sinkit.load_image(Path(sinkit.__file__).parent / "data" / "rocket.jpg"), (20, 30))
    torch.testing.assert_close(inject(model, image.flip(-1), 1), want["inject_1"], rtol=0, atol=0)


@pytest.mark.parametrize("name", ["singan-0.1.0", "sinir-0.1.0"])
def test_0_1_0_model_resaved_by_this_version_loads_the_same(name, tmp_path):
    model = sinkit.load(FIXTURES / name, device="cpu")
    model.save(tmp_path / "again")
    again = sinkit.load(tmp_path / "again", device="cpu")
    for (k, a), (k2, b) in zip(sorted(model.state_dict().items()), sorted(again.state_dict().items())):
        assert k == k2 and torch.equal(a, b)
