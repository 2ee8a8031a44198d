import torch

from sinkit.singan import SinGANConfig
from sinkit.singan.networks import Discriminator, Generator, init_weights, receptive_field


def test_generator_keeps_size_with_5px_padding_and_is_residual():
    g = Generator(32)
    x_up = torch.rand(2, 3, 30, 40) * 2 - 1
    z_in = torch.nn.functional.pad(x_up, (5, 5, 5, 5))
    out = g(z_in, x_up)
    assert out.shape == x_up.shape
    # residual: out - x_up = tanh(...) is within (-1, 1)
    assert (out - x_up).abs().max() < 1


def test_discriminator_is_a_patch_critic():
    d = Discriminator(64)
    assert d(torch.zeros(1, 3, 30, 40)).shape == (1, 1, 20, 30)


def test_receptive_field_is_11_pixels():
    torch.manual_seed(0)
    d = Discriminator(32).eval()
    init_weights(d)
    x = torch.zeros(1, 3, 31, 31, requires_grad=True)
    d(x)[0, 0, 10, 10].backward()
    rows = x.grad.abs().sum(dim=(0, 1, 3)).nonzero().flatten()
    cols = x.grad.abs().sum(dim=(0, 1, 2)).nonzero().flatten()
    assert receptive_field() == 11
    assert rows.min() == 10 and rows.max() == 20 and len(rows) == 11
    assert cols.min() == 10 and cols.max() == 20 and len(cols) == 11


def test_widths_by_scale_match_official():
    c = SinGANConfig()
    assert [c.channels(i) for i in range(10)] == [32] * 4 + [64] * 4 + [128] * 2


def test_official_init_statistics():
    torch.manual_seed(0)
    g = Generator(128)
    init_weights(g)
    w = g.body[0][0].weight
    assert abs(w.mean().item()) < 2e-3 and abs(w.std().item() - 0.02) < 2e-3
    bn = g.body[0][1]
    assert abs(bn.weight.mean().item() - 1) < 0.01 and bn.bias.abs().max() == 0
