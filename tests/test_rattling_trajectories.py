"""`jaxneq.rattling.from_trajectories`: the windowed-covariance estimator against direct loops,
its exact transformation law, and recovery of a known R(x) from a simulated temperature field."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _stats import N_SE, mean_and_stderr, unit_roundoff

import jaxneq as jn

rattling = jn.rattling


def _reference(x, dt, window, edges, stride=1, anchor="mean", centre=True):
    """Direct loops over every window of every member, binned with numpy.histogramdd."""
    n, b, d = x.shape
    shape = tuple(len(e) - 1 for e in edges)
    s1, n_win = np.zeros(shape), np.zeros(shape)
    for t0 in range(0, n - window + 1, stride):
        for m in range(b):
            seg = x[t0 : t0 + window, m]
            y = (seg[1:] - seg[0]) / np.sqrt(np.arange(1, window)[:, None] * dt)
            cov = np.cov(y.T, ddof=1).reshape(d, d) if centre else y.T @ y / (window - 1)
            pos = seg.mean(0) if anchor == "mean" else seg[0]
            hit, _ = np.histogramdd(pos[None], bins=edges)
            s1 += 0.5 * np.linalg.slogdet(cov)[1] * hit
            n_win += hit
    counts, _ = np.histogramdd(x.reshape(-1, d), bins=edges)
    volume = np.ones(shape)
    for k, e in enumerate(edges):
        volume = volume * np.diff(e).reshape([-1 if i == k else 1 for i in range(d)])
    with np.errstate(invalid="ignore", divide="ignore"):
        return s1 / n_win, n_win, counts / (n * b * volume), counts


@pytest.mark.parametrize(
    ("d", "window", "stride", "anchor", "centre"),
    [(1, 4, 1, "mean", True), (2, 5, 3, "start", False), (3, 6, 2, "mean", True)],
)
def test_from_trajectories_equals_direct_loops_for_every_chunk_size(
    d, window, stride, anchor, centre
):
    rng = np.random.default_rng(d)
    x = 0.3 * rng.normal(size=(30, 4, d)).cumsum(0)
    edges = [np.linspace(-1.5, 1.5, 5 + k) for k in range(d)]
    rat, n_win, density, counts = _reference(x, 0.1, window, edges, stride, anchor, centre)
    for chunk_size in (None, 7):  # 7 does not divide the windows: the padded last chunk
        field = rattling.from_trajectories(
            x,
            0.1,
            window,
            edges=edges,
            stride=stride,
            anchor=anchor,
            centre=centre,
            chunk_size=chunk_size,
        )
        np.testing.assert_allclose(field.rattling, rat, rtol=1e-10)
        np.testing.assert_array_equal(field.window_counts, n_win)
        np.testing.assert_allclose(field.density, density, rtol=1e-12)
        np.testing.assert_array_equal(field.sample_counts, counts)
        assert field.rattling.shape == tuple(len(e) - 1 for e in edges)


def test_a_linear_map_of_the_trajectories_shifts_rattling_by_log_abs_det():
    # C -> A C A^T for every window, so R -> R + log|det A| exactly (the estimator measures
    # 1/2 log det D up to a constant, and D -> A D A^T).
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 16, 2)).cumsum(0)
    A = np.array([[2.0, 0.5], [-0.3, 0.7]])
    edges = [np.array([-1e3, 1e3])] * 2
    before = rattling.from_trajectories(x, 0.01, 6, edges=edges)
    after = rattling.from_trajectories(x @ A.T, 0.01, 6, edges=edges)
    shift = np.log(abs(np.linalg.det(A)))
    tol = 1e3 * unit_roundoff(np.float64)
    np.testing.assert_allclose(after.rattling - before.rattling, shift, atol=tol)
    np.testing.assert_array_equal(after.window_counts, before.window_counts)


def test_from_trajectories_recovers_the_rattling_of_a_temperature_field_up_to_a_constant():
    # dx = -x dt + sqrt(2 T(x)) dW (Ito), T = 1 + tanh(x)/2: R(x) = 1/2 log T(x) + const.
    temperature = lambda x: 1.0 + 0.5 * jnp.tanh(x[0])  # noqa: E731
    system = jn.langevin.Overdamped(lambda x: 0.5 * jnp.sum(x**2), temperature=temperature)
    n_groups, per_group, dt, window = 8, 50, 5e-4, 8
    x0 = jax.random.normal(jax.random.key(1), (n_groups * per_group, 1))
    run = jn.langevin.simulate(
        system, x0, key=jax.random.key(2), dt=dt, n_steps=12_000, save_every=1
    )
    x = run.trajectory.reshape(run.trajectory.shape[0], n_groups, per_group, 1)
    h = 0.1
    edges = jnp.arange(-1.5, 1.5 + h / 2, h)
    fields = jax.jit(
        jax.vmap(lambda xg: rattling.from_trajectories(xg, dt, window, edges=edges), 1)
    )(x)
    keep = np.all(np.asarray(fields.window_counts) >= 2000, axis=0)
    assert keep.sum() >= 20
    estimate, stderr = mean_and_stderr(np.asarray(fields.rattling)[:, keep])
    centres = np.asarray(0.5 * (edges[1:] + edges[:-1]))[keep]
    exact = 0.5 * np.log(1 + 0.5 * np.tanh(centres))
    # Systematic allowances, derived: (i) a window's anchor lies within h/2 of its bin's
    # centre and its path within ~sqrt(2 T_max (w - 1) dt) of the anchor, so its R differs
    # from R(centre) by at most max|R'| times their sum (max|R'| over the range, on a fine
    # grid); (ii) the drift mu F (|F| <= 1.5 + 0) adds at most |F|^2 dt / (2 T_min) relative
    # to the covariance, i.e. that much to log det / 2.
    spread = np.sqrt(2 * 1.5 * (window - 1) * dt)
    fine = np.linspace(-1.5 - spread, 1.5 + spread, 20_001)
    slope_bound = np.max(np.abs(np.gradient(0.5 * np.log(1 + 0.5 * np.tanh(fine)), fine)))
    bias = slope_bound * (h / 2 + spread) + 1.5**2 * dt / (2 * 0.5)
    difference = estimate - exact
    offset = difference.mean()
    tol = N_SE * (stderr + stderr.max()) + 2 * bias
    assert np.all(np.abs(difference - offset) <= tol), (difference - offset, tol)
    # the check has power: the law of a doubled exponent (R = log T) is rejected
    wrong = estimate - 2 * exact
    assert np.any(np.abs(wrong - wrong.mean()) > tol)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((np.zeros((10, 2)), 0.1, 4), {"edges": np.linspace(0, 1, 3)}, r"\[n_saved, b, d\]"),
        ((np.zeros((10, 2, 2)), 0.1, 3), {"edges": [np.linspace(0, 1, 3)] * 2}, "window >= 4"),
        ((np.zeros((10, 2, 2)), 0.1, 4), {"edges": np.linspace(0, 1, 3)}, "sequence of 2"),
        ((np.zeros((10, 2, 1)), 0.1, 11), {"edges": np.linspace(0, 1, 3)}, "exceeds"),
        ((np.zeros((10, 2, 1)), -0.1, 4), {"edges": np.linspace(0, 1, 3)}, "`dt`"),
        ((np.zeros((10, 2, 1)), 0.1, 4), {"edges": np.array([0.0, 1.0, 0.5])}, "increasing"),
        ((np.zeros((10, 2, 1)), 0.1, 4), {"edges": np.linspace(0, 1, 3), "anchor": "x"}, "anchor"),
    ],
)
def test_from_trajectories_bad_input_raises_a_clear_error(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        rattling.from_trajectories(*args, **kwargs)


def test_from_trajectories_under_jit_equals_eager_and_feeds_fit_gamma():
    rng = np.random.default_rng(4)
    x = jnp.asarray(0.2 * rng.normal(size=(60, 8, 1)).cumsum(0))
    edges = jnp.linspace(-2.0, 2.0, 9)
    eager = rattling.from_trajectories(x, 0.05, 5, edges=edges)
    jitted = jax.jit(lambda y: rattling.from_trajectories(y, 0.05, 5, edges=edges))(x)
    np.testing.assert_allclose(jitted.rattling, eager.rattling, rtol=1e-12)
    np.testing.assert_array_equal(jitted.sample_counts, eager.sample_counts)
    fit = rattling.fit_gamma(eager.density, eager.rattling, weights=eager.observed)
    assert np.isfinite(float(fit.gamma)) and np.isfinite(float(fit.kl))


def _reference_neighbours(x, dt, window, points, k, stride=1, anchor="mean", centre=True):
    """Every window's rattling and anchor by direct loops; brute-force k nearest with numpy."""
    n, b, d = x.shape
    values, anchors = [], []
    for t0 in range(0, n - window + 1, stride):
        for m in range(b):
            seg = x[t0 : t0 + window, m]
            y = (seg[1:] - seg[0]) / np.sqrt(np.arange(1, window)[:, None] * dt)
            cov = np.cov(y.T, ddof=1).reshape(d, d) if centre else y.T @ y / (window - 1)
            values.append(0.5 * np.linalg.slogdet(cov)[1])
            anchors.append(seg.mean(0) if anchor == "mean" else seg[0])
    values, anchors = np.array(values), np.array(anchors)
    dist = np.linalg.norm(points[:, None, :] - anchors[None], axis=-1)
    nearest = np.argsort(dist, axis=1)[:, :k]
    radius = np.take_along_axis(dist, nearest[:, -1:], axis=1)[:, 0]
    return values[nearest].mean(1), values[nearest].std(1), radius, len(values)


@pytest.mark.parametrize(
    ("d", "window", "stride", "anchor"), [(1, 4, 1, "mean"), (2, 5, 3, "start")]
)
def test_nearest_neighbour_rattling_equals_brute_force_for_every_chunk_size(
    d, window, stride, anchor
):
    rng = np.random.default_rng(10 + d)
    x = 0.3 * rng.normal(size=(30, 4, d)).cumsum(0)
    points = rng.normal(size=(7, d))
    k = 5
    mean, std, radius, n_total = _reference_neighbours(x, 0.1, window, points, k, stride, anchor)
    ball = np.pi ** (d / 2) / math.gamma(d / 2 + 1)
    for chunk_size in (None, 3):  # 3: several chunks and a padded last one
        got = rattling.from_trajectories(
            x,
            0.1,
            window,
            points=points,
            neighbours=k,
            stride=stride,
            anchor=anchor,
            chunk_size=chunk_size,
        )
        np.testing.assert_allclose(got.rattling, mean, rtol=1e-10)
        np.testing.assert_allclose(got.rattling_std, std, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(got.radius, radius, rtol=1e-12)
        np.testing.assert_allclose(got.density, (k - 1) / (n_total * ball * radius**d), rtol=1e-10)
        assert got.n_windows == n_total


def test_nearest_neighbour_density_of_gaussian_samples_matches_the_gaussian():
    # i.i.d. N(0, 1) frames in 2D: window anchors (start) are the frames themselves. The
    # k-NN density has relative standard error ~ 1/sqrt(k); bias O((k/N)^(2/d)) is small.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 8, 2))
    points = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, -1.5]])
    k = 400
    got = rattling.from_trajectories(x, 1.0, 4, points=points, neighbours=k, anchor="start")
    exact = np.exp(-0.5 * np.sum(points**2, 1)) / (2 * np.pi)
    np.testing.assert_allclose(got.density, exact, rtol=N_SE / np.sqrt(k))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "either `edges`"),
        ({"edges": np.linspace(0, 1, 3), "points": np.zeros((2, 1)), "neighbours": 3}, "either"),
        ({"points": np.zeros((2, 1))}, "go together"),
        ({"points": np.zeros((2, 2)), "neighbours": 3}, r"\[m, 1\]"),
        ({"points": np.zeros((2, 1)), "neighbours": 1}, "neighbours"),
        ({"points": np.zeros((2, 1)), "neighbours": 1000}, "exceeds"),
    ],
)
def test_nearest_neighbour_bad_input_raises_a_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rattling.from_trajectories(np.zeros((10, 2, 1)), 0.1, 4, **kwargs)


def test_nearest_neighbour_option_float32_under_jit_and_vmap():
    x = jnp.asarray(np.random.default_rng(1).normal(size=(40, 3, 2)).cumsum(0), jnp.float32)
    q = jnp.zeros((3, 2), jnp.float32)

    def f(x):
        return rattling.from_trajectories(x, 0.1, 5, points=q, neighbours=4)

    eager, jitted = f(x), jax.jit(f)(x)
    assert jitted.rattling.dtype == jnp.float32
    np.testing.assert_allclose(jitted.rattling, eager.rattling, rtol=1e-5)
    batched = jax.vmap(f)(jnp.stack([x, 2 * x]))
    # doubling the trajectories about the query point keeps each point's nearest windows
    # and adds 1/2 log det(4 I) = 2 log 2 (d = 2) to every window
    np.testing.assert_allclose(
        batched.rattling[1] - batched.rattling[0], 2 * np.log(2.0), rtol=1e-4
    )
