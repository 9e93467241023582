"""Mean and Histogram against direct numpy on saved trajectories; the observable protocol."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import jaxneq as jn
from jaxneq.observables import AbstractObservable, Histogram, Mean


def harmonic(x):
    return 0.5 * jnp.sum(x**2)


SYSTEM = jn.langevin.Overdamped(harmonic, temperature=0.8)


def _run(x0, observables, n_steps=40, **kwargs):
    return jn.langevin.simulate(
        SYSTEM,
        x0,
        key=jr.key(1),
        dt=0.05,
        n_steps=n_steps,
        observables=observables,
        save_every=1,
        **kwargs,
    )


def test_mean_is_the_time_average_after_burn_in_of_the_saved_trajectory():
    x0 = jr.normal(jr.key(0), (7, 2))
    res = _run(x0, {"m": Mean(lambda x: jnp.stack([x[0] * x[1], jnp.sum(x)]), burn_in=9)})
    traj = np.asarray(res.trajectory)  # [n_steps + 1, b, 2]; index k = after step k
    x = traj[10:]
    expected = np.stack([x[..., 0] * x[..., 1], x.sum(-1)], -1).mean(0)
    np.testing.assert_allclose(res.observables["m"], expected, rtol=1e-12)


def test_mean_without_fn_averages_the_position():
    x0 = jr.normal(jr.key(2), (3, 2, 1))
    res = _run(x0, {"m": Mean()})
    np.testing.assert_allclose(res.observables["m"], res.trajectory[1:].mean(0), rtol=1e-12)


def test_mean_of_a_constant_stays_exact_in_float32_over_many_steps():
    # compensated summation: a naive float32 running sum of 0.1 drifts by ~1e-3 here
    res = jn.langevin.simulate(
        SYSTEM,
        jnp.zeros((1, 1), jnp.float32),
        key=jr.key(0),
        dt=0.01,
        n_steps=100_000,
        observables={"c": Mean(lambda x: jnp.full_like(x, 0.1))},
    )
    assert res.observables["c"].dtype == jnp.float32
    np.testing.assert_allclose(res.observables["c"], np.float32(0.1), rtol=2e-7)


def _density(counts, n_samples, *edges):
    """numpy counts per unit volume over ALL samples (those outside the range included)."""
    volume = np.diff(edges[0]) if len(edges) == 1 else np.outer(*map(np.diff, edges))
    return counts / (n_samples * volume)


def test_histogram_1d_matches_numpy_histogram_of_the_trajectory_after_burn_in():
    x0 = jr.normal(jr.key(3), (50, 1))
    edges = np.linspace(-1.5, 1.5, 13)
    res = _run(x0, {"p": Histogram(edges, burn_in=5)})
    samples = np.asarray(res.trajectory[6:]).ravel()
    expected = _density(np.histogram(samples, edges)[0], samples.size, edges)
    np.testing.assert_allclose(res.observables["p"], expected, rtol=1e-12)
    # samples outside the range are in no bin but count in the normalisation
    inside = np.mean(np.abs(samples) <= 1.5)
    assert inside < 1
    np.testing.assert_allclose(np.sum(res.observables["p"] * np.diff(edges)), inside)


def test_histogram_1d_pools_all_particles_by_default_and_projects_with_fn():
    x0 = jr.normal(jr.key(4), (10, 3, 2))  # 3 particles in 2D
    edges = np.linspace(-2, 2, 9)
    res = _run(x0, {"all": Histogram(edges), "x": Histogram(edges, fn=lambda x: x[:, 0])})
    traj = np.asarray(res.trajectory[1:])
    np.testing.assert_allclose(
        res.observables["all"],
        _density(np.histogram(traj.ravel(), edges)[0], traj.size, edges),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        res.observables["x"],
        _density(np.histogram(traj[..., 0].ravel(), edges)[0], traj[..., 0].size, edges),
        rtol=1e-12,
    )


def test_histogram_2d_matches_numpy_histogram2d_with_unequal_edges():
    x0 = jr.normal(jr.key(5), (40, 3))
    ex, ey = np.linspace(-2, 2, 6), np.array([-2.0, -0.5, 0.0, 0.3, 2.0])
    res = _run(x0, {"p": Histogram((ex, ey), burn_in=3, coordinates=(2, 0))})
    traj = np.asarray(res.trajectory[4:])
    counts, _, _ = np.histogram2d(traj[..., 2].ravel(), traj[..., 0].ravel(), (ex, ey))
    expected = _density(counts, traj[..., 0].size, ex, ey)
    assert res.observables["p"].shape == (5, 4)
    np.testing.assert_allclose(res.observables["p"], expected, rtol=1e-12)


def test_histogram_2d_of_points_pools_particles():
    x0 = jr.normal(jr.key(6), (20, 4, 2))
    edges = (np.linspace(-2, 2, 5), np.linspace(-2, 2, 3))
    res = _run(x0, {"p": Histogram(edges)})
    pts = np.asarray(res.trajectory[1:]).reshape(-1, 2)
    expected = _density(np.histogram2d(pts[:, 0], pts[:, 1], edges)[0], len(pts), *edges)
    np.testing.assert_allclose(res.observables["p"], expected, rtol=1e-12)


def test_histogram_counts_carry_past_uint32_overflow():
    h = Histogram(jnp.array([0.0, 1.0, 2.0]))
    acc = {
        "n": jnp.zeros((), jnp.int32),
        "lo": jnp.array([2**32 - 1, 5, 0], jnp.uint32),
        "hi": jnp.array([0, 0, 0], jnp.uint32),
    }
    x = jnp.array([[0.5], [0.5], [1.5]])
    acc = h.update(acc, x, x, SYSTEM, 0.0, 0.1)
    np.testing.assert_array_equal(acc["lo"], [1, 6, 0])
    np.testing.assert_array_equal(acc["hi"], [1, 0, 0])
    p = h.finalise(acc, 1, 0.1)
    np.testing.assert_allclose(p, np.array([2**32 + 1, 6]) / (2**32 + 7))  # nothing outside


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: Mean(burn_in=-1), "burn_in"),
        (lambda: Mean(fn=3), "fn"),
        (lambda: Histogram(jnp.array([0.0, 1.0, 0.5])), "increasing"),
        (lambda: Histogram((jnp.arange(3.0),) * 3), "two"),
        (lambda: Histogram(jnp.arange(3.0), burn_in=1.5), "burn_in"),
        (lambda: Histogram(jnp.arange(3.0), coordinates=(0, 1)), "coordinates"),
    ],
)
def test_bad_observable_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_histogram_2d_of_positions_without_a_pair_axis_asks_for_coordinates():
    with pytest.raises(ValueError, match="coordinates"):
        _run(jnp.zeros((2, 3)), {"p": Histogram((jnp.arange(3.0),) * 2)})


class FinalSquare(AbstractObservable):
    """A user-written observable: the last position squared (init ignores the system)."""

    def init(self, state, system):
        del system
        return jnp.zeros_like(state)

    def update(self, acc, before, after, system, t, dt):
        return after**2

    def finalise(self, acc, n_steps, dt):
        return acc


def test_user_observable_with_the_three_methods_works_in_simulate_under_jit():
    x0 = jr.normal(jr.key(7), (5, 1))
    run = jax.jit(lambda x0: _run(x0, {"sq": FinalSquare(), "m": Mean()}))
    res = run(x0)
    np.testing.assert_allclose(res.observables["sq"], res.x**2, rtol=1e-14)
    np.testing.assert_allclose(res.observables["m"], res.trajectory[1:].mean(0), rtol=1e-12)


def test_mean_and_histogram_float32_smoke():
    x0 = jnp.zeros((16, 1), jnp.float32)
    res = _run(
        x0, {"m": Mean(lambda x: x**2), "p": Histogram(jnp.linspace(-3, 3, 7, dtype=jnp.float32))}
    )
    assert res.observables["m"].dtype == jnp.float32
    assert res.observables["p"].dtype == jnp.float32
    np.testing.assert_allclose(jnp.sum(res.observables["p"]) * 1.0, 1.0, rtol=1e-6)


def test_histogram_can_be_built_inside_jit_with_traced_edges():
    edges = jnp.linspace(-1.0, 1.0, 5)
    built = jax.jit(lambda e: jn.observables.Histogram(e).edges[0])(edges)
    np.testing.assert_array_equal(built, edges)
