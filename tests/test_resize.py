import pytest
import torch

from sinkit.core.resize import resize


def checkerboard(n=64):
    y, x = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    return (((x + y) % 2) * 2 - 1).float().expand(1, 3, n, n).clone()


def test_downscaling_is_antialiased():
    # A 1-px checkerboard has no content below Nyquist: a proper low-pass gives flat grey.
    board = checkerboard()
    # non-integer ratio: plain bicubic samples the board at varying phases and aliases
    smooth = resize(board, (19, 19))
    aliased = resize(board, (19, 19), antialias=False)
    assert smooth.abs().max() < 0.05
    assert aliased.std() > 5 * smooth.std()


def test_shapes_dtype_device_and_identity():
    x = torch.rand(2, 3, 40, 30) * 2 - 1
    assert resize(x, (20, 15)).shape == (2, 3, 20, 15)
    assert resize(x, scale=0.5).shape == (2, 3, 20, 15)
    assert resize(x, scale=0.777).shape == (2, 3, 32, 24)  # ceil, as MATLAB imresize
    assert resize(x, (40, 30)) is x
    assert resize(x.to(torch.bfloat16), (20, 15)).dtype == torch.bfloat16


def test_output_is_clamped_and_constant_preserved():
    x = torch.full((1, 3, 50, 50), 0.3)
    assert torch.allclose(resize(x, (17, 23)), x[:, :, :17, :23], atol=1e-5)
    step = torch.cat([torch.full((1, 3, 20, 10), -1.0), torch.full((1, 3, 20, 10), 1.0)], dim=3)
    up = resize(step, (60, 60))
    assert up.min() >= -1 and up.max() <= 1


def test_bad_arguments():
    x = torch.zeros(1, 3, 8, 8)
    with pytest.raises(ValueError, match="B, C, H, W"):
        resize(torch.zeros(3, 8, 8), (4, 4))
    with pytest.raises(ValueError, match="exactly one"):
        resize(x)
    with pytest.raises(ValueError, match="exactly one"):
        resize(x, (4, 4), scale=0.5)


@pytest.mark.parametrize("n_in, n_out", [(151, 188), (25, 32), (188, 151), (7, 9), (40, 40)])
def test_resize_matrix_is_resize_along_one_axis(n_in, n_out):
    from sinkit.core.resize import resize_matrix

    x = torch.randn(2, 3, n_in, 11, generator=torch.Generator().manual_seed(0))
    m_rows, m_cols = resize_matrix(n_in, n_out), resize_matrix(11, 14)
    assert m_rows.shape == (n_out, n_in)
    torch.testing.assert_close(m_rows @ x @ m_cols.T, resize(x, (n_out, 14), clamp=False), atol=2e-6, rtol=0)
    # bicubic: an upsampled row reads at most 4 input rows (5 when shrinking by < 4/3 with antialiasing)
    assert (m_rows != 0).sum(1).max() <= (4 if n_out >= n_in else 5)
    with pytest.raises(ValueError, match="lengths must be positive"):
        resize_matrix(0, 4)
