"""Speed options of simulate and the observables change the cost, never the numbers they
promise: `unroll` (steps per loop iteration) is bitwise neutral for eager chunks, traced
scans and gradients; `every=` samples exactly the steps it documents, checked against a
hand computation on the saved trajectory."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from _stats import assert_pytrees_bitwise_equal

import jaxneq as jn


@functools.lru_cache
def _double_well_system():
    return jn.langevin.Overdamped(lambda x: jnp.sum((x**2 - 1.0) ** 2), temperature=0.5)


def _square(x):
    return x**2


def _run(dtype=jnp.float64, **kwargs):
    x0 = jnp.linspace(-1.5, 1.5, 6, dtype=dtype)[:, None]
    obs = {"m": jn.observables.Mean(_square)}
    res = jn.langevin.simulate(
        _double_well_system(),
        x0,
        key=jr.key(3),
        dt=1e-2,
        n_steps=23,
        observables=obs,
        **kwargs,
    )
    return res.x, res.observables, res.trajectory


@pytest.mark.parametrize(
    "dtype, unroll, chunk_size",
    [(jnp.float64, 3, 5), (jnp.float64, 8, None), (jnp.float32, 3, 5)],
)
def test_unroll_is_bitwise_neutral_for_any_chunk_size(dtype, unroll, chunk_size):
    # 23 steps in chunks of 5 with 3 steps per iteration: whole blocks and remainders
    reference = _run(dtype, unroll=1)
    assert_pytrees_bitwise_equal(reference, _run(dtype, unroll=unroll, chunk_size=chunk_size))


def test_unroll_is_bitwise_neutral_with_saved_trajectories():
    reference = _run(unroll=1, save_every=1)
    assert_pytrees_bitwise_equal(reference, _run(unroll=4, save_every=1, chunk_size=6))


@pytest.mark.parametrize(
    "adjoint", [jn.langevin.DirectAdjoint(), jn.langevin.RecursiveCheckpointAdjoint(4)]
)
def test_unroll_is_bitwise_neutral_under_jit_and_grad(adjoint):
    system = jn.langevin.Overdamped(lambda x: jnp.sum(x**2) / 2, temperature=0.5)
    x0 = jnp.linspace(-1.0, 1.0, 5)[:, None]

    def loss(temperature, unroll):
        s = jn.langevin.Overdamped(lambda x: jnp.sum(x**2) / 2, temperature=temperature)
        res = jn.langevin.simulate(
            s, x0, key=jr.key(0), dt=1e-2, n_steps=19, adjoint=adjoint, unroll=unroll
        )
        return jnp.mean(res.x**2)

    values = [jax.jit(jax.value_and_grad(loss), static_argnums=1)(0.5, u) for u in (1, 3)]
    assert_pytrees_bitwise_equal(values[0], values[1])
    del system


@pytest.mark.parametrize("unroll", [0, -1, 1.5, True])
def test_bad_unroll_raises_naming_it(unroll):
    with pytest.raises(ValueError, match="`unroll`"):
        _run(unroll=unroll)


def _ou_with_every(**kwargs):
    system = jn.langevin.Overdamped(lambda x: jnp.sum(x**2) / 2, temperature=0.5)
    edges = jnp.linspace(-1.5, 1.5, 7)
    obs = {
        "m": jn.observables.Mean(lambda x: x**2, burn_in=10, every=4),
        "h": jn.observables.Histogram(edges, burn_in=10, every=4),
        "j": jn.observables.CurrentField(edges, burn_in=10, every=4),
    }
    res = jn.langevin.simulate(
        system,
        jnp.linspace(-1, 1, 7)[:, None],
        key=jr.key(5),
        dt=0.05,
        n_steps=50,
        observables=obs,
        **kwargs,
    )
    return res, edges


def test_every_samples_the_steps_that_are_multiples_of_every_after_burn_in():
    res, edges = _ou_with_every(save_every=1)
    edges = np.asarray(edges)
    traj = np.asarray(res.trajectory)[..., 0]  # [51, 7]: traj[j] is the state after step j
    steps = [j for j in range(1, 51) if j % 4 == 0 and j > 10]  # 12, 16, ..., 48
    assert steps[0] == 12 and len(steps) == 10
    np.testing.assert_allclose(
        res.observables["m"][:, 0], np.mean(traj[steps] ** 2, axis=0), rtol=1e-13
    )
    width = edges[1] - edges[0]
    samples = traj[steps].ravel()
    counts, _ = np.histogram(samples, bins=edges)
    np.testing.assert_allclose(res.observables["h"], counts / (samples.size * width), rtol=1e-13)
    # CurrentField: half of each sampled step's displacement to the bins of its two ends
    sums = np.zeros(len(edges) - 1)
    for j in steps:
        half = 0.5 * (traj[j] - traj[j - 1])
        for x in (traj[j - 1], traj[j]):
            i = np.searchsorted(edges, x, side="right") - 1
            inside = (i >= 0) & (i < len(sums))
            np.add.at(sums, i[inside], half[inside])
    np.testing.assert_allclose(
        res.observables["j"][:, 0], sums / (0.05 * samples.size * width), rtol=1e-12, atol=1e-12
    )


def test_every_is_the_same_eager_chunked_and_jitted():
    eager, _ = _ou_with_every(chunk_size=7)
    whole, _ = _ou_with_every()
    assert_pytrees_bitwise_equal(eager.observables, whole.observables)
    jitted = jax.jit(lambda: _ou_with_every()[0].observables)()
    for name in ("m", "h", "j"):
        np.testing.assert_allclose(jitted[name], whole.observables[name], rtol=1e-12)


def test_every_one_is_the_default_and_every_step_is_sampled():
    system = jn.langevin.Overdamped(lambda x: jnp.sum(x**2) / 2, temperature=0.5)
    res = jn.langevin.simulate(
        system,
        jnp.zeros((3, 1)),
        key=jr.key(1),
        dt=0.1,
        n_steps=9,
        observables={
            "a": jn.observables.Mean(burn_in=2),
            "b": jn.observables.Mean(burn_in=2, every=1),
        },
        save_every=1,
    )
    expected = np.asarray(res.trajectory)[3:].mean(axis=0)
    np.testing.assert_allclose(res.observables["a"], expected, rtol=1e-13)
    assert_pytrees_bitwise_equal(res.observables["a"], res.observables["b"])


@pytest.mark.parametrize("every", [0, -2, 2.0, True])
def test_bad_every_raises_naming_it(every):
    with pytest.raises(ValueError, match="`every`"):
        jn.observables.Mean(every=every)
    with pytest.raises(ValueError, match="`every`"):
        jn.observables.Histogram(jnp.linspace(0, 1, 3), every=every)


def test_every_that_samples_no_step_raises():
    system = jn.langevin.Overdamped(lambda x: jnp.sum(x**2) / 2)
    with pytest.raises(ValueError, match="every=8 and burn_in=3"):
        jn.langevin.simulate(
            system,
            jnp.zeros((2, 1)),
            key=jr.key(0),
            dt=0.1,
            n_steps=7,
            observables={"m": jn.observables.Mean(burn_in=3, every=8)},
        )


def test_every_float32_smoke_under_vmap_over_temperatures():
    def run(temperature):
        s = jn.langevin.Overdamped(lambda x: jnp.sum(x**2) / 2, temperature=temperature)
        obs = {"m": jn.observables.Mean(lambda x: x**2, every=3)}
        return jn.langevin.simulate(
            s,
            jnp.zeros((4, 1), jnp.float32),
            key=jr.key(2),
            dt=jnp.float32(0.1),
            n_steps=12,
            observables=obs,
        ).observables["m"]

    batched = jax.vmap(run)(jnp.asarray([0.5, 1.0], jnp.float32))
    assert batched.dtype == jnp.float32 and batched.shape == (2, 4, 1)
    np.testing.assert_allclose(batched[1], run(jnp.float32(1.0)), rtol=1e-6)
