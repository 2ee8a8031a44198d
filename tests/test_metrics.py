"""sinkit.metrics: known values, the Fréchet distance, the plain-torch networks, the weight finder."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sinkit.metrics import (
    PAIRED_METRICS,
    evaluate_pair,
    LPIPS,
    SIFID_LAYERS,
    FIDInceptionV3,
    WeightsUnavailable,
    deep_metric_status,
    find_weights,
    frechet_distance,
    frechet_distance_features,
    load_inception,
    load_lpips,
    lpips_diversity,
    ms_ssim,
    nn_patch_distance,
    patch_swd,
    pixel_diversity,
    psnr,
    rmse,
    sifid,
    sifid_per_sample,
    ssim,
)
from sinkit.metrics.inception import FEATURE_LAYERS
from sinkit.metrics.lpips import ALEXNET_LAYERS



def smooth_image(h=48, w=64, seed=0):
    """A textured image in [-1, 1] with structure at several scales."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(1, 3, h // 8, w // 8, generator=g)
    x = torch.nn.functional.interpolate(base, size=(h, w), mode="bicubic", align_corners=False)
    x = x + 0.3 * torch.randn(1, 3, h, w, generator=g)
    return (x / x.abs().max()).clamp(-1, 1)


# ----------------------------------------------------------------------------- Fréchet
def test_frechet_distance_hand_computed_cases():
    # 1-D: (0 - 2)^2 + 1 + 4 - 2 sqrt(1 * 4) = 4 + 5 - 4 = 5
    assert frechet_distance([0.0], [[1.0]], [2.0], [[4.0]]) == pytest.approx(5.0, abs=1e-9)
    # diagonal 2-D: |(1,1)|^2 + (1 + 4 + 9 + 16) - 2 (sqrt(9) + sqrt(64)) = 2 + 30 - 22 = 10
    d = frechet_distance([0.0, 0.0], np.diag([1.0, 4.0]), [1.0, 1.0], np.diag([9.0, 16.0]))
    assert d == pytest.approx(10.0, abs=1e-9)


def test_frechet_distance_full_covariances_match_closed_form():
    # For commuting SPD matrices sqrt(C1 C2) = sqrt(C1) sqrt(C2): build both from one eigenbasis.
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    l1, l2 = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.5, 5.0, 1.0, 2.0])
    c1, c2 = q @ np.diag(l1) @ q.T, q @ np.diag(l2) @ q.T
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(l1 + l2 - 2 * np.sqrt(l1 * l2))
    assert frechet_distance(mu1, c1, mu2, c2) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mu1, c1, mu1, c1) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_non_commuting_covariances_match_eigen_formula():
    # Tr sqrt(C1 C2) = sum sqrt(eig(C1^1/2 C2 C1^1/2)), a symmetric problem solved independently of sqrtm.
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    c1, c2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    w, v = np.linalg.eigh(c1)
    root1 = v @ np.diag(np.sqrt(w)) @ v.T
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ c2 @ root1), 0, None)).sum()
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * tr_covmean
    assert frechet_distance(mu1, c1, mu2, c2) == pytest.approx(expected, rel=1e-8)


def test_frechet_features_singular_covariance_is_finite_and_symmetric():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g) + 1  # 5 points in 8-D: rank 4
    d_ab, d_ba = frechet_distance_features(a, b), frechet_distance_features(b, a)
    assert math.isfinite(d_ab) and d_ab > 0
    assert d_ab == pytest.approx(d_ba, rel=1e-4)


def test_frechet_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape mismatch"):
        frechet_distance([0.0, 0.0], np.eye(2), [0.0], [[1.0]])


# ----------------------------------------------------------------------------- fidelity
def test_fidelity_known_values():
    x = smooth_image()
    assert rmse(x, x) == 0.0 and psnr(x, x) == math.inf
    assert ssim(x, x) == pytest.approx(1.0, abs=1e-5)
    black, white, grey = -torch.ones(1, 3, 8, 8), torch.ones(1, 3, 8, 8), torch.zeros(1, 3, 8, 8)
    assert rmse(black, white) == pytest.approx(255.0)
    assert rmse(black, grey) == pytest.approx(127.5)
    assert psnr(black, white) == pytest.approx(0.0, abs=1e-9)
    assert psnr(black, grey) == pytest.approx(20 * math.log10(2), abs=1e-6)


def test_fidelity_shifted_copy_scores_worse():
    x = smooth_image(200, 200)
    shifted = torch.roll(x, shifts=(3, 2), dims=(2, 3))
    assert psnr(x, shifted) < 40 and rmse(x, shifted) > 1
    assert ssim(x, shifted) < 0.95
    assert ms_ssim(x, x) == pytest.approx(1.0, abs=1e-5)  # standard 11 px window at 200 px
    assert ms_ssim(x, shifted) < 0.98


def test_ms_ssim_small_images_shrink_window_and_tiny_ones_fail():
    x = smooth_image(64, 64)
    assert ms_ssim(x, x) == pytest.approx(1.0, abs=1e-5)
    assert ms_ssim(x, torch.roll(x, 2, dims=3)) < 0.99
    with pytest.raises(ValueError, match="32 px"):
        ms_ssim(x[..., :32, :32], x[..., :32, :32])


def test_fidelity_rejects_bad_input():
    with pytest.raises(ValueError, match="BxCxHxW|Bx3xHxW"):
        psnr(torch.zeros(3, 8, 8), torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="same shape"):
        rmse(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))


# ----------------------------------------------------------------------------- pretrained-free
def test_pixel_diversity_known_values():
    x = smooth_image()
    assert pixel_diversity(x.repeat(4, 1, 1, 1), x) == 0.0
    c = 0.1
    pair = torch.cat([x + c, x - c])  # per-pixel population std over the two samples is exactly c
    assert pixel_diversity(pair, x) == pytest.approx(c / float(x.double().std(correction=0)), rel=1e-5)
    with pytest.raises(ValueError, match="at least 2"):
        pixel_diversity(x, x)


def test_patch_swd_identical_zero_and_degraded_worse():
    x = smooth_image()
    noisy = (x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(5))).clamp(-1, 1)
    shifted = torch.roll(x, shifts=(4, 4), dims=(2, 3))
    assert patch_swd(x, x) == pytest.approx(0.0, abs=1e-9)
    # a shifted copy has (almost) the same patches; added noise changes their distribution
    assert patch_swd(shifted, x) < patch_swd(noisy, x)
    assert patch_swd(noisy, x) > 0.01
    # deterministic: the random directions are seeded
    assert patch_swd(noisy, x) == patch_swd(noisy, x)


def test_nn_patch_distance_copies_score_zero_noise_does_not():
    x = smooth_image()
    crop = x[..., 5:40, 3:50]  # every patch of a crop exists in the image
    noisy = (x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(6))).clamp(-1, 1)
    assert nn_patch_distance(x, x) < 2e-3
    assert nn_patch_distance(crop, x) < 2e-3
    assert nn_patch_distance(noisy, x) > 0.05


# ----------------------------------------------------------------------------- Inception
EXPECTED_75 = {  # (C, h, w) of every feature layer for a 75x75 input
    "before_maxpool1": (64, 35, 35),
    "before_maxpool2": (192, 15, 15),
    "pre_aux": (768, 3, 3),
    "mixed_7c": (2048, 1, 1),
    "pool3": (2048,),
    "logits": (1008,),
}


@pytest.fixture(scope="module")
def inception():
    torch.manual_seed(0)
    return FIDInceptionV3().eval()


def test_inception_feature_layer_shapes(inception):
    with torch.no_grad():
        feats = inception(torch.rand(2, 3, 75, 75) * 2 - 1, list(FEATURE_LAYERS))
    assert {k: tuple(v.shape[1:]) for k, v in feats.items()} == EXPECTED_75
    assert {k: EXPECTED_75[k][0] for k in SIFID_LAYERS} == SIFID_LAYERS
    with pytest.raises(ValueError, match="unknown layer"):
        inception(torch.zeros(1, 3, 75, 75), ["pool5"])


def test_inception_state_dict_keys_match_the_published_files(inception):
    sd = inception.state_dict()
    # 94 conv-bn units (5 tensors each + num_batches_tracked) and the 1008-way fc of the FID file
    assert len(sd) == 94 * 6 + 2
    assert sd["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
    assert sd["Conv2d_4a_3x3.bn.running_var"].shape == (192,)
    assert sd["Mixed_5b.branch_pool.conv.weight"].shape == (32, 192, 1, 1)
    assert sd["Mixed_7c.branch3x3dbl_3b.conv.weight"].shape == (384, 384, 3, 1)
    assert sd["fc.weight"].shape == (1008, 2048)
    assert FIDInceptionV3("torchvision").state_dict()["fc.weight"].shape == (1000, 2048)


def test_load_inception_from_file_and_sifid(tmp_path, inception):
    path = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    state = {k: v for k, v in inception.state_dict().items() if "num_batches_tracked" not in k}  # as the TF port
    torch.save(state, path)
    net = load_inception("fid", path)
    assert not any(p.requires_grad for p in net.parameters())
    x = torch.rand(1, 3, 75, 75) * 2 - 1
    with torch.no_grad():
        assert torch.equal(net(x, ["pool3"])["pool3"], inception(x, ["pool3"])["pool3"])
    # torchvision's file carries AuxLogits; they are dropped, the rest must fit
    tv = FIDInceptionV3("torchvision").state_dict()
    tv["AuxLogits.fc.weight"] = torch.zeros(1000, 768)
    torch.save(tv, tmp_path / "tv.pth")
    load_inception("torchvision", tmp_path / "tv.pth")
    del state["Mixed_6a.branch3x3.conv.weight"]
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(ValueError, match="do not match"):
        load_inception("fid", tmp_path / "broken.pth")

    real = smooth_image(64, 64)
    noisy = (real + 0.5 * torch.randn(real.shape, generator=torch.Generator().manual_seed(2))).clamp(-1, 1)
    for layer in SIFID_LAYERS:
        values = sifid_per_sample(torch.cat([real, noisy]), real, layer=layer, model=net)
        assert values[0] == pytest.approx(0.0, abs=1e-4)
        assert values[1] > values[0] + 1e-3
    assert sifid(noisy, real, layer="before_maxpool1", model=net) == pytest.approx(
        sifid_per_sample(noisy, real, layer="before_maxpool1", model=net)[0]
    )


# ----------------------------------------------------------------------------- LPIPS
def test_lpips_layer_shapes_known_values_and_loading(tmp_path):
    torch.manual_seed(0)
    net = LPIPS().eval()
    with torch.no_grad():
        feats = net.net(torch.zeros(1, 3, 64, 64))
    assert {k: tuple(v.shape[1:]) for k, v in feats.items()} == {
        "relu1": (64, 15, 15), "relu2": (192, 7, 7), "relu3": (384, 3, 3), "relu4": (256, 3, 3), "relu5": (256, 3, 3)
    }
    assert list(ALEXNET_LAYERS.values()) == [64, 192, 384, 256, 256]
    # the published files: torchvision AlexNet (features.* + classifier.*) and LPIPS lin layers
    alex = {k[len("net."):]: v for k, v in net.state_dict().items() if k.startswith("net.")}
    alex["classifier.1.weight"] = torch.zeros(4, 4)
    lins = {k: v.abs() for k, v in net.state_dict().items() if k.startswith("lin")}
    assert sorted(lins) == [f"lin{i}.model.1.weight" for i in range(5)]
    torch.save(alex, tmp_path / "alexnet-owt-7be5be79.pth")
    torch.save(lins, tmp_path / "alex.pth")
    loaded = load_lpips(tmp_path / "alexnet-owt-7be5be79.pth", tmp_path / "alex.pth")

    x = smooth_image(64, 64)
    y = (x + 0.5 * torch.randn(x.shape, generator=torch.Generator().manual_seed(3))).clamp(-1, 1)
    with torch.no_grad():
        d = loaded(torch.cat([x, x]), torch.cat([x, y]))
    assert d[0] == 0.0 and d[1] > 0
    assert lpips_diversity(x.repeat(3, 1, 1, 1), model=loaded) == 0.0
    assert lpips_diversity(torch.cat([x, y, x]), model=loaded) == pytest.approx(2 * float(d[1]) / 3, rel=1e-5)


def test_evaluate_pair_scores_an_image_against_its_ground_truth_with_lpips_when_weights_exist(tmp_path, monkeypatch):
    x = smooth_image(64, 64)
    y = (x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(4))).clamp(-1, 1)
    same, other = evaluate_pair(x, x), evaluate_pair(y, x)
    assert sorted(same) == ["nn_patch", "patch_swd", "psnr", "ssim"]  # the weight-free ones by default
    assert same["psnr"] == float("inf") or same["psnr"] > 60
    assert same["ssim"] == pytest.approx(1.0, abs=1e-4) and same["nn_patch"] < 1e-3 < other["nn_patch"]
    assert other["psnr"] < 30 and other["ssim"] < same["ssim"] and other["patch_swd"] > same["patch_swd"]
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate_pair(x, x, metrics=["lpips_div"])
    with pytest.raises(ValueError, match="differ in size"):
        evaluate_pair(x, x[..., :32])
    # LPIPS (the DeepSIM paper's metric) from the weight folder, here with random weights
    monkeypatch.setenv("SINKIT_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    for var in ("SINKIT_ALEXNET_WEIGHTS", "SINKIT_LPIPS_WEIGHTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SINKIT_WEIGHTS_DIR", str(tmp_path))
    assert deep_metric_status(download=False)["lpips"] is not None
    with pytest.raises(WeightsUnavailable):
        evaluate_pair(y, x, metrics=["lpips"])
    torch.manual_seed(0)
    net = LPIPS()
    torch.save({k[len("net."):]: v for k, v in net.state_dict().items() if k.startswith("net.")},
               tmp_path / "alexnet-owt-7be5be79.pth")
    torch.save({k: v.abs() for k, v in net.state_dict().items() if k.startswith("lin")}, tmp_path / "alex.pth")
    assert deep_metric_status(download=False)["lpips"] is None
    assert evaluate_pair(x, x, metrics=["lpips"])["lpips"] == pytest.approx(0.0, abs=1e-7)
    assert evaluate_pair(y, x, metrics=["lpips"])["lpips"] > 0
    assert set(PAIRED_METRICS) >= {"lpips", "sifid64", "psnr", "ssim", "patch_swd", "nn_patch"}


# ----------------------------------------------------------------------------- weights
def test_offline_error_names_file_url_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("SINKIT_OFFLINE", "1")
    monkeypatch.delenv("SINKIT_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.delenv("SINKIT_WEIGHTS_DIR", raising=False)
    with pytest.raises(WeightsUnavailable) as info:
        load_inception()
    message = str(info.value)
    assert "pt_inception-2015-12-05-6726825d.pth" in message
    assert "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in message
    assert "SINKIT_INCEPTION_WEIGHTS" in message
    status = deep_metric_status()
    assert all(status[m] for m in ("sifid64", "sifid192", "lpips_div"))
    with pytest.raises(WeightsUnavailable, match="does not exist"):
        find_weights("alexnet", tmp_path / "nope.pth")


def test_weights_found_by_env_var_and_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("SINKIT_OFFLINE", "1")
    monkeypatch.delenv("SINKIT_WEIGHTS_DIR", raising=False)
    file = tmp_path / "somewhere.pth"
    torch.save({"w": torch.zeros(1)}, file)
    monkeypatch.setenv("SINKIT_ALEXNET_WEIGHTS", str(file))
    assert find_weights("alexnet") == file
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save({"w": torch.zeros(1)}, hub / "alex.pth")
    assert find_weights("lpips-alex") == hub / "alex.pth"
