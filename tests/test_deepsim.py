"""DeepSIM: networks, losses, TPS augmentation, primitives, training/resume, save/load, bad input."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from kornia.geometry.transform import get_tps_transform, warp_image_tps

import sinkit
from sinkit.core.checkpoint import read_metadata
from sinkit.core.errors import CapabilityError
from sinkit.deepsim import PRESETS, DeepSIM, DeepSIMConfig, PrimitiveError, make_primitive, prepare_pair, train, working_size
from sinkit.deepsim.augment import (
    AugmentParams,
    apply_params,
    sample_params,
    tps_control_points,
    tps_grid,
    warp,
)
from sinkit.deepsim.losses import VGG19Features, VGGLoss, feature_matching_loss, load_vgg19, lsgan_loss
from sinkit.deepsim.networks import GlobalGenerator, MultiscaleDiscriminator
from sinkit.deepsim.primitives import (
    canny_edges,
    check_seg_colors,
    compose_primitive,
    palette,
    resize_primitive,
    seg_edges_primitive,
    skeletonize_edges,
    split_primitive,
    unsupervised_segmentation,
)
from sinkit.deepsim.trainer import learning_rate
from sinkit.core.weights import WeightsUnavailable


@pytest.fixture(scope="module")
def tiny_config():
    return dataclasses.replace(
        PRESETS["fast"], max_size=None, ngf=4, ndf=4, n_downsample=2, n_blocks=1, niter=4, niter_decay=4,
        checkpoint_every=3, vgg_loss="off",
    )


@pytest.fixture(scope="module")
def pair32(tiny_image):
    image = tiny_image  # (1, 3, 32, 48)
    return image, make_primitive(image, "seg_edges", segments=6)


# ----------------------------------------------------------------------------- networks and losses
def test_generator_shapes_and_paper_widths():
    g = GlobalGenerator(3, 3, ngf=4, n_downsample=2, n_blocks=1)
    y = g(torch.zeros(2, 3, 16, 24))
    assert y.shape == (2, 3, 16, 24) and y.abs().max() <= 1
    with pytest.raises(ValueError, match="multiples of 4"):
        g(torch.zeros(1, 3, 18, 24))
    with torch.device("meta"):  # 182 M parameters: the layout only, no memory
        paper = GlobalGenerator(3, 3, 64, 4, 9)  # 64 -> 1024 channels at the bottleneck, 9 blocks
    convs = [m for m in paper.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs[0].kernel_size == (7, 7) and convs[0].out_channels == 64
    assert max(c.out_channels for c in convs) == 1024
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in paper.modules()) == 4
    assert isinstance(paper.model[0], torch.nn.ReflectionPad2d)
    assert sum(1 for n, _ in paper.named_modules() if n.count(".") == 1 and "conv_block" not in n and type(_).__name__ == "ResnetBlock") == 9


def test_discriminator_two_scales_with_features():
    d = MultiscaleDiscriminator(6, ndf=4, n_layers=3, num_d=2)
    out = d(torch.zeros(1, 3, 32, 48), torch.zeros(1, 3, 32, 48))
    assert len(out) == 2 and all(len(o) == 5 for o in out)
    assert out[0][-1].shape[1] == 1 and out[1][-1].shape[-1] < out[0][-1].shape[-1]
    assert lsgan_loss(out, True).ndim == 0
    assert float(feature_matching_loss(out, out, 3).detach()) == 0.0


def test_lsgan_values():
    ones = [[torch.ones(1, 1, 2, 2)]]
    assert float(lsgan_loss(ones, True)) == 0.0 and float(lsgan_loss(ones, False)) == 1.0


def test_vgg_loss_with_random_weights_and_torchvision_keys(tmp_path, monkeypatch):
    vgg = VGG19Features()
    keys = set(vgg.state_dict())
    assert "features.0.weight" in keys and "features.28.bias" in keys and "features.30.weight" not in keys
    # a torchvision-style file (features.* + classifier.*) loads from an explicit path
    state = {k: torch.randn_like(v) * 0.05 for k, v in vgg.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    loaded = load_vgg19(path)
    x, y = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    loss = VGGLoss(loaded)
    assert float(loss(x, x)) == 0.0 and float(loss(x, y)) > 0
    monkeypatch.setenv("SINKIT_OFFLINE", "1")
    monkeypatch.setenv("SINKIT_VGG19_WEIGHTS", str(tmp_path / "missing.pth"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    with pytest.raises(WeightsUnavailable, match="SINKIT_VGG19_WEIGHTS"):
        load_vgg19()


def test_training_records_which_losses_ran(pair32, tiny_config, tmp_path, monkeypatch):
    monkeypatch.setenv("SINKIT_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    monkeypatch.delenv("SINKIT_VGG19_WEIGHTS", raising=False)
    monkeypatch.delenv("SINKIT_WEIGHTS_DIR", raising=False)
    cfg = dataclasses.replace(tiny_config, vgg_loss="auto", niter=1, niter_decay=0)
    model = train(*pair32, cfg, progress=False, log=lambda m: None)
    assert model.info["loss_terms"] == ["lsgan", "feature_matching"] and model.info["vgg_loss"].startswith("off")
    with pytest.raises(WeightsUnavailable):
        train(*pair32, dataclasses.replace(cfg, vgg_loss="require"), progress=False, log=lambda m: None)
    torch.save({k: torch.randn_like(v) * 0.05 for k, v in VGG19Features().state_dict().items()}, tmp_path / "v.pth")
    with_vgg = train(*pair32, dataclasses.replace(cfg, vgg_loss="require"), vgg_weights=tmp_path / "v.pth", progress=False)
    assert with_vgg.info["loss_terms"][-1] == "vgg19" and with_vgg.info["losses"]["constant"][-1]["g_vgg"] > 0


# ----------------------------------------------------------------------------- augmentation
def test_tps_zero_displacement_is_identity():
    x = torch.rand(1, 3, 24, 40)
    grid = tps_grid(torch.zeros(9, 2, dtype=torch.float64), 3, 24, 40)
    assert torch.allclose(warp(x, grid), x, atol=1e-5)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # kornia 0.9.2's notice on every get_tps_transform
def test_tps_grid_equals_kornia_warp_image_tps():
    d = (torch.rand(9, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) - 0.5) * 0.2
    x = torch.rand(1, 3, 24, 40)
    out_pts, in_pts = tps_control_points(d, 3)
    kw, aw = get_tps_transform(out_pts, in_pts)  # kernels on the first argument (kornia >= 0.9.2)
    ref = warp_image_tps(x.double(), out_pts, kw, aw, align_corners=False, padding_mode="reflection")
    assert torch.allclose(warp(x, tps_grid(d, 3, 24, 40)), ref.float(), atol=1e-4)


def test_tps_non_square_moves_a_known_point_where_it_should():
    # 40 rows x 80 columns; move the centre control point by +0.1 of the width (8 px) and
    # +0.1 of the height (4 px): the input pixel under the centre must appear 8 px right, 4 px down.
    h, w = 40, 80
    d = torch.zeros(9, 2, dtype=torch.float64)
    d[4] = torch.tensor([0.1, 0.1])
    x = torch.zeros(1, 1, h, w)
    cy, cx = h // 2, w // 2
    x[..., cy - 1 : cy + 1, cx - 1 : cx + 1] = 1.0  # a 2x2 dot centred on the image centre
    y = warp(x, tps_grid(d, 3, h, w))
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    mass = y[0, 0].sum()
    com_y, com_x = float((y[0, 0] * ys).sum() / mass), float((y[0, 0] * xs).sum() / mass)
    assert com_x == pytest.approx(cx - 0.5 + 8, abs=0.6) and com_y == pytest.approx(cy - 0.5 + 4, abs=0.6)
    # corners stay fixed
    _, in_pts = tps_control_points(d, 3)
    assert torch.equal(tps_control_points(d, 3)[0][0, [0, 2, 6, 8]], in_pts[0, [0, 2, 6, 8]])


def test_same_warp_on_primitive_and_image():
    cfg = dataclasses.replace(DeepSIMConfig(), tps_percent=1.0)
    image = torch.rand(1, 3, 32, 48) * 2 - 1
    for _ in range(3):
        params = sample_params(cfg, 32, 48, torch.Generator().manual_seed(_))
        assert params.tps_displacement is not None
        a, c, e = apply_params(params, image, image.clone(), None, colors_mode="bilinear")
        assert torch.equal(a, c)
    # nearest for colour maps keeps the palette; edges stay binary
    seg = torch.where(torch.rand(1, 1, 32, 48) > 0.5, 1.0, -1.0).expand(1, 3, 32, 48)
    edges = (torch.rand(1, 1, 32, 48) > 0.9).float()
    _, c, e = apply_params(params, image, seg, edges)
    assert set(c.unique().tolist()) <= {-1.0, 1.0} and set(e.unique().tolist()) <= {0.0, 1.0}


def test_augmentation_draws_come_from_the_generator():
    cfg = dataclasses.replace(DeepSIMConfig(), cutmix=True, crop=True, canny_aug=True, affine_aug=("shearx", "rotation"))
    a = sample_params(cfg, 64, 96, torch.Generator().manual_seed(5))
    b = sample_params(cfg, 64, 96, torch.Generator().manual_seed(5))
    assert a.flip == b.flip and a.cutmix == b.cutmix and a.crop == b.crop and a.canny_index == b.canny_index
    assert torch.equal(a.tps_displacement, b.tps_displacement)
    assert cfg.canny_sigmas == (1.2, 1.5, 1.8, 2.1, 2.4, 2.7, 3.0)


def test_flip_cutmix_crop_affine_keep_pairs_aligned():
    image = torch.rand(1, 3, 32, 48) * 2 - 1
    for params in (
        AugmentParams(flip=True),
        AugmentParams(cutmix=(8, 0, 0, 20, 30)),
        AugmentParams(crop=(2, 3, 28, 43)),
        AugmentParams(affine=torch.tensor([[1, 0.2, 0], [0, 1, 0], [0, 0, 1]], dtype=torch.float64)),
    ):
        a, c, _ = apply_params(params, image, image.clone(), colors_mode="bilinear")
        assert torch.equal(a, c) and a.shape == image.shape
    flipped, _, _ = apply_params(AugmentParams(flip=True), image, image)
    assert torch.equal(flipped, image.flip(-1))


# ----------------------------------------------------------------------------- primitives
def test_primitive_kinds(tiny_image):
    edges = make_primitive(tiny_image, "edges", sigma=1.0)
    assert edges.shape == tiny_image.shape and set(edges.unique().tolist()) <= {-1.0, 1.0}
    assert (edges == -1).any()  # black edges on white (official canny_color 0)
    white = make_primitive(tiny_image, "edges", sigma=1.0, canny_color=1)
    assert torch.equal(white, -edges)
    seg = unsupervised_segmentation(tiny_image, "slic", segments=5)
    assert 2 <= len(palette(seg)) <= 12
    assert len(palette(unsupervised_segmentation(tiny_image, "felzenszwalb"))) >= 1
    se = seg_edges_primitive(seg, tiny_image, sigma=1.0)
    colors, mask = split_primitive(se, "seg_edges")
    assert torch.equal(compose_primitive(colors, mask), se)
    assert torch.equal(mask, canny_edges(tiny_image, 1.0))
    assert len(palette(colors)) == len(palette(seg))  # edge pixels filled with region colours
    with pytest.raises(PrimitiveError, match="drawn by hand"):
        make_primitive(tiny_image, "manual")


def test_skeletonize_thins_strokes():
    stroke = torch.ones(1, 3, 20, 20)
    stroke[..., 8:13, 2:18] = -1  # a 5 px thick horizontal stroke
    thin = skeletonize_edges(stroke)
    assert 0 < int((thin[0, 0] < 0).sum()) <= 20


def test_resize_primitive_keeps_colours_and_edges(tiny_image):
    seg = unsupervised_segmentation(tiny_image, segments=5)
    se = seg_edges_primitive(seg, tiny_image, sigma=1.0)
    small = resize_primitive(se, "seg_edges", (16, 24))
    known = torch.cat([palette(seg), torch.zeros(1, 3, dtype=torch.uint8)])
    assert {tuple(c) for c in palette(small).tolist()} <= {tuple(c) for c in known.tolist()}
    assert (small == -1).all(dim=1).any()


def test_unknown_seg_colours_are_named(tiny_image):
    seg = unsupervised_segmentation(tiny_image, segments=5)
    known = palette(seg)
    check_seg_colors(seg, known, "seg")  # the training map itself passes
    bad = seg.clone()
    bad[..., :10, :10] = torch.tensor([0.2, -0.6, 0.9]).view(1, 3, 1, 1)
    with pytest.raises(PrimitiveError, match=r"#99"):
        check_seg_colors(bad, known, "seg")


# ----------------------------------------------------------------------------- training, resume, save/load
def test_working_size_rules():
    paper, fast = PRESETS["paper"], PRESETS["fast"]
    assert working_size(480, 480, paper) == (480, 480)
    assert working_size(1200, 1800, paper) == (608, 896)  # halved once, rounded to 16
    assert working_size(250, 333, paper) == (256, 336)
    assert working_size(480, 480, fast) == (256, 256) and working_size(320, 640, fast) == (128, 256)
    assert learning_rate(0, paper) == learning_rate(7999, paper) == 2e-4
    assert learning_rate(12000, paper) == pytest.approx(1e-4) and learning_rate(15999, paper) == pytest.approx(2e-4 / 8000)


def test_train_translate_save_load(pair32, tiny_config, tmp_path):
    out = tmp_path / "run"
    model = DeepSIM.train({"image": pair32[0], "primitive": pair32[1]}, tiny_config, out_dir=out, progress=False)
    assert (out / "model.safetensors").exists() and (out / "progress.png").exists()
    assert "training_state" not in read_metadata(out)  # finished runs keep only the model
    assert model.info["iteration"] == 8 and model.complete and list(model.info["losses"]) == ["constant", "decay"]
    y = model.translate(pair32[1])
    assert y.shape == (1, 3, 32, 48) and y.abs().max() <= 1
    loaded = sinkit.load(out, device="cpu")
    assert isinstance(loaded, DeepSIM) and loaded.config == tiny_config and torch.equal(loaded.translate(pair32[1]), y)
    assert torch.equal(loaded.palette, model.palette) and loaded.original_size == (32, 48)
    # a pair given at 64x96 trains at 32x48 (max_size 48): primitives of either size translate at 32x48,
    # others at the same scale
    small = dataclasses.replace(tiny_config, max_size=48, niter=1, niter_decay=0)
    big = {"image": sinkit.resize(pair32[0], (64, 96)), "primitive": resize_primitive(pair32[1], "seg_edges", (64, 96))}
    scaled = DeepSIM.train(big, small, progress=False)
    assert scaled.size == (32, 48) and scaled.original_size == (64, 96)
    assert scaled.reconstruction().shape[-2:] == (32, 48) and scaled.translate(big["primitive"]).shape[-2:] == (32, 48)
    assert scaled.translate(resize_primitive(pair32[1], "seg_edges", (128, 192))).shape[-2:] == (64, 96)
    assert "seg_edges" in loaded.describe() and "8 of 8" in loaded.describe()


def test_resume_is_bit_identical(pair32, tiny_config, tmp_path):
    cfg = dataclasses.replace(tiny_config, cutmix=True, cutmix_min=4, cutmix_max=8)
    full = train(*pair32, cfg, out_dir=tmp_path / "a", progress=False)
    train(*pair32, cfg, out_dir=tmp_path / "b", progress=False, stop_after=5)
    partial = sinkit.load(tmp_path / "b", device="cpu")
    assert not partial.complete and partial.info["iteration"] == 5 and "training_state" in read_metadata(tmp_path / "b")
    with pytest.raises(ValueError, match="config differs"):
        train(*pair32, dataclasses.replace(cfg, lr=1e-3), out_dir=tmp_path / "b", resume=True, progress=False)
    resumed = train(*pair32, cfg, out_dir=tmp_path / "b", resume=True, progress=False)
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k


# ----------------------------------------------------------------------------- bad input
def test_bad_inputs(pair32, tiny_config, tmp_path):
    image, primitive = pair32
    with pytest.raises(PrimitiveError, match="blank"):
        prepare_pair(image, torch.ones_like(primitive), tiny_config)
    notes = prepare_pair(image, resize_primitive(primitive, "seg_edges", (64, 96)), tiny_config)[3]
    assert any("resized" in n for n in notes)
    model = train(image, primitive, dataclasses.replace(tiny_config, niter=1, niter_decay=0), progress=False)
    with pytest.raises(PrimitiveError, match="blank"):
        model.translate(torch.zeros_like(primitive))
    bad = primitive.clone()
    bad[..., :12, :12] = torch.tensor([0.2, -0.6, 0.9]).view(1, 3, 1, 1)
    with pytest.raises(PrimitiveError, match="never seen in training"):
        model.translate(bad)
    bigger = resize_primitive(primitive, "seg_edges", (64, 96))
    y = model.translate(bigger)  # another size: brought to the training scale (here 1:1)
    assert y.shape[-2:] == (64, 96) and model.last_notes == []
    # a DeepSIM model is not a sampler / pyramid: SinGAN tasks refuse it with its usage line
    from sinkit.tasks import edit, inject

    with pytest.raises(CapabilityError, match="deepsim models cannot inject.*sinkit translate"):
        inject(model, image, 1)
    with pytest.raises(CapabilityError, match="deepsim models cannot"):
        edit(model, image, 1, mask=torch.ones(1, 1, 32, 48))
    with pytest.raises(ValueError, match="needs the training input 'primitive'"):
        DeepSIM.train(image, tiny_config)
    with pytest.raises(ValueError, match="primitive kind"):
        DeepSIMConfig(primitive_kind="sketch")
    with pytest.raises(ValueError, match="affine_aug"):
        DeepSIMConfig(affine_aug=("zoom",))


# ----------------------------------------------------------------------------- CLI
def test_primitive_command(tmp_path, tiny_image):
    from click.testing import CliRunner

    from sinkit.deepsim.cli import primitive

    src = tmp_path / "img.png"
    sinkit.save_image(tiny_image, src)
    runner = CliRunner()
    for kind in ("edges", "seg", "seg_edges"):
        res = runner.invoke(primitive, [str(src), "--kind", kind, "--sigma", "1", "--segments", "5", "--out", str(tmp_path / f"{kind}.png")])
        assert res.exit_code == 0, res.output
        assert sinkit.load_image(tmp_path / f"{kind}.png").shape == tiny_image.shape
    res = runner.invoke(primitive, [str(tmp_path / "edges.png"), "--skeletonize", "--out", str(tmp_path / "thin.png")])
    assert res.exit_code == 0 and (tmp_path / "thin.png").exists()
    res = runner.invoke(primitive, [str(tmp_path / "missing.png"), "--out", str(tmp_path / "x.png")])
    assert res.exit_code != 0 and "not found" in res.output


def test_cli_train_translate_info_and_refusals(tmp_path, pair32):
    from click.testing import CliRunner

    from sinkit.cli.main import cli

    image, primitive = pair32
    sinkit.save_image(image, tmp_path / "img.png")
    sinkit.save_image(primitive, tmp_path / "prim.png")
    run = tmp_path / "run"
    small = ["--set", "ngf=4", "--set", "ndf=4", "--set", "n_downsample=2", "--set", "n_blocks=1",
             "--set", "niter=2", "--set", "niter_decay=1", "--vgg-loss", "off"]
    runner = CliRunner()
    r = runner.invoke(cli, ["train", "--method", "deepsim", "--help"])
    assert r.exit_code == 0 and "--primitive-kind" in r.output and "--primitive " in r.output
    r = runner.invoke(cli, ["train", str(tmp_path / "img.png"), "--method", "deepsim", "--preset", "fast", "--out", str(run),
                            "--primitive", str(tmp_path / "prim.png"), "--primitive-kind", "seg_edges", "--quiet", "--device", "cpu", *small])
    assert r.exit_code == 0, r.output
    assert (run / "reconstruction.png").exists()
    r = runner.invoke(cli, ["translate", str(run), "--primitive", str(tmp_path / "prim.png"), "--out", str(tmp_path / "t")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "t" / "result.png").exists() and (tmp_path / "t" / "comparison.png").exists()
    r = runner.invoke(cli, ["info", str(run)])
    assert r.exit_code == 0 and "deepsim" in r.output and "3 of 3" in r.output
    sinkit.save_image(torch.ones_like(primitive), tmp_path / "blank.png")
    r = runner.invoke(cli, ["translate", str(run), "--primitive", str(tmp_path / "blank.png"), "--out", str(tmp_path / "t2")])
    assert r.exit_code == 1 and "blank" in r.output
    for command in (["sample", str(run)], ["edit", str(run), "--input", str(tmp_path / "img.png"), "--mask", str(tmp_path / "img.png"), "--scale", "1"]):
        r = runner.invoke(cli, command)
        assert r.exit_code == 1 and "deepsim models cannot" in r.output and "sinkit translate" in r.output, r.output


def test_singan_model_refused_by_translate(tmp_path, tiny_image):
    from pathlib import Path

    from click.testing import CliRunner

    from sinkit.cli.main import cli

    singan = Path(__file__).parent / "fixtures" / "singan-0.1.0"
    sinkit.save_image(tiny_image, tmp_path / "prim.png")
    r = CliRunner().invoke(cli, ["translate", str(singan), "--primitive", str(tmp_path / "prim.png"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "singan models cannot translate" in r.output, r.output
