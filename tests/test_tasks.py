"""Manipulation tasks (sinkit.tasks): injection, masks, SR sizes, animation, CLI errors.

Models are tiny (32x40 px, 2 iterations per scale): the tests check the
mechanics (which path an injected image takes, sizes, counts, errors), not
image quality; evidence on real images is in docs/tasks.md.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import pytest
import torch
from click.testing import CliRunner

import sinkit
from sinkit.core.errors import CapabilityError
from sinkit.core.pyramid import PyramidSpec
from sinkit.core.pyramid_model import PyramidModel
from sinkit.core.resize import resize
from sinkit.tasks import (
    InputAdjustedWarning,
    animate,
    edit,
    harmonize,
    inject,
    injection_sweep,
    paint_to_image,
    prepare_mask,
    quantize_paint,
    save_animation,
    sr_steps,
    upscale,
)
from sinkit.tasks import animation as animation_mod
from sinkit.tasks.masks import binarize_mask, disk

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    img = resize(sinkit.load_image(sinkit.__path__[0] + "/data/rocket.jpg"), (32, 40))
    cfg = replace(sinkit.SinGAN.presets["fast"], max_size=40, min_size=16, iters=2)
    out = tmp_path_factory.mktemp("tiny")
    sinkit.SinGAN.train(img, cfg, out_dir=out, progress=False, device="cpu")
    return out


@pytest.fixture(scope="module")
def model(model_dir):
    return sinkit.load(model_dir, device="cpu")


class NoiseFree(PyramidModel):
    """SinIR-like stub: no noise, every scale injectable, G(x) = 0.5 x; records the sizes it was run at."""

    method = "noisefree-test"
    mask_dilation = {"edit": 7, "harmonize": 7}

    def __init__(self, sizes, factor):
        real = torch.rand(1, 3, *sizes[-1]) * 2 - 1
        super().__init__(None, {"image": real}, PyramidSpec(tuple(sizes), factor))
        self.seen: list[tuple[int, int]] = []

    @property
    def num_scales(self):
        return self.spec.num_scales

    def forward_scale(self, index, x_up, *, noise="random", generator=None):
        self.seen.append(tuple(x_up.shape[-2:]))
        return 0.5 * x_up

    def reconstruct(self, stop=None):
        return self.run_scales(self.pyramid[0], 0, stop=stop, return_all=True)

    def sample(self, num=1, *, size=None, generator=None, **options):
        raise NotImplementedError


# --------------------------------------------------------------------------- injection
def test_injecting_the_reconstruction_follows_the_reconstruction_path_exactly(model):
    rec = model.reconstruct()
    for n in model.valid_injection_scales():
        x_up = model.injection_input(rec[n - 1], n)  # the image at scale n-1: only the upsampling remains
        out = model.run_scales(x_up, n, noise="zero")
        assert torch.allclose(out, rec[-1], atol=1e-5), f"scale {n}: max diff {(out - rec[-1]).abs().max():.2e}"


def test_inject_real_with_zero_noise_is_the_reconstruction_path_fed_the_real_image(model):
    # The only difference from reconstruct() is the injected x_up, so the output gap is bounded by the
    # generators' response to the input gap; at the finest scale G_N(x) = x + psi(x) and the tolerance is
    # the input gap plus the residual's change.
    rec = model.reconstruct()
    for n in model.valid_injection_scales():
        out = inject(model, model.real, n, noise="zero")
        same = model.run_scales(model.injection_input(model.real, n), n, noise="zero")
        assert torch.equal(out, same)
        gap_in = (model.injection_input(model.real, n) - resize(rec[n - 1], model.sizes[n])).abs().mean()
        gap_out = (out - rec[-1]).abs().mean()
        assert gap_out <= 3 * gap_in + 0.05, f"scale {n}: output gap {gap_out:.3f}, input gap {gap_in:.3f}"


def test_random_noise_changes_output_and_seed_reproduces_it(model):
    a = inject(model, model.real, 1, generator=0)
    b = inject(model, model.real, 1, generator=0)
    c = inject(model, model.real, 1, generator=1)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert a.shape == (1, 3, *model.sizes[-1])
    assert inject(model, model.real, 2, num=3, generator=0).shape == (3, 3, *model.sizes[-1])


def test_scale_outside_valid_range_lists_the_range(model):
    last = model.num_scales - 1
    for bad in (0, model.num_scales, -1):
        with pytest.raises(ValueError, match=rf"valid range 1\.\.{last}"):
            inject(model, model.real, bad)


def test_input_of_another_size_is_resized_with_a_warning(model):
    wide = resize(model.real, (20, 60))
    with pytest.warns(InputAdjustedWarning, match="stretched"):
        out = inject(model, wide, 2, generator=0)
    assert out.shape[-2:] == model.real.shape[-2:]
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputAdjustedWarning)
        kept = inject(model, wide, 2, generator=0, keep_shape=True)
    assert kept.shape[-2] == model.sizes[-1][0] and kept.shape[-1] > model.sizes[-1][1] * 1.5


def test_sweep_runs_every_valid_scale_with_the_same_seed(model):
    results = injection_sweep(model, model.real, seed=3)
    assert list(results) == list(model.valid_injection_scales())
    assert torch.equal(results[2], inject(model, model.real, 2, generator=3))


def test_tasks_work_on_a_noise_free_model_with_scale_zero():
    stub = NoiseFree([(8, 10), (16, 20), (32, 40)], 0.5)
    out = inject(stub, stub.real, 0)
    assert stub.seen == [(8, 10), (16, 20), (32, 40)]  # every scale ran once, at its own size
    # G(x) = x / 2 at 3 scales from an 8x10 resize of the image: 1/8 of the upsampled image
    expected = 0.125 * resize(resize(resize(stub.real, (8, 10)), (16, 20)), (32, 40))
    assert torch.allclose(out, expected, atol=1e-6)
    res = edit(stub, stub.real, 0, mask=torch.ones(1, 1, 32, 40), invert_mask=False)
    assert torch.allclose(res.blended, res.raw)
    with pytest.raises(CapabilityError, match="noisefree-test models cannot animate"):
        animate(stub, frames=2)


# --------------------------------------------------------------------------- masks
def _square_mask(h=32, w=40):
    m = torch.zeros(1, 1, h, w)
    m[..., 10:20, 12:24] = 1
    return m


def test_disk_matches_skimage():
    from skimage.morphology import disk as sk_disk  # the official code's structuring element (dev extra)

    for r in (0, 1, 7, 20):
        assert torch.equal(disk(r), torch.from_numpy(sk_disk(r)).float())


def test_prepare_mask_dilates_blurs_and_rescales():
    m = prepare_mask(_square_mask(), (32, 40), dilation_radius=3, blur_sigma=1.0)
    assert m.shape == (1, 1, 32, 40)
    assert m.max() == 1 and m.min() == 0
    assert m[..., 15, 18] == pytest.approx(1.0, abs=1e-3)  # inside stays selected
    assert m[..., 15, 9] > 0.3  # 3 px outside the square: dilated
    assert m[..., 15, 1] < 0.01  # far outside: not selected


def test_rgb_and_rgba_mask_files(tmp_path):
    import numpy as np
    from PIL import Image

    arr = np.zeros((32, 40, 3), np.uint8)
    arr[10:20, 12:24] = 255
    Image.fromarray(arr).save(tmp_path / "rgb.png")
    rgba = np.zeros((32, 40, 4), np.uint8)
    rgba[..., 3] = 0
    rgba[10:20, 12:24, 3] = 255  # black RGB, shape in alpha
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    want = binarize_mask(_square_mask())
    for name in ("rgb.png", "rgba.png"):
        got = binarize_mask(sinkit.load_mask(tmp_path / name))
        assert torch.equal(got, want), name
    # a 3-channel tensor is accepted too
    assert torch.equal(
        prepare_mask(_square_mask().expand(1, 3, -1, -1), (32, 40), dilation_radius=0, blur_sigma=0), want
    )


def test_soft_mask_is_thresholded_with_a_note():
    soft = _square_mask() * 0.7
    soft[..., 0:5, :] = 0.3  # a faint band that must not be selected
    with pytest.warns(InputAdjustedWarning, match="soft"):
        m = prepare_mask(soft, (32, 40), dilation_radius=0, blur_sigma=0)
    assert torch.equal(m, _square_mask())


def test_empty_and_faint_masks_are_errors():
    with pytest.raises(ValueError, match="empty"):
        prepare_mask(torch.zeros(1, 1, 32, 40), (32, 40), dilation_radius=20)
    with pytest.raises(ValueError, match="brightest pixel is 0.20"):
        prepare_mask(_square_mask() * 0.2, (32, 40), dilation_radius=20)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        prepare_mask(torch.zeros(32, 40), (32, 40), dilation_radius=20)


def test_wrong_size_mask_is_resized_with_a_note():
    big = resize(_square_mask(), (64, 80), clamp=False)
    with pytest.warns(InputAdjustedWarning, match="resized"):
        m = prepare_mask(big, (32, 40), dilation_radius=0, blur_sigma=0)
    assert torch.equal(m, _square_mask())


def test_inverted_mask_is_detected_from_the_edit():
    reference = torch.zeros(1, 3, 32, 40)
    edited = reference.clone()
    edited[..., 10:20, 12:24] = 0.8  # the pasted region
    inverted = 1 - _square_mask()
    with pytest.warns(InputAdjustedWarning, match="inverted"):
        m = prepare_mask(inverted, (32, 40), dilation_radius=0, blur_sigma=0, image=edited, reference=reference)
    assert torch.equal(m, _square_mask())
    with warnings.catch_warnings():  # a correct mask is left alone
        warnings.simplefilter("error", InputAdjustedWarning)
        m = prepare_mask(_square_mask(), (32, 40), dilation_radius=0, blur_sigma=0, image=edited, reference=reference)
    assert torch.equal(m, _square_mask())
    forced = prepare_mask(inverted, (32, 40), dilation_radius=0, blur_sigma=0, invert=False, image=edited, reference=reference)
    assert torch.equal(forced, inverted)


def test_edit_blends_only_inside_the_mask(model):
    mask = torch.zeros(1, 1, 32, 40)
    mask[..., 2:8, 2:8] = 1
    res = edit(model, model.real, 2, mask=mask, dilation_radius=2, blur_sigma=1.0, invert_mask=False, generator=0)
    assert res.blended.shape == res.raw.shape == model.real.shape
    far = res.mask < 1e-6
    assert far.any()
    assert torch.allclose(res.blended.masked_select(far.expand_as(res.blended)), model.real.masked_select(far.expand_as(model.real)))
    inside = res.mask > 1 - 1e-6
    assert torch.allclose(res.blended.masked_select(inside.expand_as(res.raw)), res.raw.masked_select(inside.expand_as(res.raw)))
    h = harmonize(model, model.real, 2, mask=mask, invert_mask=False, generator=0)
    assert (h.mask > 0.5).sum() < (edit(model, model.real, 2, mask=mask, invert_mask=False, generator=0).mask > 0.5).sum()


# --------------------------------------------------------------------------- paint
def test_quantized_paint_has_k_colours_from_the_training_image(model):
    paint = torch.zeros(1, 3, 32, 40) - 1
    paint[..., :, 20:] = 1
    paint = resize(resize(paint, (8, 10)), (32, 40))  # anti-aliased edge: many intermediate colours
    q = quantize_paint(model, paint, 2, k=3)
    colours = torch.unique(q[0].reshape(3, -1).T, dim=0)
    assert len(colours) <= 3
    out = paint_to_image(model, paint, 2, quantize=True, k=3, generator=0)
    assert out.shape == model.real.shape


# --------------------------------------------------------------------------- super-resolution
def test_sr_config_and_pyramid_follow_the_official_sr_setting():
    cfg = sinkit.SinGAN.sr_config("fast", 4)
    assert cfg.alpha == 100 and cfg.min_size == 18 and cfg.sr_factor == 4
    from sinkit.core.pyramid import sr_pyramid

    spec = sr_pyramid(80, 120, 4, max_size=128)
    assert spec.scale_factor == pytest.approx(4 ** (-1 / 6))
    assert spec.sizes[-1] == (80, 120) and min(spec.sizes[0]) >= 18
    assert spec.sizes[0] == (20, 30)  # 80 / 1.26^6 = 20: six x1.26 steps down


def test_upscale_sizes_and_passes(model):
    k, r = sr_steps(model, 4)
    assert r == pytest.approx(1 / model.spec.scale_factor)
    passes = upscale(model, factor=4, generator=0, return_all=True)
    assert len(passes) == k
    assert passes[-1].shape == (1, 3, 4 * 32, 4 * 40)
    assert all(passes[i].shape[-1] < passes[i + 1].shape[-1] for i in range(k - 1))
    odd = upscale(model, torch.zeros(1, 3, 15, 17), factor=3, generator=0)
    assert odd.shape == (1, 3, 45, 51)
    with pytest.raises(ValueError, match="> 1"):
        upscale(model, factor=1)


def test_upscale_generic_with_ratio_two_is_two_passes():
    stub = NoiseFree([(8, 10), (16, 20)], 0.5)
    assert sr_steps(stub, 4) == (2, 2.0)
    assert upscale(stub, factor=4).shape == (1, 3, 64, 80)  # real is 16x20


# --------------------------------------------------------------------------- animation
def test_animation_frame_count_and_first_frame_near_reconstruction(model):
    frames = animate(model, start_scale=0, frames=7, beta=0.9, generator=0, batch_size=3)
    assert frames.shape == (7, 3, *model.sizes[-1])
    rec = model.reconstruct()[-1]
    samples = model.sample(4, generator=0)
    first = (frames[0] - rec).abs().mean()
    random_gap = (samples - rec).abs().mean()
    assert first < 0.5 * random_gap, f"first frame {first:.3f} vs random samples {random_gap:.3f}"
    assert not torch.equal(frames[0], frames[-1])


def test_animation_coarser_scales_stay_on_the_reconstruction(model):
    frames = animate(model, start_scale=model.num_scales - 1, frames=3, alpha=1.0, generator=0)
    # alpha = 1: every frame IS the reconstruction noise
    assert torch.allclose(frames, model.reconstruct()[-1].expand_as(frames), atol=1e-5)


def test_gif_works_and_missing_mp4_writer_is_a_clear_error(tmp_path, monkeypatch):
    clip = torch.rand(3, 3, 16, 20) * 2 - 1
    gif = save_animation(clip, tmp_path / "a.gif", fps=10)
    from PIL import Image

    with Image.open(gif) as im:
        assert im.n_frames == 3
    import builtins

    real_import = builtins.__import__

    def no_ffmpeg(name, *args, **kwargs):
        if name.startswith("imageio"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ffmpeg)
    with pytest.raises(animation_mod.VideoWriterUnavailable, match=r"sinkit\[video\].*\.gif"):
        save_animation(clip, tmp_path / "a.mp4")
    assert save_animation(clip, tmp_path / "b.gif").exists()


# --------------------------------------------------------------------------- CLI
def test_cli_edit_writes_outputs_and_notes(model_dir, tmp_path):
    from sinkit.cli.main import cli

    real = sinkit.load(model_dir, device="cpu").real
    sinkit.save_image(resize(real, (64, 80)), tmp_path / "in.png")
    sinkit.save_image(_square_mask().expand(1, 3, -1, -1) * 2 - 1, tmp_path / "m.png")
    out = tmp_path / "o"
    r = CliRunner().invoke(cli, ["edit", str(model_dir), "--input", str(tmp_path / "in.png"), "--mask", str(tmp_path / "m.png"), "--scale", "N-2", "--out", str(out), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "note: input is 64x80 px" in r.output
    for name in ("raw_N-2.png", "blended_N-2.png", "comparison.png", "input.png", "mask_dilated.png"):
        assert (out / name).exists() and str((out / name).resolve()) in r.output
    r = CliRunner().invoke(cli, ["edit", str(model_dir), "--input", str(tmp_path / "in.png"), "--mask", str(tmp_path / "m.png"), "--scale", "all", "--out", str(out), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert (out / "sweep.png").exists() and (out / "blended_N-1.png").exists()


def test_cli_scale_error_lists_range(model_dir, tmp_path):
    from sinkit.cli.main import cli

    sinkit.save_image(torch.zeros(1, 3, 32, 40), tmp_path / "p.png")
    r = CliRunner().invoke(cli, ["paint", str(model_dir), "--paint", str(tmp_path / "p.png"), "--scale", "N", "--out", str(tmp_path / "o"), "--device", "cpu"])
    assert r.exit_code != 0
    assert "valid range 1..4" in r.output


def test_cli_animate_falls_back_to_gif(model_dir, tmp_path, monkeypatch):
    from sinkit.cli.main import cli

    def unavailable():
        raise animation_mod.VideoWriterUnavailable("cannot write MP4: no ffmpeg")

    monkeypatch.setattr(animation_mod, "_mp4_writer", unavailable)
    r = CliRunner().invoke(cli, ["animate", str(model_dir), "--frames", "4", "--out", str(tmp_path / "c.mp4"), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert r.output.index("writing a GIF instead") < r.output.index("frames of")  # said before generating, not after
    assert "writing a GIF instead" in r.output and (tmp_path / "c.gif").exists() and (tmp_path / "c_frames.png").exists()


def test_edit_uses_the_methods_own_official_dilation():
    class Radius0(NoiseFree):
        mask_dilation = {"edit": 0, "harmonize": 0}

    stub = Radius0([(16, 20), (32, 40)], 0.5)
    own = edit(stub, stub.real, 0, mask=_square_mask(), blur_sigma=0, invert_mask=False)
    assert torch.equal(own.mask, _square_mask())
    plain = NoiseFree([(16, 20), (32, 40)], 0.5)
    seven = harmonize(plain, plain.real, 0, mask=_square_mask(), blur_sigma=0, invert_mask=False)
    assert seven.mask.sum() > _square_mask().sum()  # the stub's own 7 px disk

    class NoRadius(NoiseFree):
        mask_dilation = {}

    with pytest.raises(ValueError, match="no official edit mask dilation"):
        edit(NoRadius([(16, 20), (32, 40)], 0.5), plain.real, 0, mask=_square_mask())


def test_cli_train_sr_then_upscale(tmp_path):
    from sinkit.cli.main import cli

    sinkit.save_image(resize(sinkit.load_image(sinkit.__path__[0] + "/data/rocket.jpg"), (24, 30)), tmp_path / "lr.png")
    run = tmp_path / "sr"
    r = CliRunner().invoke(cli, ["train", str(tmp_path / "lr.png"), "--out", str(run), "--preset", "fast", "--iters", "1", "--task", "sr", "--factor", "2", "--samples", "0", "--quiet", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    model = sinkit.load(run, device="cpu")
    assert model.config.alpha == 100 and model.config.sr_factor == 2 and model.config.min_size == 18
    assert model.spec.scale_factor == pytest.approx(2 ** (-1 / 3))  # k = 3 passes of 1.26
    r = CliRunner().invoke(cli, ["upscale", str(run), "--factor", "2", "--out", str(tmp_path / "up"), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "3 passes" in r.output
    from PIL import Image

    with Image.open(tmp_path / "up" / "result.png") as im:
        assert im.size == (60, 48)
