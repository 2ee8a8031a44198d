import numpy as np
import pytest
import torch
from PIL import Image

from sinkit.core.io import ImageReadError, load_image, load_mask, save_grid, save_image


def write(tmp_path, name, img, **kw):
    path = tmp_path / name
    img.save(path, **kw)
    return path


def test_rgb_round_trip_is_8_bit_png(tmp_path):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    x = load_image(write(tmp_path, "a.png", Image.fromarray(arr)))
    assert x.shape == (1, 3, 20, 30) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    out = save_image(x, tmp_path / "b.png")
    back = Image.open(out)
    assert back.mode == "RGB" and np.array_equal(np.asarray(back), arr)


def test_grayscale_and_palette_become_rgb(tmp_path):
    gray = Image.fromarray(np.full((10, 12), 255, dtype=np.uint8), mode="L")
    x = load_image(write(tmp_path, "g.png", gray))
    assert x.shape == (1, 3, 10, 12) and torch.allclose(x, torch.ones_like(x))
    pal = Image.new("RGB", (8, 8), (255, 0, 0)).convert("P", palette=Image.Palette.ADAPTIVE)
    y = load_image(write(tmp_path, "p.png", pal))
    assert y[0, 0].mean() > 0.99 and y[0, 1].mean() < -0.99


def test_rgba_is_composited_over_white(tmp_path):
    arr = np.zeros((4, 4, 4), dtype=np.uint8)
    arr[..., 0] = 255  # red
    arr[:2, :, 3] = 255  # top half opaque, bottom half transparent
    x = load_image(write(tmp_path, "rgba.png", Image.fromarray(arr, mode="RGBA")))
    assert torch.allclose(x[0, :, 0, 0], torch.tensor([1.0, -1.0, -1.0]))
    assert torch.allclose(x[0, :, 3, 0], torch.tensor([1.0, 1.0, 1.0]))


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    arr = np.array([[0, 32768, 65535]], dtype=np.uint16)
    img = Image.fromarray(arr)
    path = write(tmp_path, "16.png", img)
    assert Image.open(path).mode.startswith("I")
    x = load_image(path)
    assert x[0, 0, 0].tolist() == pytest.approx([-1.0, 0.0, 1.0], abs=1e-3)


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((10, 20, 3), dtype=np.uint8)
    arr[:, :10] = 255  # left half white
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    path = tmp_path / "rot.jpg"
    img.save(path, exif=exif.tobytes(), quality=100)
    x = load_image(path)
    assert x.shape == (1, 3, 20, 10)
    assert x[0, :, :5].mean() > 0.9  # after rotating clockwise, the white half is on top


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        load_image(tmp_path / "nope.png")


def test_not_an_image_names_the_path(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not an image")
    with pytest.raises(ImageReadError, match="notes.png"):
        load_image(path)
    with pytest.raises(ImageReadError, match="directory"):
        load_image(tmp_path)


def test_truncated_file_is_an_error(tmp_path):
    full = write(tmp_path, "full.png", Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)))
    cut = tmp_path / "cut.png"
    cut.write_bytes(full.read_bytes()[:200])
    with pytest.raises(ImageReadError, match="cut.png"):
        load_image(cut)


def test_mask_from_rgb_and_rgba(tmp_path):
    arr = np.zeros((6, 6, 3), dtype=np.uint8)
    arr[2:4, 2:4] = 255
    m = load_mask(write(tmp_path, "m.png", Image.fromarray(arr)))
    assert m.shape == (1, 1, 6, 6) and m.sum() == 4 and m.max() == 1
    rgba = np.zeros((6, 6, 4), dtype=np.uint8)
    rgba[2:4, 2:4, 3] = 255  # black paint, shape in alpha
    m2 = load_mask(write(tmp_path, "m2.png", Image.fromarray(rgba, mode="RGBA")))
    assert torch.equal(m, m2)


def test_save_grid(tmp_path):
    imgs = torch.rand(5, 3, 10, 14) * 2 - 1
    path = save_grid(imgs, tmp_path / "sheet.png", ncol=3, labels=list("abcde"))
    w, h = Image.open(path).size
    assert w == 3 * (14 + 4) + 4 and h == 2 * (10 + 14 + 4) + 4
    with pytest.raises(ValueError):
        save_grid(imgs, tmp_path / "x.png", labels=["a"])
