"""A third method written only for this test: a 2-layer conditional translator.

It exercises the method-agnostic core the way DeepSIM / PetsGAN use it: it
registers, declares a second training input and a CLI option, trains with the
per-iteration driver in two phases, is interrupted (by ``stop_after`` and by
a crash) and resumed bit-identically, saves and loads, is refused with a clear
message by commands it cannot serve, and shows up in ``sinkit train --help``.
No file of the library names it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from click.testing import CliRunner

import sinkit
from sinkit.cli.main import cli
from sinkit.core.capabilities import Translator
from sinkit.core.errors import CapabilityError
from sinkit.core.model import InputSpec, OptionSpec, SingleImageModel
from sinkit.core.registry import register_method
from sinkit.core.training import Phase, start_run, train_iterations


@dataclass(frozen=True)
class ToyConfig:
    channels: int = 4
    iters: int = 12
    lr: float = 1e-2
    seed: int = 0
    checkpoint_every: int = 5


class Crash(RuntimeError):
    pass


@register_method("toy-translator")
class ToyTranslator(SingleImageModel, Translator):
    """primitive -> image with two 3x3 convs; trained on one (primitive, image) pair."""

    config_class = ToyConfig
    presets = {"paper": ToyConfig(), "fast": ToyConfig(iters=6)}
    inputs = (InputSpec("image", "the target image"), InputSpec("primitive", "the condition image"))
    options = (OptionSpec("--toy-channels", "channels", "Hidden width.", int),)
    usage = "toy-translator models translate primitives: use `sinkit translate`."

    def __init__(self, config, inputs, info=None):
        super().__init__(config, inputs, info)
        self.net = nn.Sequential(nn.Conv2d(3, config.channels, 3, padding=1), nn.ReLU(), nn.Conv2d(config.channels, 3, 3, padding=1))

    def translate(self, condition, *, generator=None):
        return torch.tanh(self.net(condition.to(self.device)))

    def reconstruction(self):
        with torch.no_grad():
            return self.translate(self.primitive)

    @classmethod
    def _fit(cls, inputs, config, *, out_dir=None, resume=False, device="cpu", progress=False, stop_after=None, crash_at=None):
        def create():
            torch.manual_seed(config.seed)
            return cls(config, inputs)

        model, saved = start_run(cls, inputs, config, out_dir=out_dir, resume=resume, device=device, create=create)
        model.train()
        opt = torch.optim.Adam(model.net.parameters(), lr=config.lr)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1.0 if i < 4 else 0.5)
        gen = torch.Generator().manual_seed(config.seed)

        def step(i):
            if crash_at is not None and model.info["iteration"] == crash_at:
                raise Crash(f"simulated crash at iteration {crash_at}")
            jitter = 0.1 * torch.randn(model.primitive.shape, generator=gen) + 0.01 * torch.randn(1)  # own + global RNG
            loss = F.mse_loss(model.translate(model.primitive + jitter), model.real)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            return {"mse": loss.item()}

        def get_state():
            return {"opt": opt.state_dict(), "sched": sched.state_dict(), "gen": gen.get_state()}

        def set_state(state):
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
            gen.set_state(state["gen"])

        phases = [Phase("warm-up", 4, step), Phase("main", config.iters - 4, step)]
        train_iterations(model, phases, get_state=get_state, set_state=set_state, out_dir=out_dir, resume_state=saved,
                         checkpoint_every=config.checkpoint_every, progress=progress, stop_after=stop_after)
        return model.eval()


@pytest.fixture(scope="module")
def pair():
    image = sinkit.resize(sinkit.load_image(sinkit.__path__[0] + "/data/rocket.jpg"), (12, 16))
    return {"image": image, "primitive": -image.flip(-1)}


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_trains_saves_loads_and_translates(pair, tmp_path):
    model = ToyTranslator.train(pair, "paper", out_dir=tmp_path / "run")
    losses = model.info["losses"]
    assert list(losses) == ["warm-up", "main"] and model.complete and model.info["iteration"] == 12
    assert losses["main"][-1]["mse"] < losses["warm-up"][0]["mse"]
    loaded = sinkit.load(tmp_path / "run", device="cpu")
    assert type(loaded) is ToyTranslator and loaded.complete
    _same(_weights(model), _weights(loaded))
    out = loaded.translate(pair["primitive"])
    assert out.shape == (1, 3, 12, 16) and torch.equal(out, model.translate(pair["primitive"]))
    assert "training_state" not in sinkit.core.checkpoint.read_metadata(tmp_path / "run")  # a finished run keeps no optimizer


def test_stopped_then_resumed_equals_uninterrupted(pair, tmp_path):
    full = ToyTranslator.train(pair, "paper")
    ToyTranslator.train(pair, "paper", out_dir=tmp_path, stop_after=7)
    partial = sinkit.load(tmp_path, device="cpu")
    assert not partial.complete and partial.info["iteration"] == 7
    assert "INCOMPLETE" in partial.describe()
    resumed = ToyTranslator.train(pair, "paper", out_dir=tmp_path, resume=True)
    assert resumed.info["iteration"] == 12 and resumed.complete
    _same(_weights(full), _weights(resumed))


def test_crash_between_checkpoints_resumes_from_the_last_one_bit_identically(pair, tmp_path):
    full = ToyTranslator.train(pair, "paper")
    with pytest.raises(Crash):
        ToyTranslator.train(pair, "paper", out_dir=tmp_path, crash_at=8)  # checkpoints at 5 and 10: 5 survives
    assert sinkit.load(tmp_path, device="cpu").info["iteration"] == 5
    resumed = ToyTranslator.train(pair, "paper", out_dir=tmp_path, resume=True)
    _same(_weights(full), _weights(resumed))


def test_resume_compares_every_named_input(pair, tmp_path):
    ToyTranslator.train(pair, "paper", out_dir=tmp_path, stop_after=3)
    other = {"image": pair["image"], "primitive": pair["primitive"].flip(-2)}
    with pytest.raises(ValueError, match="trained on a different primitive"):
        ToyTranslator.train(other, "paper", out_dir=tmp_path, resume=True)


def test_missing_or_unknown_inputs_are_clear_errors(pair):
    with pytest.raises(ValueError, match=r"needs the training input 'primitive' \(--primitive"):
        ToyTranslator.train(pair["image"], "paper")
    with pytest.raises(ValueError, match="takes the inputs image, primitive, not mask"):
        ToyTranslator.train({**pair, "mask": pair["image"]}, "paper")
    with pytest.raises(ValueError, match="unknown preset 'huge' for toy-translator; available: paper, fast"):
        ToyTranslator.train(pair, "huge")


def test_capabilities_are_checked_with_the_methods_usage_line(pair):
    from sinkit.tasks import edit, inject

    model = ToyTranslator.train(pair, "fast")
    with pytest.raises(CapabilityError, match="toy-translator models cannot inject images.*use `sinkit translate`"):
        inject(model, pair["image"], 1)
    with pytest.raises(CapabilityError):
        edit(model, pair["image"], 1, mask=torch.ones(1, 1, 12, 16))


def test_cli_train_help_translate_and_refusals(pair, tmp_path):
    runner = CliRunner()
    r = runner.invoke(cli, ["train", "--help"])
    assert r.exit_code == 0 and "toy-translator" in r.output and "--primitive" in r.output
    r = runner.invoke(cli, ["train", "--method", "toy-translator", "--help"])
    assert r.exit_code == 0 and "--toy-channels" in r.output and "toy-translator: the condition image" in r.output
    sinkit.save_image(pair["image"], tmp_path / "img.png")
    sinkit.save_image(pair["primitive"], tmp_path / "prim.png")
    run = tmp_path / "run"
    args = ["train", str(tmp_path / "img.png"), "--method", "toy-translator", "--preset", "fast", "--out", str(run), "--device", "cpu", "--quiet"]
    r = runner.invoke(cli, args + ["--toy-channels", "3"])
    assert r.exit_code == 1 and "needs the training input 'primitive'" in r.output  # one line, no traceback
    r = runner.invoke(cli, args + ["--primitive", str(tmp_path / "prim.png"), "--toy-channels", "3"])
    assert r.exit_code == 0, r.output
    assert sinkit.load(run).config.channels == 3 and (run / "reconstruction.png").exists()
    r = runner.invoke(cli, args + ["--primitive", str(tmp_path / "prim.png"), "--alpha", "3"])
    assert r.exit_code == 2 and "No such option '--alpha'" in r.output  # a SinGAN option, not this method's
    r = runner.invoke(cli, ["translate", str(run), "--primitive", str(tmp_path / "prim.png"), "--out", str(tmp_path / "t")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "t" / "result.png").exists() and (tmp_path / "t" / "comparison.png").exists()
    for command in (["edit", str(run), "--input", str(tmp_path / "img.png"), "--mask", str(tmp_path / "img.png"), "--scale", "1"],
                    ["sample", str(run)], ["animate", str(run)], ["upscale", str(run)]):
        r = runner.invoke(cli, command)
        assert r.exit_code == 1, (command, r.output)
        first = r.output.strip().splitlines()[0]
        assert first.startswith("Error: toy-translator models cannot ") and "use `sinkit translate`" in first, first
    r = runner.invoke(cli, ["info", str(run)])
    assert r.exit_code == 0 and "toy-translator" in r.output and "primitive" in r.output


def test_checkpoint_seconds_rule_saves_on_wall_time(pair, tmp_path, monkeypatch):
    """With ``checkpoint_every=0`` only the wall-time rule saves: a step that takes 10 s (a fake
    clock) and ``checkpoint_seconds=25`` must checkpoint after iterations 3, 6, 9 and at the end."""
    from types import SimpleNamespace

    import sinkit.core.training as training

    clock = {"now": 0.0}
    # the driver's clock only, not the process-wide time.perf_counter
    monkeypatch.setattr(training, "time", SimpleNamespace(perf_counter=lambda: clock["now"]))
    model = ToyTranslator(ToyConfig(), pair)

    def step(i):
        clock["now"] += 10.0
        return {"mse": 0.0}

    saved = []
    train_iterations(model, [Phase("main", 10, step)], get_state=dict, set_state=lambda s: None, out_dir=tmp_path,
                     checkpoint_every=0, checkpoint_seconds=25.0, progress=False,
                     on_checkpoint=lambda m, it: saved.append(it))
    assert saved == [3, 6, 9, 10]
    assert sinkit.load(tmp_path, device="cpu").complete
