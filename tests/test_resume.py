"""Checkpoint/resume through `simulate`: an interrupted run, resumed from its checkpoint, gives
bitwise the numbers of an uninterrupted one.

Two kinds of interruption:

- in process: `save_checkpoint` (as `simulate` looks it up) is wrapped so that the run raises
  right after its k-th checkpoint is on disk; the same call is then repeated;
- a real crash: a subprocess is killed with SIGKILL (after a checkpoint, while a checkpoint is
  being written, or at an arbitrary moment), and a fresh process resumes.

A resumed run must really resume (it writes fewer checkpoints than a run from scratch: the
finished chunks are not recomputed) and must give bitwise the final state, positions,
observables and saved frames of the run that was never interrupted.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from unittest import mock

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from _stats import assert_pytrees_bitwise_equal

import jaxneq as jn


class _Interrupted(BaseException):
    """Raised by the spy after the k-th checkpoint: a crash between two chunks."""


@contextlib.contextmanager
def _spy_checkpoints(interrupt_after: int | None = None):
    """Count the checkpoints `simulate` writes; raise `_Interrupted` after the k-th one."""
    import jaxneq.langevin._checkpoint as checkpoint_module
    import jaxneq.langevin._driver as simulate_module

    real = checkpoint_module.save_checkpoint
    calls: list[dict] = []

    def spy(path, tree, meta=None):
        real(path, tree, meta)
        calls.append(dict(meta or {}))
        if interrupt_after is not None and len(calls) >= interrupt_after:
            raise _Interrupted

    with contextlib.ExitStack() as stack:
        for module in (checkpoint_module, simulate_module):
            if hasattr(module, "save_checkpoint"):
                stack.enter_context(mock.patch.object(module, "save_checkpoint", spy))
        yield calls


def _double_well(x):
    return jnp.sum((x * x - 1.0) ** 2)


def _square(x):
    return x * x


def _identity(x):
    return x


@functools.cache
def _overdamped_parts(dtype, temperature=0.6):
    """System and observables built once, so that the jit cache is shared between tests."""
    system = jn.langevin.Overdamped(potential=_double_well, temperature=temperature)
    observables = {
        "mean": jn.observables.Mean(_square),
        "histogram": jn.observables.Histogram(jnp.linspace(-2.5, 2.5, 11, dtype=dtype)),
        "entropy": jn.observables.EntropyProduction(),
    }
    return system, observables


def _overdamped_case(dtype):
    system, observables = _overdamped_parts(dtype)
    x0 = jr.normal(jr.key(2), (16, 1), dtype)
    kwargs = dict(key=jr.key(5), dt=1e-2, n_steps=60, observables=observables, save_every=5)
    return system, x0, kwargs


@functools.cache
def _underdamped_parts():
    system = jn.langevin.Underdamped(potential=_double_well, temperature=0.8, friction=0.5)
    return system, {"mean": jn.observables.Mean(_identity)}


def _underdamped_case(dtype):
    system, observables = _underdamped_parts()
    x0 = jr.normal(jr.key(3), (12, 2), dtype)
    kwargs = dict(key=jr.key(9), dt=2e-2, n_steps=40, observables=observables)
    return system, x0, kwargs


def _numbers(result) -> dict[str, np.ndarray]:
    """Everything a run returns, flattened to named host arrays."""
    out = {}
    for name, tree in (
        ("x", result.x),
        ("state", result.state),
        ("observables", result.observables),
        ("trajectory", result.trajectory),
    ):
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
            out[name + jax.tree_util.keystr(path)] = np.asarray(leaf)
    return out


def _assert_bitwise(got: dict, want: dict):
    # a run that blew up would match itself: the reference must be finite
    for name, b in want.items():
        if b.dtype.kind == "f":
            assert np.all(np.isfinite(b)), name
    assert_pytrees_bitwise_equal(got, want)


@pytest.mark.parametrize("interrupt_after", [1, 3])
def test_interrupted_overdamped_run_resumes_to_bitwise_the_uninterrupted_numbers(
    tmp_path, interrupt_after
):
    system, x0, kwargs = _overdamped_case(jnp.float64)
    reference = _numbers(jn.langevin.simulate(system, x0, chunk_size=10, **kwargs))
    path = tmp_path / "run.npz"

    with _spy_checkpoints() as full_calls:  # how many checkpoints a whole run writes
        jn.langevin.simulate(system, x0, chunk_size=10, checkpoint=tmp_path / "full.npz", **kwargs)
    with _spy_checkpoints(interrupt_after), pytest.raises(_Interrupted):
        jn.langevin.simulate(system, x0, chunk_size=10, checkpoint=path, **kwargs)
    assert path.exists()
    with _spy_checkpoints() as resumed_calls:
        resumed = jn.langevin.simulate(system, x0, chunk_size=10, checkpoint=path, **kwargs)

    assert len(resumed_calls) < len(full_calls), "the resumed run started from scratch"
    _assert_bitwise(_numbers(resumed), reference)


def test_interrupted_underdamped_run_resumes_with_the_same_velocities(tmp_path):
    system, x0, kwargs = _underdamped_case(jnp.float64)
    reference = _numbers(jn.langevin.simulate(system, x0, chunk_size=10, **kwargs))
    path = tmp_path / "run.npz"
    with _spy_checkpoints(2), pytest.raises(_Interrupted):
        jn.langevin.simulate(system, x0, chunk_size=10, checkpoint=path, **kwargs)
    resumed = jn.langevin.simulate(system, x0, chunk_size=10, checkpoint=path, **kwargs)
    assert any(name.startswith("state") and "v" in name for name in reference)
    _assert_bitwise(_numbers(resumed), reference)


def test_run_resumed_with_another_chunk_size_gives_the_same_numbers(tmp_path):
    system, x0, kwargs = _overdamped_case(jnp.float64)
    reference = _numbers(jn.langevin.simulate(system, x0, chunk_size=10, **kwargs))
    path = tmp_path / "run.npz"
    with _spy_checkpoints(2), pytest.raises(_Interrupted):
        jn.langevin.simulate(system, x0, chunk_size=10, checkpoint=path, **kwargs)
    resumed = jn.langevin.simulate(system, x0, chunk_size=25, checkpoint=path, **kwargs)
    _assert_bitwise(_numbers(resumed), reference)


def test_float32_run_resumes_bitwise(tmp_path):
    system, x0, kwargs = _overdamped_case(jnp.float32)
    reference = _numbers(jn.langevin.simulate(system, x0, chunk_size=20, **kwargs))
    assert reference["x"].dtype == np.float32
    path = tmp_path / "run.npz"
    with _spy_checkpoints(1), pytest.raises(_Interrupted):
        jn.langevin.simulate(system, x0, chunk_size=20, checkpoint=path, **kwargs)
    resumed = jn.langevin.simulate(system, x0, chunk_size=20, checkpoint=path, **kwargs)
    _assert_bitwise(_numbers(resumed), reference)


def test_checkpointed_run_gives_the_numbers_of_a_run_without_checkpoint(tmp_path):
    system, x0, kwargs = _overdamped_case(jnp.float64)
    reference = _numbers(jn.langevin.simulate(system, x0, **kwargs))
    path = tmp_path / "run.npz"
    first = jn.langevin.simulate(system, x0, chunk_size=10, checkpoint=path, **kwargs)
    _assert_bitwise(_numbers(first), reference)
    again = jn.langevin.simulate(system, x0, chunk_size=10, checkpoint=path, **kwargs)
    _assert_bitwise(_numbers(again), reference)  # a finished run rerun: the same numbers


def test_checkpoint_file_is_a_plain_npz_without_pickled_objects(tmp_path):
    system, x0, kwargs = _overdamped_case(jnp.float64)
    path = tmp_path / "run.npz"
    with _spy_checkpoints(1), pytest.raises(_Interrupted):
        jn.langevin.simulate(system, x0, chunk_size=10, checkpoint=path, **kwargs)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    assert arrays and all(a.dtype.kind != "O" for a in arrays.values())
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]  # no temporary file left


# Two potentials with the same name and bytecode, different constants (co_consts).
_WELLS = (
    jn.langevin.Overdamped(potential=lambda x: jnp.sum((x * x - 1.0) ** 2), temperature=0.6),
    jn.langevin.Overdamped(potential=lambda x: jnp.sum((x * x - 0.5) ** 2), temperature=0.6),
)


def _scaled_well(scale):
    return lambda x: scale * jnp.sum((x * x - 1.0) ** 2)


_SCALED = (
    jn.langevin.Overdamped(potential=_scaled_well(1.0), temperature=0.6),
    jn.langevin.Overdamped(potential=_scaled_well(3.0), temperature=0.6),
)


@pytest.mark.parametrize(
    "change", ["key", "x0", "n_steps", "dt", "temperature", "potential", "closure"]
)
def test_checkpoint_of_another_run_is_never_mixed_into_this_one(tmp_path, change):
    """A checkpoint written for other settings raises `ValueError` or is ignored; never
    does the new run continue from the old state."""
    system, x0, kwargs = _overdamped_case(jnp.float64)
    if change == "closure":
        system = _SCALED[0]
    elif change == "potential":
        system = _WELLS[0]
    path = tmp_path / "run.npz"
    with _spy_checkpoints(2), pytest.raises(_Interrupted):
        jn.langevin.simulate(system, x0, chunk_size=10, checkpoint=path, **kwargs)

    if change == "potential":
        system = _WELLS[1]
    elif change == "closure":
        system = _SCALED[1]
    elif change == "key":
        kwargs["key"] = jr.key(6)
    elif change == "x0":
        x0 = x0 + 0.25
    elif change == "n_steps":
        kwargs["n_steps"] = 70
    elif change == "dt":
        kwargs["dt"] = 2e-2
    elif change == "temperature":
        system = _overdamped_parts(jnp.float64, temperature=0.9)[0]
    reference = _numbers(jn.langevin.simulate(system, x0, chunk_size=10, **kwargs))
    try:
        result = jn.langevin.simulate(system, x0, chunk_size=10, checkpoint=path, **kwargs)
    except ValueError as e:
        assert "checkpoint" in str(e)
        return
    _assert_bitwise(_numbers(result), reference)


# --------------------------------------------------------------------------- killed processes

_CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import jax.random as jr
    import numpy as np
    import jaxneq as jn
    import jaxneq.langevin._checkpoint as checkpoint_module
    import jaxneq.langevin._driver as simulate_module

    mode, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
    n_chunks = int(sys.argv[4])

    def double_well(x):
        return jnp.sum((x * x - 1.0) ** 2)

    system = jn.langevin.Overdamped(potential=double_well, temperature=0.6)
    x0 = jr.normal(jr.key(2), (32, 1), jnp.float64)
    observables = {
        "mean": jn.observables.Mean(lambda x: x * x),
        "histogram": jn.observables.Histogram(jnp.linspace(-2.5, 2.5, 11)),
        "entropy": jn.observables.EntropyProduction(),
    }
    chunk = 10
    kwargs = dict(key=jr.key(5), dt=1e-2, n_steps=chunk * n_chunks, observables=observables,
                  save_every=chunk, chunk_size=chunk)

    real_save, real_replace = checkpoint_module.save_checkpoint, os.replace
    saves = []

    def signal_parent(message):
        sys.stdout.write(message + "\\n")
        sys.stdout.flush()
        time.sleep(600)  # wait here for SIGKILL

    def spy_save(p, tree, meta=None):
        real_save(p, tree, meta)
        saves.append(1)
        if mode == "stop_after_checkpoint" and len(saves) == 3:
            signal_parent("CHECKPOINTED")
        if mode == "anytime" and len(saves) == 1:
            sys.stdout.write("STARTED\\n")
            sys.stdout.flush()

    def spy_replace(src, dst):
        # the third checkpoint is completely written to its temporary file, not yet renamed
        if mode == "stop_while_writing" and len(saves) == 2:
            signal_parent("WRITING")
        real_replace(src, dst)

    checkpoint_module.save_checkpoint = spy_save
    if hasattr(simulate_module, "save_checkpoint"):
        simulate_module.save_checkpoint = spy_save
    os.replace = spy_replace

    result = jn.langevin.simulate(system, x0, checkpoint=path, **kwargs)
    numbers = {}
    for name, tree in (("x", result.x), ("state", result.state),
                       ("observables", result.observables), ("trajectory", result.trajectory)):
        for p, leaf in jax.tree_util.tree_leaves_with_path(tree):
            numbers[name + jax.tree_util.keystr(p)] = np.asarray(leaf)
    if mode == "resume":
        os.replace = real_replace
        checkpoint_module.save_checkpoint = real_save
        if hasattr(simulate_module, "save_checkpoint"):
            simulate_module.save_checkpoint = real_save
        fresh = jn.langevin.simulate(system, x0, **kwargs)  # never interrupted, no checkpoint
        for p, leaf in jax.tree_util.tree_leaves_with_path(
            (fresh.x, fresh.state, fresh.observables, fresh.trajectory)
        ):
            numbers["reference" + jax.tree_util.keystr(p)] = np.asarray(leaf)
    np.savez(out, **numbers)
    print("DONE " + json.dumps({"saves": len(saves)}))
    """
)


def _child_env():
    env = dict(os.environ)
    env["JAX_PLATFORMS"] = "cpu"
    return env


def _start_child(mode, path, out, n_chunks):
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, mode, str(path), str(out), str(n_chunks)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_child_env(),
    )


def _kill_when(child, message, timeout=300.0):
    line = child.stdout.readline()  # blocks until the child reports (or dies)
    if not line.startswith(message):
        child.kill()
        raise AssertionError(f"child said {line!r}, stderr:\n{child.communicate()[1][-4000:]}")
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout)
    assert child.returncode == -signal.SIGKILL


def _resume_and_compare(path, out, n_chunks):
    child = _start_child("resume", path, out, n_chunks)
    stdout, stderr = child.communicate(timeout=300)
    assert child.returncode == 0, stderr[-4000:]
    saves = json.loads(stdout.strip().splitlines()[-1][len("DONE ") :])["saves"]
    with np.load(out, allow_pickle=False) as npz:
        numbers = dict(npz)
    resumed = {k: v for k, v in numbers.items() if not k.startswith("reference")}
    reference = {
        k.replace("reference[0]", "x", 1)
        .replace("reference[1]", "state", 1)
        .replace("reference[2]", "observables", 1)
        .replace("reference[3]", "trajectory", 1): v
        for k, v in numbers.items()
        if k.startswith("reference")
    }
    _assert_bitwise(resumed, reference)
    return saves


def test_process_killed_after_a_checkpoint_resumes_bitwise(tmp_path):
    path, n_chunks = tmp_path / "run.npz", 8
    _kill_when(_start_child("stop_after_checkpoint", path, tmp_path / "a.npz", n_chunks), "CHECK")
    saves = _resume_and_compare(path, tmp_path / "b.npz", n_chunks)
    assert saves < n_chunks - 2, "the resumed process started from scratch"


@pytest.mark.slow
def test_process_killed_while_writing_a_checkpoint_resumes_from_the_previous_one(tmp_path):
    path, n_chunks = tmp_path / "run.npz", 8
    _kill_when(_start_child("stop_while_writing", path, tmp_path / "a.npz", n_chunks), "WRITING")
    assert path.exists()  # the second checkpoint, intact
    saves = _resume_and_compare(path, tmp_path / "b.npz", n_chunks)
    assert saves < n_chunks - 1, "the resumed process started from scratch"


@pytest.mark.slow
def test_process_killed_at_an_arbitrary_moment_resumes_bitwise(tmp_path):
    path, n_chunks = tmp_path / "run.npz", 400
    child = _start_child("anytime", path, tmp_path / "a.npz", n_chunks)
    line = child.stdout.readline()
    assert line.startswith("STARTED"), child.communicate()[1][-4000:]
    time.sleep(0.3)  # somewhere inside a chunk or a checkpoint write
    os.kill(child.pid, signal.SIGKILL)
    child.wait(60)
    assert child.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    saves = _resume_and_compare(path, tmp_path / "b.npz", n_chunks)
    assert saves < n_chunks, "the resumed process started from scratch"
