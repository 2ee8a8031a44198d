"""Training, reconstruction, sampling, checkpoints and resume on a 32x48 image (a few seconds on a CPU)."""

import json
from dataclasses import replace

import pytest
import torch

import sinkit
from sinkit.core.checkpoint import CheckpointError


def test_reconstruction_loss_falls_at_every_scale(tiny_model):
    model, _ = tiny_model
    assert model.num_scales == 3
    for losses in model.info["losses"]:
        assert losses["rec_last"] < losses["rec_first"]


def test_reconstruction_path_reproduces_the_image(tiny_model):
    # After 40 iterations per scale the fixed noise {z*, 0, 0} maps back to the image:
    # RMSE below 0.15 in [-1, 1] units (measured ~0.07), far below the image's own std.
    model, _ = tiny_model
    rec = model.reconstruct()[-1]
    rmse = (rec - model.real).pow(2).mean().sqrt().item()
    assert rmse < 0.15
    assert rmse < 0.5 * model.real.std().item()


def test_noise_amplitudes_follow_the_reconstruction_error(tiny_model):
    model, _ = tiny_model
    assert model.scales[0].noise_amp == 1.0
    for scale in model.scales[1:]:
        assert 0 < scale.noise_amp < 0.1  # 0.1 * RMSE with RMSE < 1


def test_samples_shapes_range_and_determinism(tiny_model):
    model, _ = tiny_model
    a = model.sample(3, generator=5)
    b = model.sample(3, generator=5)
    c = model.sample(3, generator=6)
    assert a.shape == (3, 3, 32, 48)
    assert a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert (a[0] - a[1]).abs().mean() > 1e-3  # samples differ from each other


def test_batch_members_with_identical_noise_are_identical(tiny_model):
    # eval-mode BatchNorm uses running statistics, so a sample does not depend on its batch-mates
    model, _ = tiny_model
    x = torch.zeros(2, 3, *model.sizes[0])
    z = [model.noise_like(i, 1, model.sizes[i]).expand(2, -1, -1, -1) for i in range(3)]
    out = model.run_scales(x, 0, noise=z)
    assert torch.allclose(out[0], out[1], atol=1e-6)
    alone = model.run_scales(x[:1], 0, noise=[t[:1] for t in z])
    assert torch.allclose(out[:1], alone, atol=1e-5)


def test_start_scale_and_arbitrary_size(tiny_model):
    model, _ = tiny_model
    s = model.sample(2, start_scale=1, scale_h=2.0, scale_v=1.0, generator=7)
    assert s.shape == (2, 3, 32, 96)
    fine = model.sample(4, start_scale=2, generator=0)
    coarse = model.sample(4, start_scale=0, generator=0)
    # starting finer keeps the layout: less variation across samples
    assert fine.std(dim=0).mean() < coarse.std(dim=0).mean()
    with pytest.raises(ValueError, match="start_scale"):
        model.sample(1, start_scale=3)


def test_save_load_gives_identical_samples(tiny_model, tmp_path):
    model, out = tiny_model
    loaded = sinkit.load(out, device="cpu")
    assert torch.equal(model.sample(2, generator=11), loaded.sample(2, generator=11))
    meta = json.loads((out / "config.json").read_text())
    assert meta["method"] == "singan" and len(meta["scales"]) == 3
    assert meta["scales"][0]["noise_amp"] == 1.0 and meta["config"]["iters"] == 40
    for i in range(3):
        assert (out / "scales" / f"{i:02d}" / "reconstruction.png").exists()


def test_resumed_run_equals_uninterrupted(tiny_image, tiny_config, tiny_model, tmp_path):
    full, _ = tiny_model
    sinkit.SinGAN.train(tiny_image, tiny_config, out_dir=tmp_path, device="cpu", progress=False, stop_after=1)
    assert sinkit.load(tmp_path).num_scales == 1  # "interrupted" after the first scale
    resumed = sinkit.SinGAN.train(tiny_image, tiny_config, out_dir=tmp_path, device="cpu", progress=False, resume=True)
    assert resumed.num_scales == 3
    for a, b in zip(full.state_dict().items(), resumed.state_dict().items()):
        assert a[0] == b[0] and torch.equal(a[1], b[1]), a[0]
    assert torch.equal(full.sample(2, generator=0), resumed.sample(2, generator=0))


def test_resume_refuses_other_config_or_image(tiny_image, tiny_config, tiny_model):
    _, out = tiny_model
    with pytest.raises(ValueError, match="config differs"):
        sinkit.SinGAN.train(tiny_image, replace(tiny_config, alpha=5.0), out_dir=out, device="cpu", progress=False, resume=True)
    with pytest.raises(ValueError, match="different image"):
        sinkit.SinGAN.train(-tiny_image, tiny_config, out_dir=out, device="cpu", progress=False, resume=True)


def test_corrupt_and_missing_checkpoints_give_clear_errors(tiny_model, tmp_path):
    _, out = tiny_model
    with pytest.raises(FileNotFoundError, match="checkpoint directory not found"):
        sinkit.load(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        sinkit.load(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.safetensors").write_bytes((out / "model.safetensors").read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="corrupt"):
        sinkit.load(bad)
    (bad / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError):
        sinkit.load(bad)


def test_mismatched_checkpoint_is_an_error(tiny_model, tmp_path):
    model, _ = tiny_model
    tensors = dict(model.state_dict())
    tensors["scales.1.generator.head.0.weight"] = torch.zeros(64, 3, 3, 3)
    sinkit.core.checkpoint.save_checkpoint(tmp_path, tensors, model.metadata())
    with pytest.raises(CheckpointError, match=r"do not match its metadata: mis-shaped tensors scales\.1\.generator\.head\.0\.weight"):
        sinkit.load(tmp_path)
    # metadata saying 2 scales while the file holds 3 scales of tensors: named, not silently half-loaded
    meta = model.metadata()
    meta["scales"] = meta["scales"][:2]
    sinkit.core.checkpoint.save_checkpoint(tmp_path, dict(model.state_dict()), meta)
    with pytest.raises(CheckpointError, match=r"unexpected tensors scales\.2\."):
        sinkit.load(tmp_path)
    # a missing tensor is named too
    tensors = dict(model.state_dict())
    del tensors["real"]
    sinkit.core.checkpoint.save_checkpoint(tmp_path, tensors, model.metadata())
    with pytest.raises(CheckpointError, match="lacks its training input 'image' \\(tensor 'real'\\)"):
        sinkit.load(tmp_path)


def test_bf16_autocast_trains_and_samples(tiny_image, tiny_config):
    cfg = replace(tiny_config, bf16=True, iters=5)
    model = sinkit.SinGAN.train(tiny_image, cfg, device="cpu", progress=False, stop_after=2)
    s = model.sample(2, generator=0)
    assert s.dtype == torch.float32 and torch.isfinite(s).all()


def test_weights_are_inherited_when_widths_match(tiny_image, tiny_config):
    cfg = replace(tiny_config, iters=1)
    model = sinkit.SinGAN.train(tiny_image, cfg, device="cpu", progress=False, stop_after=2)
    w0 = model.scales[0].generator.head[0].weight
    w1 = model.scales[1].generator.head[0].weight
    # one Adam step from the same start: close but not equal (fresh init would differ by ~0.02)
    assert (w0 - w1).abs().max() < 5e-3 and not torch.equal(w0, w1)


def test_windowed_generation_equals_the_crop_of_the_whole_output(tiny_model):
    # crop training (SinGANConfig.crop_size) relies on this: in eval mode a window sees the
    # same input pixels as on the whole image, so it is the same crop of the output
    model, _ = tiny_model
    scale = model.scales[-1]
    h, w = scale.size
    gen = torch.Generator().manual_seed(1)
    x_up = torch.rand(1, 3, h, w, generator=gen) * 2 - 1
    z = torch.randn(1, 3, h, w, generator=gen)
    with torch.no_grad():
        whole = scale.generate(x_up, z)
        part = scale.generate(x_up, z, window=(3, 7, 20, 24))
    assert part.shape == (1, 3, 20, 24)
    torch.testing.assert_close(part, whole[:, :, 3:23, 7:31], atol=1e-5, rtol=0)


def test_crop_training_trains_on_windows_and_samples_whole_images(tiny_image, tiny_config):
    from sinkit.singan.trainer import ScaleTrainer

    cfg = replace(tiny_config, iters=30, crop_size=24)  # scales 25x38, 29x43, 32x48: all cropped
    model = sinkit.SinGAN.train(tiny_image, cfg, device="cpu", progress=False)
    assert [s.size for s in model.scales] == [(25, 38), (29, 43), (32, 48)]
    for loss in model.info["losses"]:
        assert loss["rec_last"] < loss["rec_first"]  # the crops' reconstruction loss falls
    a = model.sample(3, generator=5)
    assert a.shape == (3, 3, 32, 48) and a.min() >= -1 and a.max() <= 1
    again = sinkit.SinGAN.train(tiny_image, cfg, device="cpu", progress=False)
    torch.testing.assert_close(again.sample(3, generator=5), a, atol=0, rtol=0)  # seeded windows
    trainer = ScaleTrainer(model, 2)  # a fresh trainer for the finest scale: its windows
    assert trainer.crop == (24, 24)
    rows, cols = torch.zeros(32), torch.zeros(48)
    for _ in range(2000):
        top, left, ch, cw = trainer._window()
        assert (ch, cw) == (24, 24) and 0 <= top <= 32 - 24 and 0 <= left <= 48 - 24
        rows[top : top + ch] += 1
        cols[left : left + cw] += 1
    # the edges (where the generator sees its zero padding) are in c / (n + c - 1) of the windows,
    # not the 1 / (n - c + 1) of a uniform corner (0.44 and 0.34 here, not 0.11 and 0.04)
    for counts, n in ((rows, 32), (cols, 48)):
        assert abs(counts[0] / 2000 - 24 / (n + 23)) < 0.05 and abs(counts[-1] / 2000 - 24 / (n + 23)) < 0.05


def test_norm_none_trains_the_function_it_samples_with(tiny_image, tiny_config, tmp_path):
    # norm="none" (ConSinGAN's networks): no batch normalisation, so a crop-trained generator computes
    # in training mode exactly what it computes when sampling, and a saved model rebuilds without it
    cfg = replace(tiny_config, iters=30, crop_size=24, norm="none")
    model = sinkit.SinGAN.train(tiny_image, cfg, out_dir=tmp_path / "run", device="cpu", progress=False)
    losses = model.info["losses"]
    # the fresh coarsest scale learns; the finer ones start from the previous scale's weights
    # and stay near its loss in 30 iterations (a window's loss varies with the window)
    assert all(loss["rec_last"] < 0.5 * losses[0]["rec_first"] for loss in losses)
    scale = model.scales[-1]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in [*scale.generator.modules(), *scale.discriminator.modules()])
    x_up = torch.rand(1, 3, *scale.size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    z = torch.randn(1, 3, *scale.size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        sampled = scale.generate(x_up, z, window=(3, 7, 24, 24))
        scale.generator.train()
        trained = scale.generate(x_up, z, window=(3, 7, 24, 24))
        scale.generator.eval()
    torch.testing.assert_close(trained, sampled, atol=0, rtol=0)
    loaded = sinkit.load(tmp_path / "run", device="cpu")
    assert loaded.config.norm == "none"
    torch.testing.assert_close(loaded.sample(2, generator=4), model.sample(2, generator=4), atol=0, rtol=0)
    with pytest.raises(ValueError, match="norm must be 'batch', 'none', 'uncropped' or 'coarsest', got 'instance'"):
        replace(cfg, norm="instance")


@pytest.mark.parametrize(
    ("norm", "crop_size", "expected"),
    [("uncropped", 40, [True, False, False]), ("coarsest", 0, [True, False, False]), ("batch", 40, [True, True, True])],
)
def test_norm_keeps_batch_norm_only_at_its_scales(tiny_image, tiny_config, tmp_path, norm, crop_size, expected):
    # uncropped: 25x38 whole; 29x43, 32x48 on 29x40, 32x40 crops.  coarsest: scale 0 only, whole-image training
    cfg = replace(tiny_config, iters=20, crop_size=crop_size, norm=norm)
    model = sinkit.SinGAN.train(tiny_image, cfg, out_dir=tmp_path / "run", device="cpu", progress=False)
    has_bn = [any(isinstance(m, torch.nn.BatchNorm2d) for m in s.generator.modules()) for s in model.scales]
    critic_bn = [any(isinstance(m, torch.nn.BatchNorm2d) for m in s.discriminator.modules()) for s in model.scales]
    assert has_bn == expected and critic_bn == expected
    loaded = sinkit.load(tmp_path / "run", device="cpu")  # rebuilds each scale's layout from config and size
    torch.testing.assert_close(loaded.sample(2, generator=4), model.sample(2, generator=4), atol=0, rtol=0)


@pytest.mark.parametrize("noise_padding", [False, True])
def test_windowed_coarser_draw_equals_the_whole_image_draw(tiny_image, tiny_config, noise_padding):
    # ScaleTrainer._coarser_in_window computes the coarser scales only where the training window
    # reads them: same values as the whole-image draw there, same random stream consumed
    from sinkit.singan.trainer import ScaleTrainer

    image = sinkit.resize(tiny_image, (72, 108))
    cfg = replace(tiny_config, max_size=108, iters=2, d_steps=2, crop_size=22, noise_padding=noise_padding)
    model = sinkit.SinGAN.train(image, cfg, device="cpu", progress=False)
    last = model.num_scales - 1
    assert model.num_scales >= 4 and model.sizes[last] == (72, 108)
    with torch.no_grad():  # push the residuals past +1 somewhere: the draw's clips must be where run_scales has them
        for scale in model.scales:
            scale.generator.tail[0].bias += 0.3
    trainer = ScaleTrainer(model, last)
    reach = trainer.scale.generator_padding
    for seed in range(3):
        trainer.gen.manual_seed(seed)
        whole = trainer._draw_coarser()
        after = trainer.gen.get_state()
        trainer.gen.manual_seed(seed)
        noise = trainer._coarser_noise()
        assert torch.equal(trainer.gen.get_state(), after)
        for window in [(0, 0, 22, 22), (40, 61, 22, 22), (50, 86, 22, 22)]:  # corner, middle, far corner
            j = sum(window) % 2  # either image of the d_steps = 2
            part = trainer._coarser_in_window(noise, j, window)
            top, left, h, w = window
            r0, c0 = max(0, top - reach), max(0, left - reach)
            r1, c1 = top + h + reach, left + w + reach
            torch.testing.assert_close(part[..., r0:r1, c0:c1], whole[j : j + 1, :, r0:r1, c0:c1], atol=1e-5, rtol=0)
            outside = torch.ones(72, 108, dtype=torch.bool)
            outside[r0:r1, c0:c1] = False
            assert part[..., outside].abs().max() == 0 and whole[j][:, outside].abs().max() > 0  # not computed there
            # and the generator's window output is the same
            z = torch.randn(1, 3, 72 + 2 * reach * noise_padding, 108 + 2 * reach * noise_padding)
            with torch.no_grad():
                a = trainer.scale.generate(part, z, noise_padding=noise_padding, window=window)
                b = trainer.scale.generate(whole[j : j + 1], z, noise_padding=noise_padding, window=window)
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_windowed_coarser_draw_trains_what_the_whole_image_draw_trains(tiny_image, tiny_config):
    # one training iteration at a crop-trained scale, from the same state, with the coarser scales
    # drawn in the window and on the whole image: the same losses and gradients (float rounding).
    # (Whole runs drift apart: Adam's first step is lr * sign(gradient), and a gradient of ~1e-9
    # can change sign with rounding.)
    from sinkit.singan.trainer import ScaleTrainer

    image = sinkit.resize(tiny_image, (72, 108))
    cfg = replace(tiny_config, max_size=108, iters=3, crop_size=22)
    model = sinkit.SinGAN.train(image, cfg, device="cpu", progress=False)
    last = model.num_scales - 1
    pays = [ScaleTrainer(model, k).window_pays for k in range(model.num_scales)]
    assert pays[0] is False and pays[last] is True  # the finest scales draw in the window
    runs = []
    for windowed in (True, False):
        trainer = ScaleTrainer(model, last)
        trainer.window_coarser = windowed
        losses = trainer.step()
        runs.append((losses, [p.grad.clone() for p in trainer.scale.generator.parameters()]))
    (losses_a, grads_a), (losses_b, grads_b) = runs
    torch.testing.assert_close(losses_a, losses_b, atol=1e-5, rtol=1e-4)
    for ga, gb in zip(grads_a, grads_b):
        torch.testing.assert_close(ga, gb, atol=1e-5, rtol=1e-3)


def test_concurrent_training_trains_the_coarser_whole_image_scales(tiny_image, tiny_config):
    # train_depth (ConSinGAN's concurrent training): scale n also trains G_{n-1}, ..., through its own
    # losses, at lr * lr_scale ** age; the critics and the older generators stay as they were
    from sinkit.singan.trainer import ScaleTrainer

    alone = sinkit.SinGAN.train(tiny_image, tiny_config, device="cpu", progress=False)
    cfg = replace(tiny_config, train_depth=2)
    together = sinkit.SinGAN.train(tiny_image, cfg, device="cpu", progress=False)
    after_one = sinkit.SinGAN.train(tiny_image, cfg, device="cpu", progress=False, stop_after=1)
    # scale 0 trains alone in both; scales 1 and 2 then moved G_0 and G_1 (not G_0 again at scale 2)
    assert all(torch.equal(a, b) for a, b in zip(alone.scales[0].state_dict().values(), after_one.scales[0].state_dict().values()))
    g0_before, g0_after = after_one.scales[0].generator.state_dict(), together.scales[0].generator.state_dict()
    moved = max((g0_before[k].float() - g0_after[k].float()).abs().max().item() for k in g0_before)
    assert 0 < moved < 5e-3  # 40 Adam steps at lr 5e-5: small, not zero
    assert all(torch.equal(a, b) for a, b in zip(alone.scales[0].discriminator.state_dict().values(),
                                                  together.scales[0].discriminator.state_dict().values()))
    assert all(p.requires_grad for p in together.parameters())  # the freezing is undone
    for loss in together.info["losses"]:
        assert loss["rec_last"] < loss["rec_first"]
    samples = together.sample(2, generator=0)
    assert samples.shape == (2, 3, 32, 48) and samples.min() >= -1 and samples.max() <= 1

    trainer = ScaleTrainer(replace_model_config(together, train_depth=3), 2)
    assert trainer.concurrent == [0, 1]
    assert [g["lr"] for g in trainer.opt_g.param_groups] == pytest.approx([5e-4, 5e-5, 5e-6])
    assert [any(p.requires_grad for p in s.generator.parameters()) for s in together.scales[:2]] == [True, True]
    # the coarser images it differentiates through are the ones the critic steps drew, and the
    # reconstruction path's input is the fixed one computed at the start of the scale
    noise = trainer._coarser_noise()
    x_up, x_up_rec = trainer._coarser_with_grad(noise)
    assert x_up.requires_grad
    torch.testing.assert_close(x_up.detach(), trainer._draw_coarser(noise)[-1:], atol=1e-5, rtol=0)
    torch.testing.assert_close(x_up_rec.detach(), trainer.x_up_rec, atol=1e-5, rtol=0)
    trainer.finish()

    cropped = ScaleTrainer(replace_model_config(together, train_depth=3, crop_size=28), 2)  # 32x48: cropped
    assert cropped.concurrent == [] and len(cropped.opt_g.param_groups) == 1


def replace_model_config(model, **changes):
    """The model with a changed config (its trained scales kept), to build trainers for other settings."""
    model.config = replace(model.config, **changes)
    return model


def test_concurrent_training_resumes_like_an_uninterrupted_run(tiny_image, tiny_config, tmp_path):
    # the coarser scales a scale trains are saved with it, so a resumed run continues from them
    cfg = replace(tiny_config, train_depth=3, iters=15)
    full = sinkit.SinGAN.train(tiny_image, cfg, device="cpu", progress=False)
    sinkit.SinGAN.train(tiny_image, cfg, out_dir=tmp_path, device="cpu", progress=False, stop_after=2)
    resumed = sinkit.SinGAN.train(tiny_image, cfg, out_dir=tmp_path, device="cpu", progress=False, resume=True)
    for a, b in zip(full.state_dict().items(), resumed.state_dict().items()):
        assert a[0] == b[0] and torch.equal(a[1], b[1]), a[0]


@pytest.mark.parametrize(("change", "message"), [
    ({"train_depth": 0}, "train_depth must be >= 1, got 0"),
    ({"lr_scale": 0.0}, r"lr_scale must be in \(0, 1\], got 0.0"),
    ({"lr_scale": 1.5}, r"lr_scale must be in \(0, 1\], got 1.5"),
])
def test_concurrent_training_options_are_checked(tiny_config, change, message):
    with pytest.raises(ValueError, match=message):
        replace(tiny_config, **change)
