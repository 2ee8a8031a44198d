"""Shared fixtures: tiny real images (the bundled example) and tiny training configs, so tests stay fast on a CPU."""

from __future__ import annotations

from dataclasses import replace
from importlib import resources

import pytest
import torch

import sinkit
from sinkit.singan import PRESETS

EXAMPLE = resources.files("sinkit") / "data" / "rocket.jpg"

# 32 px tensors gain nothing from intra-op threads, and on a shared 2-core machine
# spinning OpenMP threads made the suite ~50x slower (20 min instead of 25 s).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def example_path():
    return str(EXAMPLE)


@pytest.fixture(scope="session")
def tiny_image():
    """The bundled photo reduced to 32x48 px, ``(1, 3, 32, 48)`` in [-1, 1]."""
    return sinkit.resize(sinkit.load_image(EXAMPLE), (32, 48))


@pytest.fixture(scope="session")
def tiny_config():
    """Three scales (25x38, 29x43, 32x48), narrow networks, few iterations."""
    return replace(PRESETS["fast"], max_size=48, iters=40, d_steps=1, g_steps=1, seed=3)


@pytest.fixture(scope="session")
def tiny_model(tiny_image, tiny_config, tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny_run")
    model = sinkit.SinGAN.train(tiny_image, tiny_config, out_dir=out, device="cpu", progress=False)
    return model, out


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
collect_ignore = ["fixtures"]  # scripts that made the fixture files, not tests
