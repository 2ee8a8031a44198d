"""Fault injection: processes killed while training and while saving, Ctrl-C and SIGTERM, two writers
at once, a full disk, a run directory reused by mistake.  What must hold after each (docs/reliability.md):
every checkpoint on disk loads, resuming gives exactly the model of an uninterrupted run, nothing of
another run is mixed in, and the user is told what happened in one line.

Processes are forked from the test process (no interpreter start-up, no torch import: each costs a
fraction of a second), kill times are drawn from a seeded generator, and the model is a 5-scale
SinGAN of 8 channels that trains in well under a second.
"""

from __future__ import annotations

import errno
import os
import random
import resource
import select
import shlex
import signal
import socket
import stat
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import sinkit
from sinkit.cli.main import cli
from sinkit.core import checkpoint as checkpoint_mod
from sinkit.core.checkpoint import CheckpointWriteError
from sinkit.core.locks import LOCK_NAME, LockedError, claim, holder, release
from sinkit.core.training import RunExistsError
from sinkit.singan import PRESETS, SinGAN
from sinkit.singan import trainer as singan_trainer

MICRO = replace(PRESETS["fast"], max_size=48, min_size=20, scale_factor=0.8, iters=6, d_steps=1, g_steps=1, base_channels=8, max_channels=8, seed=5)
#: the same run from the command line
MICRO_ARGS = ["--preset", "fast", "--max-size", "48", "--min-size", "20", "--scale-factor", "0.8", "--iters", "6", "--seed", "5",
              "--set", "base_channels=8", "--set", "max_channels=8", "--samples", "0", "--quiet", "--device", "cpu"]
SCALE_FILES = ("real.png", "reconstruction.png", "samples.png")
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fault injection forks processes (POSIX)")


# ----------------------------------------------------------------------------- helpers
def fork(work, log: Path | None = None) -> int:
    """Run ``work()`` in a forked child; its return value (or SystemExit code) is the exit code."""
    pid = os.fork()
    if pid:
        return pid
    code = 70
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if log is not None:
            sys.stdout = sys.stderr = open(log, "w", buffering=1)
        code = work() or 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 -- report anything to the log, never return into pytest
        traceback.print_exc()
        code = 71
    finally:
        try:
            sys.stdout.flush()
        finally:
            os._exit(code)


def wait(pid: int, timeout: float = 120.0) -> int:
    """Exit code of child ``pid`` (negative: killed by that signal)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"child {pid} did not finish in {timeout} s")


def wait_for(predicate, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.005)


def self_kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def same_weights(a, b) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def check_recovers(run: Path, image, reference) -> None:
    """After a fault: the checkpoint (if any) loads, the temporary file of an unfinished save is gone
    once it is loaded, and resuming (taking over the dead process's lock) gives the reference."""
    if (run / "model.safetensors").exists():
        partial = sinkit.load(run, device="cpu")
        assert 1 <= partial.num_scales <= reference.num_scales
        assert not list(run.glob(".*.tmp")), "an orphan temporary file survived a load"
    resumed = SinGAN.train(image, MICRO, out_dir=run, resume=True, device="cpu", progress=False)
    same_weights(reference, resumed)
    same_weights(reference, sinkit.load(run, device="cpu"))
    for index in range(reference.num_scales):
        for name in SCALE_FILES:
            with Image.open(run / "scales" / f"{index:02d}" / name) as png:  # present and whole
                png.verify()
    assert not (run / LOCK_NAME).exists()
    assert not list(run.glob(".*.tmp"))


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    img = sinkit.resize(sinkit.load_image(Path(sinkit.__path__[0]) / "data" / "rocket.jpg"), (32, 48))
    return sinkit.save_image(img, tmp_path_factory.mktemp("img") / "rocket.png")


@pytest.fixture(scope="module")
def image(image_file):
    return sinkit.load_image(image_file)


@pytest.fixture(scope="module")
def reference(image, tmp_path_factory):
    """The uninterrupted run, saved like every other (its wall time bounds the random kill times)."""
    start = time.perf_counter()
    model = SinGAN.train(image, MICRO, out_dir=tmp_path_factory.mktemp("ref"), device="cpu", progress=False)
    model.wall_s = time.perf_counter() - start
    assert model.num_scales == 5
    return model


def slow_scales(seconds: float):
    """A child patch: every scale waits ``seconds`` first, so the parent acts while it still runs."""

    def setup():
        real = singan_trainer.train_scale

        def slow(*args, **kwargs):
            time.sleep(seconds)
            return real(*args, **kwargs)

        singan_trainer.train_scale = slow

    return setup


def train_child(image, run: Path, setup=None):
    def work():
        if setup is not None:
            setup()
        SinGAN.train(image, MICRO, out_dir=run, device="cpu", progress=False)

    return work


# ----------------------------------------------------------------------------- kills
@pytest.mark.parametrize("seed", range(3))
def test_sigkill_at_a_random_time(seed, image, reference, tmp_path):
    delay = random.Random(seed).uniform(0.0, 1.2 * reference.wall_s)
    pid = fork(train_child(image, tmp_path / "run"))
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    assert wait(pid) in (-signal.SIGKILL, 0)
    check_recovers(tmp_path / "run", image, reference)


def _die_in_save(point: str, at: int):
    """Patches (in the child only) that SIGKILL the process at ``point`` of checkpoint number ``at``."""

    def setup():
        opened, replaced = {"n": 0}, {"n": 0}
        real_replace, real_fdopen, real_images = os.replace, os.fdopen, singan_trainer.write_scale_images

        def fdopen(fd, *args, **kwargs):
            fh = real_fdopen(fd, *args, **kwargs)
            if point == "mid-write" and "b" in (args[0] if args else kwargs.get("mode", "")):
                opened["n"] += 1
                if opened["n"] == 2 * at - 1:  # the weights file of checkpoint `at` (config.json follows each)
                    real_write = fh.write

                    def write(data):
                        real_write(data[: len(data) // 2])
                        fh.flush()
                        self_kill()

                    fh.write = write
            return fh

        def replace_(src, dst):
            if str(dst).endswith(("model.safetensors", "config.json")):
                replaced["n"] += 1
                if point == "before-replace" and replaced["n"] == 2 * at - 1:
                    self_kill()
                if point == "between-files" and replaced["n"] == 2 * at:
                    self_kill()
            return real_replace(src, dst)

        def images(model, index, folder):
            if point == "before-images" and index == at - 1:
                real_images(model, index, folder)
                (folder / "samples.png").write_bytes(b"\x89PNG half")  # as a kill while writing it
                self_kill()
            return real_images(model, index, folder)

        os.fdopen, os.replace = fdopen, replace_
        singan_trainer.write_scale_images = images

    return setup


@pytest.mark.parametrize("point,at", [("mid-write", 2), ("before-replace", 3), ("between-files", 1), ("before-images", 4)])
def test_sigkill_inside_a_checkpoint_save(point, at, image, reference, tmp_path):
    run = tmp_path / "run"
    pid = fork(train_child(image, run, _die_in_save(point, at)))
    assert wait(pid) == -signal.SIGKILL
    if point in ("mid-write", "before-replace"):
        assert list(run.glob(".model.safetensors.*.tmp")), "the kill should leave the temporary file behind"
        assert sinkit.load(run, device="cpu").num_scales == at - 1
    if point == "between-files":  # the weights are new, their config.json mirror is the previous one (or none)
        assert list(run.glob(".config.json.*.tmp"))
        assert sinkit.load(run, device="cpu").num_scales == at
    check_recovers(run, image, reference)


@pytest.mark.parametrize("seed", range(3))
def test_sigkill_at_a_random_point_of_a_save(seed, image, reference, tmp_path):
    """Saves are slowed down in the child (each write, fsync and rename waits), the parent hears when
    save number k starts and kills at a random moment inside it."""
    rng = random.Random(100 + seed)
    at, delay = rng.randint(1, 5), rng.uniform(0.0, 0.12)
    read_end, write_end = os.pipe()

    def setup():
        real_fdopen, real_fsync, real_replace = os.fdopen, os.fsync, os.replace

        def slow(fn):
            def wrapped(*args, **kwargs):
                time.sleep(0.01)
                return fn(*args, **kwargs)

            return wrapped

        def fdopen(fd, *args, **kwargs):
            if "b" in (args[0] if args else kwargs.get("mode", "")):
                os.write(write_end, b"S")
            return real_fdopen(fd, *args, **kwargs)

        os.fdopen, os.fsync, os.replace = fdopen, slow(real_fsync), slow(real_replace)

    run = tmp_path / "run"
    pid = fork(train_child(image, run, setup))
    os.close(write_end)
    seen = 0
    while seen < 2 * at - 1:  # the weights file of checkpoint `at`
        ready, _, _ = select.select([read_end], [], [], 60)
        assert ready, "the child never saved"
        chunk = os.read(read_end, 64)
        assert chunk, "the child ended early"
        seen += len(chunk)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    os.close(read_end)
    assert wait(pid) in (-signal.SIGKILL, 0)
    check_recovers(run, image, reference)


def test_sigkill_in_an_iteration_driven_run_resumes_bit_identically(tmp_path):
    from test_method_interface import ToyTranslator, _same, _weights

    image = sinkit.resize(sinkit.load_image(Path(sinkit.__path__[0]) / "data" / "rocket.jpg"), (12, 16))
    pair = {"image": image, "primitive": -image.flip(-1)}
    full = ToyTranslator.train(pair, "paper")

    def work():
        real_replace, n = os.replace, {"k": 0}

        def replace_(src, dst):
            if str(dst).endswith("model.safetensors"):
                n["k"] += 1
                if n["k"] == 2:  # the checkpoint at iteration 10: the one at 5 must survive
                    self_kill()
            return real_replace(src, dst)

        os.replace = replace_
        ToyTranslator.train(pair, "paper", out_dir=tmp_path)

    assert wait(fork(work)) == -signal.SIGKILL
    assert sinkit.load(tmp_path, device="cpu").info["iteration"] == 5
    resumed = ToyTranslator.train(pair, "paper", out_dir=tmp_path, resume=True)
    _same(_weights(full), _weights(resumed))


@pytest.mark.parametrize("sig,code,word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "stopped by SIGTERM")])
def test_ctrl_c_and_sigterm_print_the_command_that_resumes(sig, code, word, image_file, image, reference, tmp_path):
    run, log = tmp_path / "run", tmp_path / "log.txt"
    args = ["train", str(image_file), "--out", str(run), *MICRO_ARGS]
    pid = fork(lambda: (slow_scales(0.5)(), cli.main(args, prog_name="sinkit")), log)
    wait_for(lambda: (run / "scales" / "01" / "samples.png").exists() or not _alive(pid))
    os.kill(pid, sig)
    assert wait(pid) == code, log.read_text()
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert lines[-1].startswith(f"{word}: {run} keeps the last checkpoint ("), lines
    assert "Traceback" not in log.read_text() and "Aborted" not in log.read_text()
    command = lines[-1].split("; resume with: ", 1)[1]
    argv = shlex.split(command)
    assert argv[:2] == ["sinkit", "train"] and argv[-1] == "--resume"
    result = CliRunner().invoke(cli, argv[1:], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    same_weights(reference, sinkit.load(run, device="cpu"))


def _alive(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return False


# ----------------------------------------------------------------------------- concurrent writers
def test_a_second_writer_is_refused_with_the_holders_pid_then_takes_over_its_stale_lock(image_file, image, reference, tmp_path):
    run = tmp_path / "run"
    pid = fork(train_child(image, run, slow_scales(5.0)))  # still running when the parent tries (killed below)
    wait_for(lambda: (run / LOCK_NAME).exists())
    with pytest.raises(LockedError, match=rf"is being written by process {pid} \(lock file "):
        SinGAN.train(image, MICRO, out_dir=run, resume=True, device="cpu", progress=False)
    result = CliRunner().invoke(cli, ["train", str(image_file), "--out", str(run), *MICRO_ARGS, "--resume"])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {run} is being written by process {pid} (lock file {run / LOCK_NAME}); wait for it to finish or stop it"
    assert holder(run / LOCK_NAME) == f"{socket.gethostname()}:{pid}"
    os.kill(pid, signal.SIGKILL)
    wait(pid)
    assert holder(run / LOCK_NAME) is None  # dead: stale
    check_recovers(run, image, reference)


def test_two_trainings_into_one_folder_at_once_exactly_one_runs(image_file, reference, tmp_path):
    run = tmp_path / "run"
    go_read, go_write = os.pipe()
    args = ["train", str(image_file), "--out", str(run), *MICRO_ARGS]

    def work():
        os.read(go_read, 1)  # both start together
        return cli.main(args, prog_name="sinkit")

    pids = [fork(work, tmp_path / f"log{i}.txt") for i in range(2)]
    os.write(go_write, b"GO")
    codes = [wait(p) for p in pids]
    assert sorted(codes) == [0, 1], codes
    loser = (tmp_path / f"log{codes.index(1)}.txt").read_text()
    error = [line for line in loser.splitlines() if line.startswith("Error: ")]
    assert len(error) == 1 and ("is being written by process" in error[0] or "already holds" in error[0]), loser
    same_weights(reference, sinkit.load(run, device="cpu"))
    assert sorted(p.name for p in (run / "scales").iterdir()) == [f"{i:02d}" for i in range(5)]


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_a_stale_lock_is_taken_over_by_exactly_one_of_many(tmp_path):
    lock = tmp_path / LOCK_NAME
    lock.write_text(f"{socket.gethostname()}:{_dead_pid()}")
    go_read, go_write = os.pipe()
    res_read, res_write = os.pipe()

    def work():
        os.read(go_read, 1)
        owner = claim(lock)
        os.write(res_write, b"W" if owner is None else b"L")
        time.sleep(0.3)  # hold it while the others try
        return 0

    pids = [fork(work) for _ in range(6)]
    os.write(go_write, b"G" * 6)
    assert all(wait(p) == 0 for p in pids)
    results = b"".join(os.read(res_read, 6) for _ in range(1))
    while len(results) < 6:
        results += os.read(res_read, 6)
    assert sorted(results.decode()) == ["L"] * 5 + ["W"], results


def test_locks_of_other_hosts_are_respected_and_this_process_reenters(tmp_path):
    lock = tmp_path / LOCK_NAME
    lock.write_text("elsewhere:123")
    assert claim(lock) == "elsewhere:123" and holder(lock) == "elsewhere:123"
    with pytest.raises(LockedError, match=r"being written by process 123 on host elsewhere .* if no such process runs on elsewhere, delete "):
        sinkit.core.locks.DirectoryLock(tmp_path).acquire()
    lock.unlink()
    assert claim(lock) is None and claim(lock) is None  # re-entrant
    release(lock)
    assert lock.exists()
    release(lock)
    assert not lock.exists()


# ----------------------------------------------------------------------------- disks
def test_disk_full_keeps_the_previous_checkpoint_and_says_so(image_file, image, reference, tmp_path, monkeypatch):
    run = tmp_path / "run"
    real_fsync, calls = os.fsync, {"n": 0}

    def fsync(fd):  # the 3rd checkpoint's weights (files: weights, config.json, weights...): the disk is full
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return real_fsync(fd)
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(checkpoint_mod.os, "fsync", fsync)
    with pytest.raises(CheckpointWriteError, match=rf"^cannot save the checkpoint in {run}: No space left on device; the previous checkpoint there is intact$") as err:
        SinGAN.train(image, MICRO, out_dir=run, device="cpu", progress=False)
    assert err.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert sinkit.load(run, device="cpu").num_scales == 2
    assert not list(run.glob(".*.tmp")) and not (run / LOCK_NAME).exists()
    check_recovers(run, image, reference)

    # the command line: one line, and how to go on
    other = tmp_path / "cli"
    calls["n"] = 0
    monkeypatch.setattr(checkpoint_mod.os, "fsync", fsync)
    result = CliRunner().invoke(cli, ["train", str(image_file), "--out", str(other), *MICRO_ARGS])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: cannot save the checkpoint in {other}: No space left on device; the previous checkpoint there is intact; "
        f"once fixed, resume with: sinkit train {image_file} --out {other} {shlex.join(MICRO_ARGS)} --resume"
    )


def test_a_real_write_failure_from_the_kernel(image_file, image, reference, tmp_path):
    """The file-size limit (RLIMIT_FSIZE) makes the kernel fail the 2nd checkpoint's write with EFBIG,
    through the real writer, as a full disk would with ENOSPC."""
    probe = tmp_path / "probe"
    SinGAN.train(image, MICRO, out_dir=probe, device="cpu", progress=False, stop_after=1)
    first = (probe / "model.safetensors").stat().st_size
    run, log = tmp_path / "run", tmp_path / "log.txt"

    def work():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (first + 4096, resource.RLIM_INFINITY))
        return cli.main(["train", str(image_file), "--out", str(run), *MICRO_ARGS], prog_name="sinkit")

    assert wait(fork(work, log)) == 1, log.read_text()
    error = [line for line in log.read_text().splitlines() if line.startswith("Error: ")]
    assert error == [f"Error: cannot save the checkpoint in {run}: File too large; the previous checkpoint there is intact; "
                     f"once fixed, resume with: sinkit train {image_file} --out {run} {shlex.join(MICRO_ARGS)} --resume"], log.read_text()
    assert sinkit.load(run, device="cpu").num_scales == 1
    check_recovers(run, image, reference)


def test_checkpoint_files_get_the_permissions_of_other_outputs(image, tmp_path):
    old = os.umask(0o022)
    try:
        SinGAN.train(image, MICRO, out_dir=tmp_path, device="cpu", progress=False, stop_after=1)
    finally:
        os.umask(old)
    for name in ("model.safetensors", "config.json", "scales/00/real.png"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name


# ----------------------------------------------------------------------------- a run directory used twice
def test_an_existing_model_is_never_replaced_silently(image, tmp_path):
    run = tmp_path / "run"
    first = SinGAN.train(image, MICRO, out_dir=run, device="cpu", progress=False)
    (run / "samples.png").write_bytes(b"old samples")
    other = image.flip(-1)
    with pytest.raises(RunExistsError, match=r"already holds a finished singan model; pass --overwrite"):
        SinGAN.train(other, MICRO, out_dir=run, device="cpu", progress=False)
    same_weights(first, sinkit.load(run, device="cpu"))  # untouched
    with pytest.raises(ValueError, match="exclude each other"):
        SinGAN.train(other, MICRO, out_dir=run, resume=True, overwrite=True, device="cpu", progress=False)
    with pytest.raises(ValueError, match="trained on a different image"):
        SinGAN.train(other, MICRO, out_dir=run, resume=True, device="cpu", progress=False)
    # overwrite: the old per-scale images and samples go first; only the new run's remain
    SinGAN.train(other, MICRO, out_dir=run, overwrite=True, device="cpu", progress=False, stop_after=2)
    assert sorted(p.name for p in (run / "scales").iterdir()) == ["00", "01"]
    assert not (run / "samples.png").exists()
    assert torch.equal(sinkit.load(run, device="cpu").real, other)


def test_an_interrupted_bench_says_how_to_continue(image_file, tmp_path, monkeypatch):
    import sinkit.bench

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sinkit.bench, "run_benchmarks", interrupted)
    result = CliRunner().invoke(cli, ["bench", str(image_file.parent), "--out", str(tmp_path / "b")])
    assert result.exit_code == 130
    assert result.stderr.strip() == (
        f"interrupted: finished images are kept in {tmp_path / 'b'}; run the same command again to continue "
        "(the image in progress resumes from its last checkpoint)"
    )
