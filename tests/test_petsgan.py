"""PetsGAN (issue 11): data sizes, networks, patch transfer, EMA, priors, training steps, resume."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

import sinkit

from sinkit.core.resize import resize
from sinkit.core.weights import WeightsUnavailable
from sinkit.core.state import flatten_state, unflatten_state
from sinkit.petsgan import PRESETS, PetsGAN, PetsGANConfig, PetsGANTrainer, prepare_images
from sinkit.petsgan.biggan import BigGAN, load_biggan
from sinkit.petsgan.data import hr_size
from sinkit.petsgan.networks import (
    EMA,
    DEPNet,
    IRNet,
    LRDiscriminator,
    MultiScaleDiscriminator,
    PatchTransfer,
    median_paste,
    positional_encoding,
    sparsity_loss,
)
from sinkit.petsgan.priors import augment, build_prior_set, resolve_prior_kind, tps_warp
from sinkit.petsgan.training import ir_saturated

# HR 96x128 -> LR 12x16 at factor 8: the smallest image PetsGAN accepts, tiny networks.
TINY = replace(
    PetsGANConfig(),
    dep_channels=4, dep_d_channels=4, ir_channels=8, d_channels=4, dep_batch=2, augment_count=4, lr_copies=2,
    dep_iters=2, dip_iters=2, joint_iters=2, pt_iters=2, warmup_iters=2, prior="augment", crop_size=64,
)


def make_trainer(image, cfg):
    hr, _ = prepare_images(image, cfg.max_size, cfg.factor)
    torch.manual_seed(cfg.seed)
    return PetsGANTrainer(PetsGAN(cfg, {"image": hr}))


def flat(trainer):
    tensors, _ = flatten_state({"model": dict(trainer.model.state_dict()), "trainer": trainer.get_state()})
    return tensors


@pytest.fixture(scope="module")
def image(tiny_image):
    return resize(tiny_image, (96, 128))


# ----------------------------------------------------------------------------- data
def test_hr_lr_sizes_are_multiples_of_the_factor():
    assert hr_size(300, 400) == (192, 256)  # long side 256, 192 = 300 * 0.64
    assert hr_size(250, 187) == (248, 184)  # never enlarged, floored to multiples of 8
    hr, lr = prepare_images(torch.zeros(1, 3, 250, 187))
    assert hr.shape == (1, 3, 248, 184) and lr.shape == (1, 3, 31, 23)


def test_too_small_image_is_a_clear_error():
    with pytest.raises(ValueError, match="image too small for PetsGAN.*96 px"):
        prepare_images(torch.zeros(1, 3, 64, 300))


# ----------------------------------------------------------------------------- networks
def test_ir_network_upscales_x8_and_is_bounded():
    ir = IRNet(8, stages=3)
    out = ir(torch.randn(2, 3, 5, 7))
    assert out.shape == (2, 3, 40, 56) and out.abs().max() <= 1


def test_depnet_keeps_the_size_at_any_size():
    g = DEPNet(4, 8, (12, 16))
    assert g(torch.randn(2, 1, 12, 16)).shape == (2, 3, 12, 16)
    assert g(torch.randn(1, 1, 12, 31)).shape == (1, 3, 12, 31)


def test_positional_encoding_matches_the_official_formula_at_the_training_size():
    pe = positional_encoding(5, 6, 8)
    # channel 0 = sin(x), 1 = cos(x), 2 = sin(x / 100) (w_k = 10000^(-2k/4)), 4.. = the same for y
    x = torch.arange(6.0)
    assert torch.allclose(pe[0, 3], torch.sin(x), atol=1e-6)
    assert torch.allclose(pe[1, 0], torch.cos(x), atol=1e-6)
    assert torch.allclose(pe[2, 0], torch.sin(x / 100), atol=1e-6)
    assert torch.allclose(pe[4, :, 2], torch.sin(torch.arange(5.0)), atol=1e-6)


def test_positional_encoding_extends_consistently_to_other_sizes():
    train = positional_encoding(12, 16, 8)
    # stretch: a (2*15+1)-wide encoding sampled every other column is the training one
    wide = positional_encoding(12, 31, 8, train_size=(12, 16))
    assert torch.allclose(wide[:, :, ::2], train, atol=1e-6)
    assert wide[:, :, 1].sub(train[:, :, 0]).abs().max() > 0  # in-between positions are new
    tall = positional_encoding(23, 16, 8, train_size=(12, 16))
    assert torch.allclose(tall[:, ::2], train, atol=1e-6)
    # continue: the first columns are the training encoding, then the grid goes on
    cont = positional_encoding(12, 40, 8, train_size=(12, 16), extension="continue")
    assert torch.allclose(cont[:, :, :16], train, atol=1e-6)
    with pytest.raises(ValueError, match="multiple of 4"):
        positional_encoding(4, 4, 6)


def test_ema_moves_towards_the_source_by_one_minus_decay():
    src = torch.nn.Linear(3, 2)
    ema = EMA(src, decay=0.9)
    before = ema.target.weight.clone()
    with torch.no_grad():
        src.weight.add_(1.0)
    ema.update()
    assert torch.allclose(ema.target.weight, before + 0.1, atol=1e-6)
    assert not ema.target.weight.requires_grad
    with pytest.raises(ValueError):
        EMA(src, decay=1.0)


def test_patch_transfer_finds_a_copied_patch_exactly():
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(1, 3, 16, 20, generator=g) * 2 - 1
    # the input is a 10x12 window cut from the reference at (3, 5)
    x = ref[..., 3:13, 5:17].clone()
    pt = PatchTransfer(7)
    out, attn = pt(x, ref, tau=1e-4, iterations=1, hard=True)
    assert out.shape == x.shape and attn.shape == (1, 10 * 12, 16 * 20)
    # windows that lie fully inside x match their source location ...
    idx = attn[0].argmax(-1).view(10, 12)
    for i in range(3, 7):
        for j in range(3, 9):
            assert idx[i, j] == (i + 3) * 20 + (j + 5)
    # ... and pixels covered only by such windows are copied exactly
    assert torch.allclose(out[..., 6:7, 6:6], x[..., 6:7, 6:6])
    assert torch.allclose(out[..., 6, 6], x[..., 6, 6], atol=1e-6)


def test_patch_transfer_of_the_reference_itself_is_the_identity_inside():
    g = torch.Generator().manual_seed(1)
    ref = torch.rand(1, 3, 14, 14, generator=g) * 2 - 1
    out, attn = PatchTransfer(3)(ref, ref, tau=1e-4, hard=True)
    assert torch.allclose(out[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], atol=1e-5)
    assert sparsity_loss(attn) < 1e-3


def test_centre_paste_writes_only_reference_pixels_where_the_average_blends_them():
    g = torch.Generator().manual_seed(2)
    ref = torch.rand(1, 3, 16, 20, generator=g) * 2 - 1
    x = torch.rand(2, 3, 10, 12, generator=g) * 2 - 1
    pt = PatchTransfer(7)

    def distance_to_nearest_reference_pixel(out):  # per output pixel, over the RGB values of the reference
        return torch.cdist(out.flatten(2).transpose(1, 2), ref.flatten(2).transpose(1, 2),
                           compute_mode="donot_use_mm_for_euclid_dist").amin(-1)

    centre, _ = pt(x, ref, tau=1e-4, iterations=2, hard=True, paste="centre")
    average, _ = pt(x, ref, tau=1e-4, iterations=2, hard=True)
    assert centre.shape == average.shape == x.shape
    assert distance_to_nearest_reference_pixel(centre).max() < 1e-5
    assert distance_to_nearest_reference_pixel(average).mean() > 0.05
    with pytest.raises(ValueError, match="unknown paste 'middle'"):
        pt(x, ref, paste="middle")


def test_median_paste_outvotes_an_isolated_bad_match_that_the_centre_paste_keeps():
    g = torch.Generator().manual_seed(3)
    ref = torch.rand(1, 3, 12, 15, generator=g)  # in [0, 1], as the paste sees it
    index = torch.arange(12 * 15).view(1, -1).clone()  # every window matched to itself ...
    index[0, 5 * 15 + 7] = 0  # ... but the one centred on (5, 7): the top-left window
    median = median_paste(ref, index, 12, 15, 7).view(1, 3, 12, 15)
    centre = ref.flatten(2)[0][:, index].permute(1, 0, 2).view(1, 3, 12, 15)
    assert torch.equal(median, ref)  # the 48 other windows over (5, 7) and its neighbours agree
    assert torch.equal(centre[..., 5, 7], ref[..., 0, 0]) and not torch.equal(centre, ref)
    # through the module: an input equal to its reference comes back unchanged, and on other input every
    # channel value is one of the reference's (a median of reference pixels, no blend)
    pt = PatchTransfer(7)
    same, _ = pt(ref * 2 - 1, ref * 2 - 1, tau=1e-5, hard=True, paste="median")
    assert torch.allclose(same, ref * 2 - 1, atol=1e-6)
    x = torch.rand(2, 3, 10, 12, generator=g) * 2 - 1
    out, _ = pt(x, ref * 2 - 1, tau=1e-4, iterations=2, hard=True, paste="median")
    gap = (out.flatten(2).unsqueeze(-1) - (ref * 2 - 1).flatten(2).unsqueeze(-2)).abs().amin(-1)  # (B, 3, L)
    assert out.shape == x.shape and gap.max() < 1e-6


def test_reference_without_the_mirror_and_the_fast_patch_transfer(image):
    hr, _ = prepare_images(image, TINY.max_size, TINY.factor)
    mirrored = PetsGAN(TINY, {"image": hr})
    alone = PetsGAN(replace(TINY, pt_mirror=False), {"image": hr})
    assert torch.equal(mirrored.reference, torch.cat([mirrored.lr, mirrored.lr.flip(-1)], dim=-1))
    assert torch.equal(alone.reference, alone.lr)
    assert (PRESETS["paper"].pt_mirror, PRESETS["paper"].pt_paste) == (True, "average")  # official
    assert (PRESETS["fast"].pt_mirror, PRESETS["fast"].pt_paste) == (False, "centre")  # ours, docs/petsgan.md
    with pytest.raises(ValueError, match="unknown pt_paste 'middle'"):
        replace(TINY, pt_paste="middle")


def test_sparsity_loss_is_zero_for_one_hot_and_positive_for_uniform():
    assert sparsity_loss(torch.eye(4)[None]) == pytest.approx(0.0, abs=1e-6)
    assert sparsity_loss(torch.full((1, 4, 4), 0.25)) == pytest.approx(0.5, abs=1e-6)


def test_discriminators_shapes():
    d = MultiScaleDiscriminator(4, 3)
    assert d(torch.randn(2, 3, 24, 20)).shape == (2, 1, 24, 20)
    d_lr = LRDiscriminator((12, 16), 4)
    assert d_lr(torch.randn(3, 3, 12, 16)).shape == (3, 1)
    with pytest.raises(ValueError, match="built for"):
        d_lr(torch.randn(1, 3, 16, 16))


# ----------------------------------------------------------------------------- priors
def test_tps_warp_is_seeded_and_keeps_the_image_recognisable(image):
    x = resize(image, (24, 32))
    a = tps_warp(x, torch.Generator().manual_seed(3))
    b = tps_warp(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == x.shape
    assert 0 < (a - x).abs().mean() < 0.2
    assert torch.allclose(tps_warp(x, torch.Generator().manual_seed(3), scale=0.0), x, atol=1e-5)


def test_augment_prior_set_is_recorded(image):
    hr, lr = prepare_images(image)
    prior = build_prior_set(hr, lr, TINY, torch.Generator().manual_seed(0))
    assert prior.kind == "augment" and prior.images.shape == (4 + 4, 3, 12, 16)
    assert "no external prior" in prior.description
    out = augment(hr, (12, 16), replace(TINY, crop_min=0.5), torch.Generator().manual_seed(0))
    assert out.shape == (1, 3, 12, 16)
    # the paper's "w/o external prior" ablation: DEPNet sees only the LR image and its mirror
    alone = build_prior_set(hr, lr, replace(TINY, augment_count=0), torch.Generator().manual_seed(0))
    n = TINY.lr_copies
    assert alone.images.shape == (2 * n, 3, 12, 16)
    assert sorted([torch.equal(x, lr[0]) for x in alone.images]) == [False] * n + [True] * n
    with pytest.raises(ValueError, match="augment_count must be >= 0"):
        replace(TINY, augment_count=-1)


def test_prior_without_mirrors_holds_no_mirrored_image(image):
    hr, lr = prepare_images(image)
    n = TINY.lr_copies
    # the official set: half of the LR copies are mirrored
    with_mirrors = build_prior_set(hr, lr, replace(TINY, augment_count=0), torch.Generator().manual_seed(0))
    assert sum(torch.equal(x, lr[0].flip(-1)) for x in with_mirrors.images) == n
    alone = build_prior_set(hr, lr, replace(TINY, augment_count=0, prior_mirrors=False), torch.Generator().manual_seed(0))
    assert all(torch.equal(x, lr[0]) for x in alone.images) and alone.images.shape[0] == 2 * n
    assert "no mirrors" in alone.description
    # augmentations: the flip is skipped but still drawn, so the other random numbers are the official
    # set's: the augmentations that were not flipped there come out identical, the flipped ones do not
    cfg = replace(TINY, augment_count=12, lr_copies=0)
    a = build_prior_set(hr, lr, cfg, torch.Generator().manual_seed(1)).images
    b = build_prior_set(hr, lr, replace(cfg, prior_mirrors=False), torch.Generator().manual_seed(1)).images
    same = [torch.equal(x, y) for x, y in zip(a, b)]
    assert a.shape == b.shape and 0 < sum(same) < len(same)


def test_folder_prior_and_its_errors(image, tmp_path):
    from sinkit.core.io import save_image

    hr, lr = prepare_images(image)
    for i in range(3):
        save_image(torch.rand(1, 3, 20 + i, 30) * 2 - 1, tmp_path / f"{i}.png")
    cfg = replace(TINY, prior="auto", prior_images=str(tmp_path), mix_ratio=0.25)
    assert resolve_prior_kind(cfg) == "folder"
    prior = build_prior_set(hr, lr, cfg, torch.Generator().manual_seed(0))
    # 3 images + 3 mirrors + 2 augmentations (0.25 / 0.75 * 6) + 2 + 2 LR copies
    assert prior.kind == "folder" and prior.images.shape[0] == 3 + 3 + 2 + 4
    with pytest.raises(ValueError, match="not a folder"):
        build_prior_set(hr, lr, replace(cfg, prior_images=str(tmp_path / "none")), torch.Generator())
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        build_prior_set(hr, lr, replace(cfg, prior_images=str(tmp_path / "empty")), torch.Generator())


def test_missing_biggan_weights_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("SINKIT_OFFLINE", "1")
    monkeypatch.delenv("SINKIT_BIGGAN_WEIGHTS", raising=False)
    monkeypatch.setenv("SINKIT_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsUnavailable, match="(?s)biggan-128-G_ema.pth.*SINKIT_BIGGAN_WEIGHTS.*--prior-images"):
        load_biggan()
    with pytest.raises(WeightsUnavailable):
        load_biggan(str(tmp_path / "missing.pth"))
    assert resolve_prior_kind(replace(TINY, prior="auto")) == "augment"


def test_biggan_state_dict_layout_and_file_round_trip(tmp_path):
    with torch.device("meta"):
        full = BigGAN()  # the pretrained architecture: check the published key layout
    keys = full.state_dict().keys()
    for key in ("shared.weight", "linear.u0", "linear.sv0", "blocks.0.0.bn1.gain.weight", "blocks.0.0.conv_sc.weight",
                "blocks.3.1.gamma", "blocks.3.1.theta.weight", "output_layer.0.stored_var", "output_layer.2.u0"):
        assert key in keys
    assert full.linear.weight.shape == (96 * 16 * 16, 20) and full.dim_z == 120
    assert full.blocks[3][1].theta.weight.shape == (24, 192, 1, 1) and full.output_layer[2].weight.shape == (3, 96, 3, 3)
    arch = dict(width=8, resolution=64, dim_z=10, shared_dim=4, classes=3)
    small = BigGAN(**arch).eval()
    torch.save(small.state_dict(), tmp_path / "g.pth")
    loaded = load_biggan(str(tmp_path / "g.pth"), **arch)
    torch.save({"x": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="not a BigGAN-128"):
        load_biggan(str(tmp_path / "bad.pth"), **arch)
    z = torch.randn(2, 10)
    out = loaded(z, torch.tensor([0, 2]))
    assert out.shape == (2, 3, 64, 64) and torch.equal(out, small(z, torch.tensor([0, 2])))


def test_biggan_prior_code_path_with_a_small_random_generator(image):
    hr, lr = prepare_images(image)
    torch.manual_seed(0)
    small = BigGAN(width=2, resolution=32, dim_z=20, shared_dim=8, classes=5).eval()
    cfg = replace(TINY, prior="biggan", inversion_iters=2, biggan_class_candidates=2, jitter_stds=(0.1, 0.5),
                  jitter_per_std=3, mix_ratio=0.0)
    prior = build_prior_set(hr, lr, cfg, torch.Generator().manual_seed(0), biggan=small)
    assert prior.kind == "biggan" and prior.images.shape == (6 + 6 + 4, 3, 12, 16)
    assert prior.images.abs().max() <= 1


# ----------------------------------------------------------------------------- training
def test_every_phase_steps_and_sampling_any_size(image):
    tr = make_trainer(image, TINY)
    assert tr.model.info["prior"]["kind"] == "augment"
    model = tr.run(progress=False).eval()
    assert tr.iteration == {"dep": 2, "dip": 2, "joint": 2, "hr": 0}
    s = model.sample(2, generator=0)
    assert s.shape == (2, 3, 96, 128) and torch.isfinite(s).all()
    assert torch.equal(s, model.sample(2, generator=0))
    assert not torch.equal(s, model.sample(2, generator=1))
    assert model.sample(1, size=(96, 200), generator=0).shape == (1, 3, 96, 200)
    assert model.reconstruction().shape == (1, 3, 96, 128)
    assert model.sample(1, size=(90, 131), generator=0).shape == (1, 3, 88, 128)  # nearest multiples of 8
    with pytest.raises(ValueError, match="at least 24 px"):
        model.sample(1, size=(16, 128))  # 2 LR pixels: too few for the IR network's 5x5 padding
    assert model.sample(1, size=(24, 24), generator=0).shape == (1, 3, 24, 24)
    out = model.inject(torch.rand(1, 3, 50, 70) * 2 - 1, 0, num=2)
    assert out.shape == (2, 3, 96, 128) and torch.equal(out[0], out[1])
    with pytest.raises(ValueError, match="one injection scale"):
        model.inject(out[:1], 1)


def test_hr_refine_fills_samples_with_the_images_own_patches_and_is_not_saved(image):
    from sinkit.metrics.evaluate import evaluate_samples

    model = make_trainer(image, TINY).run(progress=False).eval()
    plain = model.sample(3, generator=0)
    assert model.set_sampling_options(hr_refine=3, hr_refine_iters=2) is model  # in place, on a trained model
    assert model.config == replace(TINY, hr_refine=3, hr_refine_iters=2)
    refined = model.sample(3, generator=0)
    assert refined.shape == plain.shape and refined.min() >= -1 and refined.max() <= 1
    assert torch.equal(refined, model.sample(3, generator=0))
    nn = [evaluate_samples(x, model.training_image(), metrics=["nn_patch"])["nn_patch"] for x in (plain, refined)]
    assert nn[1] < 0.5 * nn[0]  # the image's own patches replace the blurry ones
    assert model.sample(1, size=(96, 200), generator=0).shape == (1, 3, 96, 200)
    assert model.state_dict().keys() == PetsGAN(TINY, {"image": model.real}).state_dict().keys()
    assert "HR refinement" in model.describe()
    assert "sampling      hr_refine=3, hr_refine_iters=2 (change with sinkit sample --set)" in model.describe()
    small = model.sample(1, size=(24, 128), generator=0)  # only the finest levels hold a 7x7 patch: those are refined
    assert small.shape == (1, 3, 24, 128)
    levels = model.refiner().num_scales  # more levels than the pyramid has: refined from its coarsest (wide images)
    every = model.set_sampling_options(hr_refine=levels).sample(2, generator=0)
    assert torch.equal(every, model.set_sampling_options(hr_refine=levels + 5).sample(2, generator=0))
    assert not torch.equal(every, refined[:2])
    model.set_sampling_options(hr_refine=0)
    assert not torch.equal(small, model.sample(1, size=(24, 128), generator=0))
    with pytest.raises(ValueError, match="dip_iters cannot change after training; the sampling options of petsgan models are: hr_refine, hr_refine_iters"):
        model.set_sampling_options(dip_iters=3)
    with pytest.raises(ValueError, match="hr_refine_iters must be >= 1"):
        model.set_sampling_options(hr_refine_iters=0)
    assert model.config.hr_refine == 0 and model.config.dip_iters == TINY.dip_iters  # a refused change changes nothing
    with pytest.raises(ValueError, match="x4 extension"):
        replace(TINY, hr_refine=2, hr_scale=4)
    with pytest.raises(ValueError, match="hr_refine_iters must be >= 1"):
        replace(TINY, hr_refine_iters=0)


@pytest.mark.parametrize("fast_path", [False, True])
def test_resume_is_bit_identical(image, fast_path):
    cfg = replace(TINY, dep_iters=3, dip_iters=3, joint_iters=3)
    if fast_path:  # the fast preset's shortcuts: fake-LR pool, no PT loss, frozen G in the joint phase
        cfg = replace(cfg, joint_pool=2, lr_pt=0.0, lr_joint_g=0.0)
    straight = make_trainer(image, cfg)
    straight.run(progress=False)

    first = make_trainer(image, cfg)
    for phase, n in (("dep", 3), ("dip", 3), ("joint", 1)):
        for _ in range(n):
            first.step(phase)
    model_state = {k: v.clone() for k, v in first.model.state_dict().items()}
    state = first.get_state()
    second = make_trainer(image, cfg)
    second.model.load_state_dict(model_state)
    second.set_state(state)
    second.run(progress=False)
    a, b = flat(straight), flat(second)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_presets_are_valid_and_fast_is_smaller():
    paper, fast = PRESETS["paper"], PRESETS["fast"]
    assert paper.dep_iters == paper.dip_iters == paper.joint_iters == 5000
    assert fast.dep_iters < paper.dep_iters and fast.ir_channels <= paper.ir_channels
    assert paper.hr_refine == 0 and fast.hr_refine > 0  # the refinement is ours: never in `paper`
    with pytest.raises(ValueError, match="crop_size"):
        replace(paper, crop_size=100)
    with pytest.raises(ValueError, match="prior_images"):
        replace(paper, prior="folder")


def test_ir_input_noise_is_the_official_one_in_paper_and_off_in_fast(image):
    """paper: N(0, 0.3) on half of the IR inputs (official); fast: the clean LR (docs/petsgan.md)."""
    x = torch.zeros(64, 3, 4, 4)
    for name in ("paper", "fast"):
        preset = PRESETS[name]
        trainer = make_trainer(image, replace(TINY, ir_noise_p=preset.ir_noise_p, ir_noise_std=preset.ir_noise_std))
        noisy = trainer._ir_noise(x, torch.Generator().manual_seed(0))
        touched = noisy.flatten(1).abs().amax(dim=1) > 0
        if name == "fast":
            assert not touched.any()
        else:
            assert 16 < int(touched.sum()) < 48  # p = 0.5 of 64 inputs
            assert noisy[touched].std().item() == pytest.approx(0.3, rel=0.1)


def test_fixed_noise_is_no_sampling_seeds_first_draw_and_sample_zero_is_not_the_reconstruction(image):
    """z_fixed used to be the first draw of the training seed's stream: sample #0 with that seed (the
    bench's default) was then exactly the reconstruction (as SinGAN's z*, tests/test_singan_seed.py)."""
    trainer = make_trainer(image, replace(TINY, seed=0))
    model = trainer.model
    z = model.fixed_noise
    for s in range(64):
        first = torch.randn(z.shape, generator=torch.Generator().manual_seed(s))
        assert (first - z).abs().max() > 0.5, f"z_fixed equals the first draw of seed {s}"
    again = make_trainer(image, replace(TINY, seed=0)).model.fixed_noise
    assert torch.equal(z, again)  # fixed by the training seed
    model.eval()
    samples, rec = model.sample(3, generator=0), model.reconstruction()
    assert (samples[0] - rec).abs().max() > 1e-3


def test_a_saturated_ir_network_is_reported_as_diverged(image, monkeypatch, recwarn):
    import sinkit.petsgan.training as training

    model = PetsGAN.fit(image, TINY, progress=False, vgg="random", device="cpu")
    assert not ir_saturated(model)  # a barely trained IR network outputs values near 0, not +-1
    assert not [w for w in recwarn if "diverged" in str(w.message)]
    last = [m for m in model.ir.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        last.bias.fill_(100.0)  # what places50/5.jpg's diverged IR network did: tanh at +1 everywhere
    assert ir_saturated(model)
    monkeypatch.setattr(training, "ir_saturated", lambda m: True)
    with pytest.warns(RuntimeWarning, match="PetsGAN training diverged: the IR network's output is saturated"):
        PetsGAN.fit(image, TINY, progress=False, vgg="random", device="cpu")


def test_ir_guard_rolls_a_dead_ir_network_back_and_halves_its_lr_and_changes_nothing_otherwise(image):
    from sinkit.petsgan.training import GUARD_PATIENCE

    cfg = replace(TINY, dep_iters=0, dip_iters=60, joint_iters=0)
    plain, guarded = make_trainer(image, cfg), make_trainer(image, replace(cfg, ir_guard=True))
    initial = {k: v.clone() for k, v in guarded.model.ir.state_dict().items()}
    for _ in range(5):
        a, b = plain.step("dip"), guarded.step("dip")
        assert a == b  # a healthy run is bit-identical with the guard
    assert all(torch.equal(x, y) for x, y in zip(plain.model.ir.parameters(), guarded.model.ir.parameters()))
    last = [m for m in guarded.model.ir.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        last.bias.fill_(100.0)  # what places50/5.jpg's dying IR network did: tanh at +1, zero gradient
    lr = guarded.opt_dip.param_groups[1]["lr"]
    for _ in range(GUARD_PATIENCE - 1):
        guarded.step("dip")
    assert guarded.guard["streak"] == GUARD_PATIENCE - 1 and not guarded.model.info.get("ir_rollbacks")
    guarded.step("dip")  # the GUARD_PATIENCE-th saturated step: back to the snapshot of iteration 0
    assert guarded.model.info["ir_rollbacks"] == [{"at": 5 + GUARD_PATIENCE, "back_to": 0, "lr_scale": 0.5}]
    assert all(torch.equal(guarded.model.ir.state_dict()[k], v) for k, v in initial.items())
    guarded.step("dip")
    assert guarded.opt_dip.param_groups[1]["lr"] == pytest.approx(lr / 2)
    assert guarded.model.run_facts()["ir_rollbacks"] == "1"
    assert "IR rollback   DIPNet iteration 25 -> 0" in guarded.model.describe()
    # the guard's state (snapshot included) goes through the checkpoint: a restored trainer continues identically
    again = make_trainer(image, replace(cfg, ir_guard=True))
    tensors, meta = flatten_state({"model": dict(guarded.model.state_dict()), "trainer": guarded.get_state()})
    state = unflatten_state(meta, tensors)
    again.model.load_state_dict(state["model"])
    again.set_state(state["trainer"])
    assert again.guard["lr_scale"] == 0.5 and again.guard["snapshot"] is not None
    for _ in range(3):
        assert again.step("dip") == guarded.step("dip")


def test_fit_interrupted_and_resumed_from_disk_equals_straight_and_saves_a_loadable_model(image, tmp_path):
    import sinkit

    cfg = replace(TINY, dep_iters=2, dip_iters=2, joint_iters=2, ir_guard=True)  # the guard's snapshot goes through the checkpoint
    straight = PetsGAN.fit(image, cfg, out_dir=tmp_path / "a", progress=False, vgg="random", device="cpu")
    assert straight.complete and straight.info["pt_init"] == "random"
    part = PetsGAN.fit(image, cfg, out_dir=tmp_path / "b", progress=False, vgg="random", device="cpu", stop_after=3)
    assert not part.complete
    resumed = PetsGAN.fit(image, cfg, out_dir=tmp_path / "b", resume=True, progress=False, vgg="random", device="cpu")
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    loaded = sinkit.load(tmp_path / "a", device="cpu")
    assert isinstance(loaded, PetsGAN) and loaded.config == cfg and loaded.info["prior"]["kind"] == "augment"
    assert torch.equal(loaded.sample(2, generator=5), straight.sample(2, generator=5))
    assert "augment" in loaded.describe()
    with pytest.raises(ValueError, match="config differs"):
        PetsGAN.fit(image, replace(cfg, lr_g=1e-3), out_dir=tmp_path / "b", resume=True, progress=False, vgg="random",
                    device="cpu")


def test_cli_train_with_prior_images_then_sample_wider_and_harmonize(image, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from sinkit.cli.main import cli
    from sinkit.core.io import save_image

    monkeypatch.setenv("SINKIT_OFFLINE", "1")
    save_image(image, tmp_path / "photo.png")
    (tmp_path / "priors").mkdir()
    for i in range(2):
        save_image(torch.rand(1, 3, 30, 40) * 2 - 1, tmp_path / "priors" / f"{i}.png")
    sets = []
    for key in ("dep_iters", "dip_iters", "joint_iters", "augment_count", "lr_copies", "dep_batch"):
        sets += ["--set", f"{key}={getattr(TINY, key)}"]
    for key in ("dep_channels", "ir_channels", "d_channels", "dep_d_channels"):
        sets += ["--set", f"{key}=4"]

    def run(*args):
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("train", tmp_path / "photo.png", "--method", "petsgan", "--preset", "fast", "--out", tmp_path / "m",
        "--prior-images", tmp_path / "priors", "--samples", "0", "--quiet", "--device", "cpu", *sets)
    assert "folder: 2 images" in run("info", tmp_path / "m")
    assert sinkit.load(tmp_path / "m", device="cpu").run_facts() == {"prior": "folder", "pt_init": "random", "ir_rollbacks": "0"}
    out = run("sample", tmp_path / "m", "--num", "2", "--out", tmp_path / "s", "--scale-h", "1.5", "--device", "cpu")
    assert "96x192 px" in out
    plain = tmp_path / "plain"  # fast refines its samples; --set hr_refine=0 draws them as DIPNet leaves them
    run("sample", tmp_path / "m", "--num", "2", "--out", plain, "--scale-h", "1.5", "--device", "cpu", "--set", "hr_refine=0")
    assert not torch.equal(sinkit.load_image(plain / "sample_000.png"), sinkit.load_image(tmp_path / "s" / "sample_000.png"))
    assert sinkit.load(tmp_path / "m", device="cpu").config.hr_refine == PRESETS["fast"].hr_refine  # nothing saved
    refused = CliRunner().invoke(cli, ["sample", str(tmp_path / "m"), "--set", "dep_iters=1", "--out", str(plain)])
    assert refused.exit_code == 2 and "Invalid value for --set: dep_iters cannot change after training" in refused.output
    run("harmonize", tmp_path / "m", "--input", tmp_path / "photo.png", "--mask", tmp_path / "photo.png",
        "--scale", "0", "--out", tmp_path / "h", "--device", "cpu")


def test_x2_high_resolution_extension_trains_by_reconstruction_and_samples_larger(image, tmp_path):
    big = resize(image, (192, 256))
    cfg = replace(TINY, max_size=128, hr_scale=2, hr_crop=32, hr_iters=2, hr_channels=4)
    model = PetsGAN.fit(big, cfg, out_dir=tmp_path / "m", progress=False, vgg="random", device="cpu")
    assert model.info["iteration"] == 2 + 2 + 2 + 2 and model.output_size() == (192, 256)
    assert model.sample(2, generator=0).shape == (2, 3, 192, 256)
    assert torch.allclose(model.training_image(), big, atol=1e-6)
    with pytest.raises(ValueError, match="too small for the x2 extension"):
        PetsGAN.fit(image, cfg, progress=False, vgg="random", device="cpu")
