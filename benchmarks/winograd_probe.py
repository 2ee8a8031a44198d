"""Would a Winograd convolution written in torch ops beat oneDNN's direct 3x3 convolution here?

Issue 13 asks for a SinGAN iteration 1.5x faster than the official loop in fp32,
and the iteration is bound by its 3x3 convolutions, which oneDNN runs near this
CPU's peak.  Winograd's F(4x4, 3x3) (Lavin & Gray, "Fast Algorithms for
Convolutional Neural Networks", CVPR 2016, sec. 4) computes a 4x4 output tile
from a 6x6 input tile with 36 multiplications instead of 144, so its GEMMs do
4x fewer FLOPs.  Written in torch ops (unfold, two small transform GEMMs, one
batched GEMM per tile position) autograd gives its backward and the gradient
penalty's double backward for free; this script measures whether it is faster
than ``F.conv2d`` (channels_last, float32) for the shapes a SinGAN scale runs,
forward, forward + backward, and a double backward like the penalty's.

    python benchmarks/winograd_probe.py

Prints, per shape, milliseconds per call for both, and the error of the
Winograd result against ``F.conv2d``.  Run it alone (2 threads).
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F

# F(4x4, 3x3) transforms (Lavin & Gray 2016, sec. 4.2): Y = A^T [(G g G^T) * (B^T d B)] A
B_T = torch.tensor([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                    [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=torch.float64)
G = torch.tensor([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                  [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], dtype=torch.float64)
A_T = torch.tensor([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], dtype=torch.float64)
# both sides of each 2-D transform at once, on a row-major flattened tile: vec(M X M^T) = kron(M, M) vec(X)
INPUT_T, KERNEL_T, OUTPUT_T = torch.kron(B_T, B_T), torch.kron(G, G), torch.kron(A_T, A_T)  # 36x36, 36x9, 16x36


def winograd_conv2d(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``F.conv2d(x, weight)`` (3x3, stride 1, no padding, no bias) by Winograd F(4x4, 3x3).

    Args:
        x: ``(N, C, H, W)``, any float dtype and memory format.
        weight: ``(C_out, C, 3, 3)``.

    Returns:
        ``(N, C_out, H - 2, W - 2)``, a channels_last view.
    """
    n, c, h, w = x.shape
    c_out = weight.shape[0]
    h_out, w_out = h - 2, w - 2
    tiles_h, tiles_w = -(-h_out // 4), -(-w_out // 4)
    x = F.pad(x, (0, 4 * tiles_w + 2 - w, 0, 4 * tiles_h + 2 - h))
    tiles = x.permute(0, 2, 3, 1).unfold(1, 6, 4).unfold(2, 6, 4)  # (N, th, tw, C, 6, 6), a view
    d = tiles.permute(4, 5, 0, 1, 2, 3).reshape(36, -1)  # the one copy of the input: (36, N*th*tw*C)
    v = (INPUT_T.to(x) @ d).view(36, n * tiles_h * tiles_w, c)
    u = (KERNEL_T.to(x) @ weight.reshape(c_out, c, 9).permute(2, 1, 0).reshape(9, c * c_out)).view(36, c, c_out)
    m = torch.bmm(v, u)  # (36, tiles, C_out): the 36 tile positions' GEMMs
    y = (OUTPUT_T.to(x) @ m.view(36, -1)).view(4, 4, n, tiles_h, tiles_w, c_out)
    y = y.permute(2, 3, 0, 4, 1, 5).reshape(n, 4 * tiles_h, 4 * tiles_w, c_out)
    return y[:, :h_out, :w_out].permute(0, 3, 1, 2)


def _ms(fn, repeats: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per figure (one untimed warm-up before)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} threads, cpu capability {torch.backends.cpu.get_cpu_capability()}, "
          f"load {os.getloadavg()[0]:.2f}")

    x = torch.randn(1, 128, 60, 70, dtype=torch.float64)
    w = torch.randn(128, 128, 3, 3, dtype=torch.float64)
    ref = F.conv2d(x, w)
    print(f"max relative error, float64: {((winograd_conv2d(x, w) - ref).abs().max() / ref.abs().max()):.1e}; "
          f"float32: {((winograd_conv2d(x.float(), w.float()) - ref).abs().max() / ref.abs().max()):.1e}")

    # a SinGAN scale's hidden convolutions: (channels, input size); 198x260 is the padded generator input at 188x250
    shapes = [(128, 188, 250), (128, 198, 260), (64, 151, 200), (32, 74, 74)]
    print(f"{'shape':>16} {'conv':>9} {'forward':>10} {'fwd+bwd':>10} {'double bwd':>11}  (ms per call)")
    for c, h, w_ in shapes:
        x = torch.randn(1, c, h, w_).contiguous(memory_format=torch.channels_last).requires_grad_()
        weight = (torch.randn(c, c, 3, 3) * 0.05).contiguous(memory_format=torch.channels_last).requires_grad_()
        for name, conv in (("oneDNN", F.conv2d), ("Winograd", winograd_conv2d)):
            def forward():
                with torch.no_grad():
                    conv(x, weight)

            def forward_backward():
                y = conv(x, weight)
                y.backward(torch.ones_like(y))

            def double_backward():  # as the gradient penalty: d/dx with create_graph, then backward of its norm
                y = conv(x, weight)
                (grad,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
                grad.square().sum().backward()

            print(f"{c:>4} x {h:>3}x{w_:<3} {name:>9} {_ms(forward, args.repeats):>10.1f} "
                  f"{_ms(forward_backward, args.repeats):>10.1f} {_ms(double_backward, max(args.repeats // 2, 1)):>11.1f}", flush=True)


if __name__ == "__main__":
    main()
