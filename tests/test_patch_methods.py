"""The patch toolkit (sinkit.core.patches) and the training-free methods GPNN, GPDM, patch diffusion.

Tiny images (32 px) and few steps: the whole file runs in seconds.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

import sinkit
from sinkit.core.patches import (
    PatchIndex,
    exact_column_min,
    exact_completeness_nn,
    exact_kernel_regression,
    exact_knn,
    extract_patches,
    faiss_available,
    fold_nearest,
    fold_patches,
    gather_patches,
    gaussian_patch_weights,
    patch_pyramid,
    shortlist_completeness_nn,
    sliced_wasserstein,
)
from sinkit.core.patches import nn as nn_module
from sinkit.gpdm import GPDM, GPDMConfig
from sinkit.gpnn import GPNN, GPNNConfig
from sinkit.patch_diffusion import PatchDiffusion, PatchDiffusionConfig


def gen(seed):
    return torch.Generator().manual_seed(seed)


def brute_d2(q, k):
    return ((q[:, None, :].double() - k[None, :, :].double()) ** 2).sum(-1)


# ----------------------------------------------------------------------------- patches as rows
def test_fold_unfold_round_trip_plain_and_weighted():
    x = torch.rand(2, 3, 13, 17, generator=gen(0)) * 2 - 1
    p = extract_patches(x, 5)
    assert p.shape == (2, 9 * 13, 75)
    assert torch.allclose(fold_patches(p, (13, 17), 5), x, atol=1e-6)
    assert torch.allclose(fold_patches(p, (13, 17), 5, weights=gaussian_patch_weights(5, 0.2)), x, atol=1e-5)
    with pytest.raises(ValueError, match="do not tile a 13x18 image"):
        fold_patches(p, (13, 18), 5)


def test_gather_and_fold_nearest_equal_the_patch_matrix_route():
    src = torch.rand(1, 3, 11, 14, generator=gen(1))
    n = (11 - 4) * (14 - 4)
    assert torch.equal(gather_patches(src, torch.arange(n), 5), extract_patches(src, 5)[0])
    idx = torch.randint(0, n, (3, 6 * 8), generator=gen(2))
    direct = fold_patches(gather_patches(src, idx, 5).reshape(3, 48, -1), (10, 12), 5)
    assert torch.allclose(fold_nearest(src, idx, (10, 12), 5), direct, atol=1e-6)


def test_patch_sizes_are_checked():
    with pytest.raises(ValueError, match="image 6x40 is smaller than a 7x7 patch"):
        extract_patches(torch.zeros(1, 3, 6, 40), 7)
    with pytest.raises(ValueError, match="exactly one of coarsest and num_scales"):
        patch_pyramid(100, 100, factor=0.75)
    with pytest.raises(ValueError, match="between 1 and the image's short side"):
        patch_pyramid(20, 100, factor=0.75, coarsest=21)
    spec = patch_pyramid(188, 250, factor=0.75, coarsest=14)
    assert min(spec.sizes[0]) == 14 and spec.sizes[-1] == (188, 250)
    assert patch_pyramid(188, 250, factor=0.5, num_scales=4).sizes[0] == (24, 32)


# ----------------------------------------------------------------------------- nearest neighbours
def test_exact_knn_matches_brute_force_with_tiny_blocks():
    q, k = torch.randn(70, 12, generator=gen(3)), torch.randn(90, 12, generator=gen(4))
    bd = brute_d2(q, k)
    d, i = exact_knn(q, k, 3, block_elements=200)  # blocks of 2 queries: chunking exercised
    ref = bd.topk(3, largest=False)
    assert torch.equal(i, ref.indices) and torch.allclose(d.double(), ref.values, atol=1e-4)
    with pytest.raises(ValueError, match="k must be in 1..90"):
        exact_knn(q, k, 91)


def test_completeness_nn_matches_brute_force_and_large_alpha_is_plain_nn():
    q, k = torch.randn(60, 8, generator=gen(5)), torch.randn(50, 8, generator=gen(6))
    bd = brute_d2(q, k)
    assert torch.allclose(exact_column_min(q, k, block_elements=100).double(), bd.min(0).values, atol=1e-4)
    expected = (bd / (0.5 + bd.min(0).values)).argmin(1)
    assert torch.equal(exact_completeness_nn(q, k, 0.5, block_elements=150), expected)
    plain = bd.argmin(1)
    assert torch.equal(exact_completeness_nn(q, k, 1e9), plain)
    assert torch.equal(exact_completeness_nn(q, k, math.inf), plain)
    # a shortlist holding every key reproduces the exact normalised score
    d, i = exact_knn(q, k, 50)
    assert torch.equal(shortlist_completeness_nn(d, i, 0.5, 50), expected)


def test_patch_index_exact_search_and_excluded_keys():
    img = torch.rand(1, 3, 12, 12, generator=gen(7)) * 2 - 1
    index = PatchIndex(img, 5, method="exact")
    d, i = index.search(img, 1)
    assert torch.equal(i[0, :, 0], torch.arange(64)) and float(d.max()) < 1e-4
    valid = torch.ones(64, dtype=torch.bool)
    valid[:32] = False
    d, i = PatchIndex(img, 5, method="exact", valid=valid).search(img, 2)
    assert bool((i >= 32).all())
    with pytest.raises(ValueError, match="no usable key patch"):
        PatchIndex(img, 5, valid=torch.zeros(64, dtype=torch.bool))
    with pytest.raises(ValueError, match="unknown search method 'kd'"):
        PatchIndex(img, 5, method="kd")


@pytest.mark.skipif(not faiss_available(), reason="faiss (optional extra) not installed")
def test_faiss_ivf_index_finds_exact_copies():
    img = torch.rand(1, 3, 60, 70, generator=gen(8)) * 2 - 1
    index = PatchIndex(img, 7, method="ivf", dims=16)
    d, i = index.search(img[..., 10:40, 5:50], 1)
    rows, cols = 60 - 6, 70 - 6
    expected = (torch.arange(10, 34)[:, None] * cols + torch.arange(5, 44)[None, :]).reshape(-1)
    assert (i[0, :, 0] == expected).float().mean() > 0.99


def test_exact_search_memory_is_bounded_by_the_block(monkeypatch):
    """A large image's distances are computed in blocks, never as one M x N matrix."""
    seen = []
    original = nn_module._sq_dist_block

    def spy(q, keys, keys_sq):
        seen.append(q.shape[0] * keys.shape[0])
        return original(q, keys, keys_sq)

    monkeypatch.setattr(nn_module, "_sq_dist_block", spy)
    q, k = torch.randn(3000, 27, generator=gen(9)), torch.randn(4000, 27, generator=gen(10))
    exact_completeness_nn(q, k, 0.1, block_elements=1 << 16)
    assert max(seen) <= 1 << 16 and len(seen) > 100  # 12M pairs in blocks of <= 65k
    # the closed-form denoiser streams key blocks too (online softmax): same result as one softmax
    small_q, small_k = q[:50], k[:300]
    full = torch.softmax(-brute_d2(small_q, 0.8 * small_k) / (2 * 0.3**2), 1).float() @ small_k
    assert torch.allclose(exact_kernel_regression(small_q, small_k, 0.8, 0.3, block_elements=1 << 10), full, atol=1e-4)


def test_fold_nearest_on_a_1024px_image_holds_no_patch_matrix():
    from sinkit.bench.memory import PeakMemory

    src = torch.rand(1, 3, 1024, 1024, generator=gen(11))
    idx = torch.arange(1018 * 1018).reshape(1, -1)
    with PeakMemory() as mem:
        out = fold_nearest(src, idx, (1024, 1024), 7)
    assert torch.allclose(out, src, atol=1e-5)
    if mem.peak_rss_mb is not None and mem.rss_before_mb is not None:
        # the (L, 147) float patch matrix alone would be ~580 MiB
        assert mem.peak_rss_mb - mem.rss_before_mb < 300


# ----------------------------------------------------------------------------- SWD
def test_swd_identical_is_zero_and_metric_values_are_unchanged(tiny_image):
    a = torch.randn(200, 10, generator=gen(12))
    assert sliced_wasserstein(a, a.clone(), 32, gen(0)) == pytest.approx(0.0, abs=1e-12)
    assert sliced_wasserstein(a, a[torch.randperm(200, generator=gen(1))], 32, gen(0)) == pytest.approx(0.0, abs=1e-12)
    # values computed by sinkit 0.1.0's metrics before the toolkit moved into core/patches
    from sinkit.metrics import nn_patch_distance, patch_swd

    noisy = (tiny_image + 0.2 * torch.randn(tiny_image.shape, generator=gen(1))).clamp(-1, 1)
    assert patch_swd(noisy, tiny_image) == pytest.approx(0.05246552958271044, rel=1e-9)
    assert nn_patch_distance(noisy, tiny_image) == pytest.approx(0.1927546839550262, rel=1e-6)
    g = gen(1)
    torch.randn(tiny_image.shape, generator=g)
    b1, b2 = torch.randn(50, 7, generator=g), torch.randn(70, 7, generator=g)
    assert sliced_wasserstein(b1, b2, 16, gen(2)) == pytest.approx(0.20677956470726333, rel=1e-9)


# ----------------------------------------------------------------------------- GPNN
@pytest.fixture(scope="module")
def image32():
    torch.set_num_threads(1)
    return sinkit.resize(sinkit.load_image(sinkit.__path__[0] + "/data/rocket.jpg"), (32, 48))


def gpnn(image, **kw):
    settings = {"coarsest_size": 14, "iters": 2, "search": "exact", **kw}
    return GPNN.fit(image, dataclasses.replace(GPNNConfig(), **settings), device="cpu")


def test_gpnn_zero_noise_reproduces_the_image(image32):
    model = gpnn(image32, iters=3)
    assert model.num_scales >= 3
    out = model.sample(1, noise_std=0.0)
    assert torch.allclose(out, image32.clamp(-1, 1), atol=1e-5)


def test_gpnn_large_alpha_is_plain_nearest_neighbour(image32):
    model = gpnn(image32)
    x = model.pyramid[1] + 0.3 * torch.randn(model.pyramid[1].shape, generator=gen(3))
    index = model._index(model.spec, model.pyramid, 1, False, None, cache=False)
    q = extract_patches(x, 7)[0]
    plain = exact_knn(q, index.keys, 1)[1][:, 0]
    assert torch.equal(index.completeness_nn(x, 1e12)[0], plain)
    assert not torch.equal(index.completeness_nn(x, 1e-6)[0], plain)  # small alpha: completeness changes choices


def test_gpnn_samples_are_seeded_varied_and_any_size(image32):
    model = gpnn(image32)
    a, b = model.sample(2, generator=5), model.sample(2, generator=5)
    assert torch.equal(a, b) and a.shape == (2, 3, 32, 48)
    assert not torch.equal(a[0], a[1])
    assert model.sample(1, size=(32, 72), generator=0).shape == (1, 3, 32, 72)
    with pytest.raises(ValueError, match="smaller than a 7x7 patch"):
        model.sample(1, size=(10, 48))
    with pytest.raises(ValueError, match="smaller than the coarsest level"):
        GPNN.fit(image32[..., :12, :], "paper")


def test_gpnn_inject_and_inpaint_keep_what_they_should(image32):
    model = gpnn(image32)
    paint = torch.zeros_like(image32)
    paint[..., 16:, :] = 0.5
    out = model.inject(paint, 0, num=2)
    assert out.shape == (2, 3, 32, 48) and torch.equal(out[0], out[1])  # injection adds no noise
    # injected at the finest level, a small output needs only that level to hold a patch
    assert model.inject(paint, model.num_scales - 1, size=(10, 48)).shape == (1, 3, 10, 48)
    with pytest.raises(ValueError, match="coarsest level of a 10x48 output 4x21 is smaller than a 7x7 patch"):
        model.inject(paint, 0, size=(10, 48))
    mask = torch.zeros(1, 1, 32, 48)
    mask[..., 10:20, 20:30] = 1
    filled = model.inpaint(None, mask)
    keep = mask[0, 0] < 0.5
    assert torch.allclose(filled[0][:, keep], image32[0].clamp(-1, 1)[:, keep], atol=1e-5)
    with pytest.raises(ValueError, match="mask is empty"):
        model.inpaint(None, torch.zeros(1, 1, 32, 48))
    with pytest.raises(ValueError, match=r"expected a \(1, 1, H, W\)"):
        model.inpaint(None, torch.zeros(32, 48))
    with pytest.raises(ValueError, match="too little is left"):
        model.inpaint(None, torch.ones(1, 1, 32, 48))


def test_gpnn_saves_and_loads_as_the_image_plus_config(image32, tmp_path):
    model = gpnn(image32)
    model.save(tmp_path / "m")
    loaded = sinkit.load(tmp_path / "m", device="cpu")
    assert type(loaded) is GPNN and loaded.config == model.config and torch.equal(loaded.real, model.real)
    assert torch.equal(loaded.sample(1, generator=1), model.sample(1, generator=1))


# ----------------------------------------------------------------------------- GPDM
def test_gpdm_samples_are_seeded_and_move_towards_the_patch_distribution(image32):
    from sinkit.metrics import patch_swd

    config = GPDMConfig(coarsest_size=21, steps=15, projections=16)
    model = GPDM.fit(image32, config, device="cpu")
    a, b = model.sample(2, generator=3), model.sample(2, generator=3)
    assert torch.equal(a, b) and a.shape == (2, 3, 32, 48)
    noise = (torch.randn(2, 3, 32, 48, generator=gen(3)) * 0.5).clamp(-1, 1)
    assert patch_swd(a, model.real) < patch_swd(noise, model.real)
    styled = model.inject(-image32.flip(-1), -1)  # style transfer: optimise from the content at the finest level
    assert styled.shape == (1, 3, 32, 48)
    with pytest.raises(ValueError, match="injection scale must be in"):
        model.inject(image32, 99)


# ----------------------------------------------------------------------------- patch diffusion
def test_closed_form_denoiser_at_tiny_noise_returns_the_nearest_clean_patch():
    keys = torch.randn(40, 12, generator=gen(13))
    q = keys[torch.tensor([3, 17])] + 1e-3 * torch.randn(2, 12, generator=gen(14))
    out = exact_kernel_regression(q, keys, 1.0, 1e-3)
    assert torch.allclose(out, keys[torch.tensor([3, 17])], atol=1e-5)
    assert torch.allclose(exact_kernel_regression(q, keys, 0.0, 1.0), keys.mean(0).expand(2, -1), atol=1e-6)


def test_patch_diffusion_denoises_its_own_image_and_samples_deterministically(image32):
    config = PatchDiffusionConfig(num_scales=2, patch_size=7, steps=3, denoiser="exact")
    model = PatchDiffusion.fit(image32, config, device="cpu")
    den = model.denoiser(1)
    assert torch.allclose(den(model.pyramid[1], 1.0, 1e-4), model.pyramid[1], atol=1e-4)
    a, b = model.sample(2, generator=4), model.sample(2, generator=4)
    assert torch.equal(a, b) and a.shape == (2, 3, 32, 48) and not torch.equal(a[0], a[1])
    assert model.retarget((32, 64), generator=0).shape == (1, 3, 32, 64)
    with pytest.raises(ValueError, match="coarsest level"):
        PatchDiffusion.fit(image32, dataclasses.replace(config, num_scales=4, patch_size=15))


@pytest.mark.skipif(not faiss_available(), reason="faiss (optional extra) not installed")
def test_patch_diffusion_ann_denoiser_is_close_to_exact_at_low_noise(image32):
    big = sinkit.resize(image32, (64, 96))
    exact = PatchDiffusion.fit(big, PatchDiffusionConfig(num_scales=1, patch_size=7, denoiser="exact"), device="cpu")
    ann = PatchDiffusion.fit(big, PatchDiffusionConfig(num_scales=1, patch_size=7, denoiser="ann", nprobe=8), device="cpu")
    x = exact.pyramid[0] + 0.02 * torch.randn(exact.pyramid[0].shape, generator=gen(5))
    e, a = exact.denoiser(0)(x, 0.98, 0.02), ann.denoiser(0)(x, 0.98, 0.02)
    assert (e - a).abs().mean() < 0.01


# ----------------------------------------------------------------------------- CLI
def test_cli_samples_an_image_and_refuses_what_does_not_apply(image32, tmp_path):
    from click.testing import CliRunner

    from sinkit.cli.main import cli

    img = tmp_path / "img.png"
    sinkit.save_image(sinkit.resize(image32, (40, 60)), img)
    runner = CliRunner()
    r = runner.invoke(cli, ["sample", str(img), "--method", "gpnn", "--num", "2", "--out", str(tmp_path / "s"), "--scale-h", "1.5"])
    assert r.exit_code == 0, r.output
    assert sinkit.load_image(tmp_path / "s" / "sample_001.png").shape == (1, 3, 40, 90)
    r = runner.invoke(cli, ["train", str(img), "--method", "gpnn", "--out", str(tmp_path / "run"), "--samples", "0", "--quiet"])
    assert r.exit_code == 0, r.output
    assert type(sinkit.load(tmp_path / "run")) is GPNN
    for source in ([str(img), "--method", "gpnn"], [str(tmp_path / "run")]):  # --set on an image or a saved model
        r = runner.invoke(cli, ["sample", *source, "--num", "1", "--out", str(tmp_path / "p7"), "--set", "patch_size=7"])
        assert r.exit_code == 0, r.output
        r = runner.invoke(cli, ["sample", *source, "--num", "1", "--out", str(tmp_path / "p5"), "--set", "patch_size=5"])
        assert r.exit_code == 0, r.output
        assert not torch.equal(sinkit.load_image(tmp_path / "p7" / "sample_000.png"), sinkit.load_image(tmp_path / "p5" / "sample_000.png"))
    r = runner.invoke(cli, ["sample", str(img), "--method", "gpnn", "--num", "1", "--out", str(tmp_path / "m30"), "--set", "max_size=30"])
    assert r.exit_code == 0, r.output  # an image is stored with the config given: max_size too
    assert sinkit.load_image(tmp_path / "m30" / "sample_000.png").shape == (1, 3, 20, 30)
    r = runner.invoke(cli, ["sample", str(tmp_path / "run"), "--num", "1", "--set", "max_size=30"])
    assert r.exit_code == 2 and "max_size cannot change after the image was stored" in r.output
    r = runner.invoke(cli, ["sample", str(img), "--method", "gpnn", "--num", "1", "--set", "patch_size=0"])
    assert r.exit_code == 2 and "Invalid value for --set: patch_size, iters and coarsest_iters must be >= 1" in r.output
    model = sinkit.load(tmp_path / "run")
    changed = model.set_sampling_options(iters=1)
    assert changed is not model and changed.config.iters == 1 and model.config.iters == GPNN.presets["paper"].iters
    r = runner.invoke(cli, ["sample", str(img), "--num", "1"])  # an image without --method
    assert r.exit_code != 0 and "give --method with a training-free method" in r.output
    big = tmp_path / "big.png"
    sinkit.save_image(sinkit.resize(image32, (120, 180)), big)
    r = runner.invoke(cli, ["edit", str(big), "--method", "patch_diffusion", "--input", str(big), "--mask", str(big), "--scale", "1"])
    assert r.exit_code != 0 and "patch_diffusion models cannot" in r.output and "does not take injected images" in r.output
    r = runner.invoke(cli, ["transfer", "--method", "gpnn", "--style", str(img), "--input", str(img)])
    assert r.exit_code != 0 and "no default transfer scale" in r.output
    r = runner.invoke(cli, ["transfer", "--style", str(img), "--input", str(img)])
    assert r.exit_code != 0 and "--style takes an image" in r.output
