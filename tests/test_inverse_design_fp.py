"""Steady-state inverse design on Fokker–Planck grids: optax finds a blowtorch that shapes
the stationary density, checked against brute-force scans (vmap over the design parameter),
closed forms and a Langevin simulation at the optimum."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from _stats import N_SE, mean_and_stderr

import jaxneq as jn
from jaxneq import fokker_planck as fp

GRID = fp.Grid(-2.0, 2.0, 100)
WIDTH, HEIGHT = 0.3, 3.0


def double_well(x):
    return jnp.sum((x**2 - 1) ** 2)


def _system(centre, height=HEIGHT):
    return jn.langevin.Overdamped(
        double_well, temperature=jn.models.blowtorch(centre=centre, width=WIDTH, height=height)
    )


def left_share(centre, grid=GRID, height=HEIGHT):
    p = fp.stationary_density(_system(centre, height), grid)
    return fp.region_probability(p, grid, lambda x: x[0] < 0)


def _adam(loss, x0, n_steps, learning_rate):
    """optax Adam on `loss`, all steps in one compiled `fori_loop`."""
    optimiser = optax.adam(learning_rate)

    def step(_, carry):
        x, state = carry
        updates, state = optimiser.update(jax.grad(loss)(x), state, x)
        return optax.apply_updates(x, updates), state

    x, _ = jax.jit(lambda x: jax.lax.fori_loop(0, n_steps, step, (x, optimiser.init(x))))(x0)
    return x


# a brute-force scan: one compiled vmap over hot-spot centres, resolution 0.01
SCAN = jnp.linspace(-0.5, 1.5, 201)
SCAN_RESOLUTION = float(SCAN[1] - SCAN[0])


@pytest.fixture(scope="module")
def scan_shares():
    return jax.jit(jax.vmap(left_share))(SCAN)


# ----------------------------------------------------------------------------------------
# library pieces


def test_region_probability_of_the_whole_grid_is_one_and_of_a_mask_is_the_cell_sum():
    p = fp.stationary_density(_system(0.5), GRID)
    x = GRID.centres[..., 0]
    assert float(fp.region_probability(p, GRID, lambda c: True)) == pytest.approx(1.0, abs=1e-12)
    by_mask = fp.region_probability(p, GRID, x < 0)
    assert float(by_mask) == pytest.approx(
        float(np.sum(np.asarray(p)[np.asarray(x) < 0]) * float(GRID.volume))
    )
    with pytest.raises(ValueError, match="`density` must have the grid's shape"):
        fp.region_probability(p[:-1], GRID, x < 0)
    with pytest.raises(ValueError, match="`region`"):
        fp.region_probability(p, GRID, jnp.ones(3))


def test_bounded_stays_inside_its_interval_and_unbounded_inverts_it():
    raw = jnp.array([-50.0, -1.0, 0.0, 2.0, 50.0])
    v = fp.bounded(raw, 0.5, 4.0)
    assert np.all((np.asarray(v) >= 0.5) & (np.asarray(v) <= 4.0))
    inner = jnp.array([0.6, 1.0, 3.9])
    np.testing.assert_allclose(fp.bounded(fp.unbounded(inner, 0.5, 4.0), 0.5, 4.0), inner)
    assert fp.bounded(jnp.float32(0.0), 0.0, 2.0).dtype == jnp.float32
    # d theta / d rho = (upper - lower) s (1 - s), against the closed form at rho = 0
    assert float(jax.grad(fp.bounded)(0.0, 0.5, 4.0)) == pytest.approx(3.5 / 4)


# ----------------------------------------------------------------------------------------
# 1D double well: maximise the left well's share, reach a target ratio


def test_adam_finds_the_centre_that_maximises_the_left_share_as_the_brute_force_scan(
    scan_shares,
):
    best = int(jnp.argmax(scan_shares))
    centre = _adam(lambda c: -left_share(c), jnp.asarray(0.2), 80, 0.05)
    assert abs(float(centre) - float(SCAN[best])) <= SCAN_RESOLUTION
    # the optimum is at least as good as every scanned centre (up to the scan's curvature)
    assert float(left_share(centre)) >= float(scan_shares[best]) - 1e-4


def test_adam_reaches_a_target_ratio_where_the_scan_crosses_it(scan_shares):
    target = 2.0  # p_left / p_right, i.e. a left share of 2/3
    share = target / (1 + target)
    centre = _adam(lambda c: (left_share(c) - share) ** 2, jnp.asarray(0.05), 150, 0.02)
    p_left = float(left_share(centre))
    assert p_left / (1 - p_left) == pytest.approx(target, rel=1e-3)
    # the scan's crossing on the rising branch (0 < c < argmax), by linear interpolation
    s, c = np.asarray(scan_shares), np.asarray(SCAN)
    i = np.flatnonzero((s[:-1] < share) & (s[1:] >= share) & (c[:-1] >= 0))[0]
    crossing = c[i] + (share - s[i]) / (s[i + 1] - s[i]) * (c[i + 1] - c[i])
    assert abs(float(centre) - crossing) <= SCAN_RESOLUTION


def _sample_from_grid(key, p, grid, n):
    """Draw n points from a 1D grid density (a cell, then uniformly inside it)."""
    k1, k2 = jr.split(key)
    cells = jr.choice(k1, grid.n_cells, (n,), p=p.reshape(-1) * grid.volume)
    h = grid.spacing[0]
    return (grid.lower[0] + (cells + jr.uniform(k2, (n,))) * h)[:, None]


def test_langevin_simulation_at_the_optimum_confirms_the_left_share(scan_shares):
    centre = SCAN[int(jnp.argmax(scan_shares))]
    system = _system(centre)
    p = fp.stationary_density(system, GRID)
    n_members, dt, n_steps = 512, 2e-3, 4000
    x0 = _sample_from_grid(jr.PRNGKey(0), p, GRID, n_members)  # start in the steady state
    obs = {"left": jn.observables.Mean(lambda x: (x[0] < 0).astype(x.dtype))}
    res = jn.langevin.simulate(
        system, x0, key=jr.PRNGKey(1), dt=dt, n_steps=n_steps, observables=obs
    )
    mean, stderr = mean_and_stderr(np.asarray(res.observables["left"]).reshape(n_members))
    # the grid's own discretisation error: the change under halving the spacing
    grid_bias = abs(float(left_share(centre, fp.Grid(-2.0, 2.0, 200)) - left_share(centre)))
    exact = float(left_share(centre))
    assert exact > 0.7  # far from the uniform-temperature 1/2: the design did something
    assert abs(mean - exact) <= N_SE * stderr + grid_bias, (mean, stderr, exact, grid_bias)


# ----------------------------------------------------------------------------------------
# 2D: move probability between two wells with a bounded amplitude and a heat budget


def test_2d_hot_spot_with_a_heat_budget_moves_probability_like_the_scan_says():
    grid = fp.Grid((-2.0, -1.0), (2.0, 1.0), (16, 8))
    width, budget = 0.35, 1.5  # total excess heat  ∫ (T - T0) d^2x = H 2π w^2 (fixed)
    height = budget / (2 * np.pi * width**2)

    def share(centre):
        T = jn.models.blowtorch(centre=centre, width=width, height=height)
        system = jn.langevin.Overdamped(lambda x: (x[0] ** 2 - 1) ** 2 + x[1] ** 2, temperature=T)
        p = fp.stationary_density(system, grid, method="lu")
        return fp.region_probability(p, grid, lambda x: x[0] < 0)

    # centre = (bounded x in (-1.5, 1.5), y = 0 by symmetry); brute force over x
    scan = jnp.linspace(-1.5, 1.5, 31)
    shares = jax.jit(jax.vmap(lambda cx: share(jnp.stack([cx, 0.0 * cx]))))(scan)
    raw = _adam(
        lambda r: -share(jnp.stack([fp.bounded(r[0], -1.5, 1.5), r[1]])),
        jnp.array([0.3, 0.1]),
        60,
        0.1,
    )
    cx = float(fp.bounded(raw[0], -1.5, 1.5))
    assert abs(cx - float(scan[int(jnp.argmax(shares))])) <= float(scan[1] - scan[0])
    assert abs(float(raw[1])) < 0.05  # the symmetric line y = 0 is the optimum
    assert float(jnp.max(shares)) > 0.6


# ----------------------------------------------------------------------------------------
# rates: the four-state chain


def test_bounded_r34_reaches_a_target_p1_over_p2_at_the_closed_form_value():
    target = 1.5  # p1/p2 = 2 (r + 1) / (r + 3)  =>  r = (3 target - 2) / (2 - target) = 5
    lower, upper = 0.0, 20.0

    def ratio(raw):
        p = jn.markov.stationary(jn.models.four_state_chain(fp.bounded(raw, lower, upper)))
        return p[0] / p[1]

    raw = _adam(lambda r: jnp.log(ratio(r) / target) ** 2, jnp.asarray(0.0), 200, 0.1)
    r34 = float(fp.bounded(raw, lower, upper))
    assert r34 == pytest.approx((3 * target - 2) / (2 - target), rel=1e-3)


def test_region_probability_and_bounded_work_in_float32_under_jit_and_vmap():
    grid = fp.Grid(jnp.float32(-2.0), jnp.float32(2.0), 40)
    p = jnp.full(grid.shape, 0.25, jnp.float32)  # uniform density on [-2, 2]
    share = jax.jit(lambda q: fp.region_probability(q, grid, lambda x: x[0] < 0))(p)
    assert share.dtype == jnp.float32 and float(share) == pytest.approx(0.5, rel=1e-6)
    heights = jax.vmap(lambda r: fp.bounded(r, 0.0, 5.0))(jnp.zeros(3, jnp.float32))
    assert heights.dtype == jnp.float32
    np.testing.assert_allclose(heights, 2.5)
