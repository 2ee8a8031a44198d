"""SinIR (issue 4): pyramid numbers, network, corruptions, training, checkpoints, interface."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from click.testing import CliRunner

import sinkit
from sinkit.core.pyramid import build_pyramid_chained, scaled_sizes, sinir_pyramid
from sinkit.core.pyramid_model import NoiseInputs
from sinkit.core.resize import resize
from sinkit.sinir import PRESETS, SinIR, SinIRConfig, SinIRNet
from sinkit.sinir.corruptions import (
    additive_gaussian,
    black_noise,
    make_corruption,
    patch_shuffle,
    pixel_shuffle,
    replacing_gaussian,
)
from sinkit.sinir.losses import reconstruction_loss, ssim
from sinkit.sinir.trainer import cascade_inputs, iteration_generator

TINY = SinIRConfig(max_size=48, min_size=16, channels=8, iters=6, corruption_p=0.05)



@pytest.fixture(scope="module")
def image():
    return resize(sinkit.load_image(sinkit.__path__[0] + "/data/rocket.jpg"), (32, 48))


@pytest.fixture(scope="module")
def model(image):
    return SinIR.train(image, TINY, progress=False, device="cpu")


def random_image(h=40, w=50, seed=0):
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# ---------------------------------------------------------------- pyramid
def test_pyramid_of_the_editing_example():
    spec = sinir_pyramid(860, 1280)  # nature.jpg / nature_edit.png, HxW
    assert spec.num_scales == 9
    assert spec.scale_factor == pytest.approx(0.7876, abs=1e-4)
    assert spec.sizes[-1] == (168, 250)
    assert spec.sizes[0] == (25, 37)
    assert all(a[0] <= b[0] and a[1] < b[1] for a, b in zip(spec.sizes, spec.sizes[1:]))


def test_pyramid_scale_counts_of_table_1_and_upscaling():
    # Paper Table 1: 125 / 250 / 500 px give 8 / 11 / 13 scales.
    assert [sinir_pyramid(s, s, max_size=s).num_scales for s in (125, 250, 500)] == [8, 11, 13]
    # Unlike SinGAN, a small image is UPscaled to max_size (aurora is portrait).
    assert sinir_pyramid(100, 80).image_size == (250, 200)
    assert sinir_pyramid(1849, 1234).image_size == (250, 167)


def test_pyramid_fixed_scales_photo_and_sr():
    photo = sinir_pyramid(393, 700, scale_factor=1.0, num_scales=2)
    assert photo.sizes == ((140, 250), (140, 250))
    sr = sinir_pyramid(80, 120, max_size=None, scale_factor=0.5, num_scales=2)
    assert sr.sizes == ((40, 60), (80, 120))
    assert 1 / sr.scale_factor == pytest.approx(2.0)


def test_pyramid_errors():
    with pytest.raises(ValueError, match="min_size"):
        sinir_pyramid(30, 1000, min_size=25, max_size=250)  # short side 8 px at 250
    with pytest.raises(ValueError, match="num_scales"):
        sinir_pyramid(100, 100, scale_factor=1.0)


def test_chained_pyramid_resizes_level_by_level():
    img = random_image(60, 90)
    spec = sinir_pyramid(60, 90, max_size=45, min_size=12)
    levels = build_pyramid_chained(img, spec)
    assert [tuple(t.shape[-2:]) for t in levels] == list(spec.sizes)
    assert torch.equal(levels[-1], resize(img, spec.image_size, antialias=False))
    assert torch.equal(levels[0], resize(levels[1], spec.sizes[0], antialias=False))


# ---------------------------------------------------------------- network
def test_network_layout_and_shapes():
    net = SinIRNet()  # official: 128 channels, 6 blocks
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convs] == (
        [(3, 64, 1), (64, 128, 1)] + [(128, 128, 3)] * 6 + [(128, 64, 1), (64, 3, 1)]
    )
    assert sum(isinstance(m, torch.nn.ReflectionPad2d) for m in net.modules()) == 6
    norms = [m for m in net.modules() if isinstance(m, torch.nn.InstanceNorm2d)]
    assert len(norms) == 6 and not norms[0].affine and not norms[0].track_running_stats
    small = SinIRNet(16)
    y = small(random_image(25, 37))
    assert y.shape == (1, 3, 25, 37) and y.abs().max() < 1
    assert SinIRNet(256).channels == 256
    with pytest.raises(ValueError, match="expected a"):
        small(torch.zeros(3, 25, 37))


def test_blocks_add_the_stem_output():
    net = SinIRNet(8, num_blocks=2).eval()
    x = random_image(20, 20)
    x0 = net.from_rgb(x)
    h = net.blocks[1](net.blocks[0](x0) + x0) + x0
    assert torch.allclose(net(x), net.to_rgb(h), atol=1e-6)


# ---------------------------------------------------------------- corruptions
def test_pixel_shuffle_statistics():
    x = random_image(100, 100)
    x[0, 0] = torch.linspace(-1, 1, 100 * 100).view(100, 100)  # unique red values name the source pixel
    g = torch.Generator().manual_seed(1)
    y = pixel_shuffle(x, 0.05, generator=g)
    moved = (y != x).any(1)
    assert moved.float().mean().item() == pytest.approx(0.05, abs=0.01)
    # the same permutation for all channels: every output pixel is the RGB triple of the input
    # pixel whose red value it carries
    src = {v: i for i, v in enumerate(x[0, 0].flatten().tolist())}
    flat_x, flat_y = x[0].reshape(3, -1), y[0].reshape(3, -1)
    idx = torch.tensor([src[v] for v in flat_y[0].tolist()])
    assert torch.equal(flat_y, flat_x[:, idx])
    assert (moved == (y[:, :1] != x[:, :1])[:, 0]).all()  # a moved pixel moved in every channel
    assert torch.equal(pixel_shuffle(x, 0.0), x)
    assert torch.equal(pixel_shuffle(x, 0.05, generator=torch.Generator().manual_seed(1)), y)


def test_pixel_shuffle_draws_each_batch_image_independently():
    x = random_image(50, 50).expand(2, -1, -1, -1)
    y = pixel_shuffle(x, 0.1, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(y[0], y[1])


@pytest.mark.parametrize("fn", [black_noise, additive_gaussian, replacing_gaussian])
def test_pointwise_corruptions(fn):
    x = random_image(100, 100) * 0.5
    y = fn(x, 0.1, generator=torch.Generator().manual_seed(2))
    changed = (y != x).any(1)
    assert changed.float().mean().item() == pytest.approx(0.1, abs=0.02)
    assert y.min() >= -1 and y.max() <= 1
    if fn is black_noise:
        assert (y[:, :, changed[0]] == -1).all()


def test_patch_shuffle_moves_whole_tiles():
    x = random_image(60, 90)
    y = patch_shuffle(x, 0.3, patch_ratio=9, generator=torch.Generator().manual_seed(3))  # 10 px tiles
    changed = (y != x).any(1)[0].float()
    assert changed.any()
    tiles = changed.reshape(6, 10, 9, 10).permute(0, 2, 1, 3).reshape(54, 100).mean(1)
    assert set(tiles.tolist()) <= {0.0, 1.0}


def test_make_corruption_follows_config():
    x = random_image()
    for name in ("pixel_shuffle", "black", "additive_gaussian", "replacing_gaussian", "patch_shuffle"):
        fn = make_corruption(replace(TINY, corruption=name, corruption_p=0.2, patch_ratio=10))
        assert not torch.equal(fn(x, torch.Generator().manual_seed(0)), x)
    assert torch.equal(make_corruption(replace(TINY, corruption="none"))(x), x)
    with pytest.raises(ValueError, match="unknown corruption"):
        replace(TINY, corruption="salt")


# ---------------------------------------------------------------- loss
def test_ssim_matches_pytorch_msssim():
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    a, b = random_image(40, 50, 0), random_image(40, 50, 1) * 0.3 + random_image(40, 50, 0) * 0.7
    ref = pytorch_msssim.ssim((a + 1) / 2, (b + 1) / 2, data_range=1.0, win_size=11, nonnegative_ssim=True)
    assert ssim(a, b).item() == pytest.approx(ref.item(), abs=1e-5)
    assert reconstruction_loss(a, a).item() == pytest.approx(0.0, abs=1e-5)


# ---------------------------------------------------------------- training
def test_loss_decreases_and_reconstruction_improves(image):
    cfg = replace(TINY, iters=30, lr=1e-3)
    m = SinIR.train(image, cfg, progress=False, device="cpu", stop_after=1)
    first, last = m.info["losses"][0]["first"], m.info["losses"][0]["last"]
    assert last < 0.7 * first
    fresh = SinIRNet(8)
    real0 = m.pyramid[0]
    with torch.no_grad():
        assert reconstruction_loss(m.reconstruct()[0], real0) < reconstruction_loss(fresh(real0), real0)


def test_training_shapes_and_frozen_networks(model, image):
    assert model.num_scales == model.spec.num_scales == len(model.sizes)
    assert model.sizes[-1] == (32, 48)  # long side = max_size 48
    assert all(not p.requires_grad for net in model.networks for p in net.parameters())
    recs = model.reconstruct()
    assert [tuple(r.shape[-2:]) for r in recs] == list(model.sizes)


def test_cached_training_equals_the_official_loop(image):
    cfg = replace(TINY, iters=4)
    official = SinIR.train(image, cfg, progress=False, device="cpu", cache=False, stop_after=3)
    cached = SinIR.train(image, cfg, progress=False, device="cpu", cache=True, cascade_batch=1, stop_after=3)
    for a, b in zip(official.networks, cached.networks):
        for p, q in zip(a.parameters(), b.parameters()):
            assert torch.equal(p, q)
    # batching the frozen cascade over iterations: the same inputs up to float reassociation
    index = 2
    corrupt = make_corruption(cfg)
    gens = lambda: [iteration_generator(cfg.seed, index, it) for it in range(5)]  # noqa: E731
    batched = cascade_inputs(cached, index, corrupt, gens(), coarsest_output=cached.forward_scale(0, cached.pyramid[0]))
    single = torch.cat([cascade_inputs(official, index, corrupt, [g]) for g in gens()])
    assert (batched - single).abs().max() < 1e-4
    assert (single[0] - single[1]).abs().max() > 0.05  # and each iteration has its own corruption


def test_resume_equals_uninterrupted_run(image, model, tmp_path):
    SinIR.train(image, TINY, progress=False, device="cpu", out_dir=tmp_path, stop_after=2)
    resumed = SinIR.train(image, TINY, progress=False, device="cpu", out_dir=tmp_path, resume=True)
    assert resumed.num_scales == model.num_scales
    for a, b in zip(resumed.networks, model.networks):
        assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    with pytest.raises(ValueError, match="config differs"):
        SinIR.train(image, replace(TINY, channels=4), progress=False, device="cpu", out_dir=tmp_path, resume=True)


# ---------------------------------------------------------------- interface
def test_injection_interface(model):
    assert 0 in model.valid_injection_scales()
    assert list(model.valid_injection_scales()) == list(range(model.num_scales))
    assert not isinstance(model, NoiseInputs)  # no z-space: animation refuses it
    x = model.injection_input(random_image(70, 90), 0)
    assert tuple(x.shape[-2:]) == model.sizes[0]
    # no noise, no corruption at inference: noise modes and generators change nothing
    a = model.forward_scale(1, resize(x, model.sizes[1]), noise="random", generator=torch.Generator().manual_seed(0))
    b = model.forward_scale(1, resize(x, model.sizes[1]), noise="zero")
    assert torch.equal(a, b)
    # injecting the real image at scale 0 is the reconstruction path
    assert torch.allclose(model.run_scales(model.injection_input(model.real, 0), 0), model.reconstruct()[-1], atol=1e-6)
    wide = scaled_sizes(model.sizes, 1.5, 1.0)
    assert tuple(model.injection_input(random_image(), 1, sizes=wide).shape[-2:]) == wide[1]
    with pytest.raises(ValueError, match="valid range"):
        model.injection_input(x, model.num_scales)


def test_sample_is_deterministic_resynthesis(model):
    s = model.sample(3, start_scale=1, generator=5)
    assert s.shape == (3, 3, *model.sizes[-1])
    assert torch.equal(s[0], s[2])
    wide = model.sample(1, scale_h=1.5)
    assert wide.shape[-1] == round(model.sizes[-1][1] * 1.5)


def test_checkpoint_round_trip(model, tmp_path):
    model.save(tmp_path / "m")
    loaded = sinkit.load(tmp_path / "m", device="cpu")
    assert isinstance(loaded, SinIR) and loaded.config == model.config and loaded.sizes == model.sizes
    x = model.injection_input(random_image(), 1)
    assert torch.equal(loaded.run_scales(x, 1), model.run_scales(x, 1))
    assert "sinir" in loaded.describe() and "N-1" in loaded.describe()
    (tmp_path / "m" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(sinkit.CheckpointError):
        sinkit.load(tmp_path / "m", device="cpu")


def test_presets_and_sr_config():
    assert PRESETS["paper"] == SinIRConfig()
    assert PRESETS["paper"].corruption_p == 0.005 and PRESETS["paper"].iters == 500
    assert PRESETS["photo_style"].num_scales == 2 and PRESETS["photo_style"].scale_factor == 1
    assert PRESETS["art_style"].max_size == 500
    sr = SinIR.sr_config(SinIRConfig(seed=3), 4)
    assert (sr.num_scales, sr.scale_factor, sr.channels, sr.iters, sr.lr, sr.corruption_p, sr.antialias, sr.seed) == (
        2, 0.5, 256, 1000, 1e-3, 0.0005, True, 3,
    )
    assert SinIR.sr_config(SinIRConfig(), 8).scale_factor == pytest.approx(0.5)
    assert 1 / SinIR.sr_config(SinIRConfig(), 3).scale_factor == pytest.approx(math.sqrt(3))
    with pytest.raises(ValueError, match="> 1"):
        SinIR.sr_config(SinIRConfig(), 1)
    assert "sinir" in sinkit.available_methods()


def test_cli_train_and_info(tmp_path):
    from sinkit.cli.main import cli

    img = sinkit.__path__[0] + "/data/rocket.jpg"
    out = tmp_path / "run"
    args = ["train", img, "--method", "sinir", "--preset", "fast", "--out", str(out), "--iters", "2",
            "--max-size", "40", "--min-size", "16", "--set", "channels=8", "--samples", "1", "--quiet", "--device", "cpu"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (out / "model.safetensors").exists() and (out / "scales" / "00" / "training_input.png").exists()
    info = CliRunner().invoke(cli, ["info", str(out)])
    assert info.exit_code == 0 and "pixel_shuffle" in info.output
    bad = CliRunner().invoke(cli, ["train", img, "--method", "sinir", "--preset", "nope", "--out", str(out)])
    assert bad.exit_code != 0 and "photo_style" in bad.output
