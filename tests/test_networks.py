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


def _critic_pair(memory_format=torch.contiguous_format):
    """The same critic twice: sinkit's (BatchStatNorm2d) and one with PyTorch's BatchNorm2d."""
    torch.manual_seed(0)
    ours = Discriminator(16)
    init_weights(ours)
    theirs = Discriminator(16, norm=torch.nn.BatchNorm2d)
    theirs.load_state_dict(ours.state_dict())
    return ours.to(memory_format=memory_format), theirs.to(memory_format=memory_format)


def _penalty_grads(critic, x):
    x = x.clone().requires_grad_(True)
    critic.zero_grad()
    scores = critic(x)
    (g,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    loss = ((g.norm(2, dim=1) - 1) ** 2).mean() + scores.mean()
    loss.backward()
    return scores.detach(), {n: p.grad.clone() for n, p in critic.named_parameters()}


def test_batch_stat_norm_equals_batchnorm_through_the_double_backward():
    # the gradient penalty differentiates the critic twice: values, first- and second-order
    # parameter gradients and the running statistics must be BatchNorm2d's (float64: to 1e-12;
    # float32: as close to the float64 result as PyTorch's own BatchNorm2d, ~1e-6)
    from sinkit.singan.networks import BatchStatNorm2d

    torch.manual_seed(0)
    x64 = torch.rand(2, 3, 24, 28, dtype=torch.float64) * 2 - 1
    ours, theirs = _critic_pair()
    assert isinstance(ours.head[1], BatchStatNorm2d) and type(theirs.head[1]) is torch.nn.BatchNorm2d
    s_ref, g_ref = _penalty_grads(theirs.double(), x64)
    s64, g64 = _penalty_grads(ours.double(), x64)
    assert torch.allclose(s64, s_ref, atol=1e-12)
    for key, value in theirs.state_dict().items():
        assert torch.allclose(ours.state_dict()[key].double(), value.double(), rtol=1e-12, atol=1e-14), key
    for fmt in (torch.contiguous_format, torch.channels_last):
        ours, theirs = _critic_pair(fmt)
        x = x64.float().contiguous(memory_format=fmt)
        s1, g1 = _penalty_grads(ours, x)
        s2, g2 = _penalty_grads(theirs, x)
        assert torch.allclose(s1, s2, atol=1e-5)
        for name, ref in g_ref.items():
            if name.endswith(".0.bias"):  # a conv bias before a batch norm has no effect: gradient ~0
                continue
            assert torch.allclose(g64[name], ref, rtol=1e-9, atol=1e-12), name
            err_ours = (g1[name].double() - ref).norm() / ref.norm()
            err_torch = (g2[name].double() - ref).norm() / ref.norm()
            assert err_ours < max(3 * err_torch, 1e-5), (name, err_ours, err_torch)
        ours.eval()
        theirs.eval()
        assert torch.allclose(ours(x), theirs(x), atol=1e-5)
