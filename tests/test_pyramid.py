import math

import pytest

from sinkit.core.pyramid import singan_pyramid, scaled_sizes


def test_worked_example_from_methods_md():
    spec = singan_pyramid(750, 1000)
    assert spec.image_size == (188, 250)
    assert spec.num_scales == 9  # indices 0..8
    assert spec.scale_factor == pytest.approx((25 / 188) ** (1 / 8))
    assert spec.scale_factor == pytest.approx(0.777, abs=1e-3)
    assert spec.sizes[0] == (25, 34)


def test_levels_are_monotonic_and_within_bounds():
    for h, w in [(750, 1000), (167, 250), (1000, 750), (480, 640), (250, 250)]:
        spec = singan_pyramid(h, w)
        assert min(spec.sizes[0]) == 25
        assert max(spec.sizes[-1]) == min(250, max(h, w))
        for (h0, w0), (h1, w1) in zip(spec.sizes, spec.sizes[1:]):
            assert h0 <= h1 and w0 <= w1
            # consecutive levels differ by about the factor (ceil rounding: +1 px)
            assert h1 * spec.scale_factor == pytest.approx(h0, abs=1.0)


def test_smaller_than_max_size_is_not_upscaled():
    spec = singan_pyramid(120, 160)
    assert spec.image_size == (120, 160)
    # official num_scales = ceil(log_0.75(25/120)) + 1 = 7 = stop scale N; levels 0..N
    assert spec.num_scales == math.ceil(math.log(25 / 120, 0.75)) + 1 + 1


def test_tiny_image():
    assert singan_pyramid(32, 32).sizes == ((25, 25), (29, 29), (32, 32))


def test_extreme_aspect_ratio_keeps_short_side_at_min_size():
    # 100x1000 -> 25x250: the official computation gives two levels of the same size
    spec = singan_pyramid(100, 1000)
    assert spec.sizes[-1] == (25, 250)
    assert all(s == (25, 250) for s in spec.sizes)
    tall = singan_pyramid(1000, 200)
    assert tall.sizes[-1] == (250, 50) and tall.sizes[0][1] == 25


def test_too_extreme_aspect_ratio_is_a_clear_error():
    with pytest.raises(ValueError, match="aspect ratio too extreme"):
        singan_pyramid(60, 1000)


def test_image_smaller_than_min_size_is_a_clear_error():
    with pytest.raises(ValueError, match="too small"):
        singan_pyramid(20, 300)


def test_scaled_sizes():
    assert scaled_sizes([(25, 34), (188, 250)], scale_h=2.0, scale_v=1.0) == [(25, 68), (188, 500)]
    with pytest.raises(ValueError):
        scaled_sizes([(25, 34)], scale_h=0)
