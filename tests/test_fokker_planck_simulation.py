"""Fokker–Planck grids against Langevin simulations where no closed form exists: the transient
density of a heated double well against an ensemble histogram at finite times, and the
stationary density and current of a 2D system with a rotational force against `simulate`'s
`Histogram` and `CurrentField`. Tolerances: per-bin n-sigma bands from the sample sizes, plus
the grid's own discretisation error (the change under halving the spacing)."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from _stats import N_SE, mean_and_stderr

import jaxneq as jn
from jaxneq import fokker_planck as fp


def _coarsen(a, factor):
    """Average blocks of `factor` cells along every axis of a grid array (leading axes)."""
    a = np.asarray(a)
    d = len(factor)
    shape = []
    for n, f in zip(a.shape[:d], factor, strict=True):
        shape += [n // f, f]
    return a.reshape(tuple(shape) + a.shape[d:]).mean(axis=tuple(range(1, 2 * d, 2)))


def _sample_cells(key, p, grid, n):
    """n points drawn from a grid density: a cell by its probability, then uniform in it."""
    k1, k2 = jr.split(key)
    cells = jr.choice(k1, grid.n_cells, (n,), p=p.reshape(-1) * grid.volume)
    index = jnp.stack(jnp.unravel_index(cells, grid.shape), axis=-1)
    return grid.lower + (index + jr.uniform(k2, (n, grid.ndim))) * grid.spacing


# ----------------------------------------------------------------------------------------
# 1D: evolve_density at finite times against the ensemble's histogram


def _heated_double_well():
    return jn.langevin.Overdamped(
        lambda x: jnp.sum((x**2 - 1) ** 2),
        temperature=jn.models.blowtorch(centre=0.5, width=0.3, height=2.0),
    )


@pytest.mark.parametrize("t_final", [0.2, 1.0])
def test_evolve_density_matches_the_ensemble_histogram_at_finite_times(t_final):
    system = _heated_double_well()
    grid, fine = fp.Grid(-2.0, 2.0, 80), fp.Grid(-2.0, 2.0, 160)

    # start: uniform over the cells [-1.25, -0.75) (exactly representable on both grids)
    def start(g):
        x = g.centres[..., 0]
        p0 = jnp.where((x > -1.25) & (x < -0.75), 1.0, 0.0)
        return p0 / (p0.sum() * g.volume)

    p_t = fp.evolve_density(system, grid, start(grid), t_final)
    p_fine = fp.evolve_density(system, fine, start(fine), t_final)
    n, dt = 20_000, 1e-3
    x0 = jr.uniform(jr.PRNGKey(0), (n, 1), minval=-1.25, maxval=-0.75)
    res = jn.langevin.simulate(
        system, x0, key=jr.PRNGKey(1), dt=dt, n_steps=int(round(t_final / dt))
    )
    # 20 bins of 4 cells: bin probabilities
    counts, _ = np.histogram(np.asarray(res.x[:, 0]), bins=20, range=(-2.0, 2.0))
    freq = counts / n
    prob = _coarsen(p_t, (4,)) * 4 * float(grid.volume)
    prob_fine = _coarsen(p_fine, (8,)) * 8 * float(fine.volume)
    stderr = np.sqrt(prob * (1 - prob) / n) + 1.0 / n
    grid_bias = np.abs(prob_fine - prob)
    assert np.all(np.abs(freq - prob) <= N_SE * stderr + grid_bias), (freq, prob)
    # and a global chi-square at its 1e-4 quantile (19 degrees of freedom: < 47)
    inside = prob > 5 / n
    chi2 = np.sum((counts[inside] - n * prob_fine[inside]) ** 2 / (n * prob_fine[inside]))
    assert chi2 < 47.0 + np.sum(n * grid_bias[inside] ** 2 / prob_fine[inside])


# ----------------------------------------------------------------------------------------
# 2D: a rotational force in an anharmonic trap (no closed form)


def _rotating_system():
    return jn.langevin.Overdamped(
        lambda x: 0.25 * jnp.sum(x**2) ** 2,
        force=lambda x: 1.5 * jnp.array([-x[1], x[0]]),
        temperature=jn.models.blowtorch(centre=jnp.array([0.6, 0.0]), width=0.4, height=1.0),
    )


@pytest.fixture(scope="module")
def rotating_run():
    system = _rotating_system()
    grid = fp.Grid(-2.4, 2.4, (24, 24))
    p = fp.stationary_density(system, grid, method="lu")
    edges = np.linspace(-2.4, 2.4, 13)  # 12 x 12 bins of 2 x 2 cells
    obs = {
        "p": jn.observables.Histogram((edges, edges)),
        "J": jn.observables.CurrentField((edges, edges)),
    }
    replicas = []
    for r in range(8):  # independent replicas give the statistical error of each bin
        x0 = _sample_cells(jr.PRNGKey(10 + r), p, grid, 512)
        res = jn.langevin.simulate(
            system, x0, key=jr.PRNGKey(100 + r), dt=2e-3, n_steps=1000, observables=obs
        )
        replicas.append((np.asarray(res.observables["p"]), np.asarray(res.observables["J"])))
    p_fine = fp.stationary_density(system, fp.Grid(-2.4, 2.4, (36, 36)), method="lu")
    return system, grid, p, p_fine, replicas


def test_rotational_force_density_on_the_grid_matches_the_simulated_histogram(rotating_run):
    system, grid, p, p_fine, replicas = rotating_run
    mean, stderr = mean_and_stderr([r[0] for r in replicas])
    coarse, fine = _coarsen(p, (2, 2)), _coarsen(p_fine, (3, 3))
    # bins holding at least 0.1 % of the probability (enough samples for a Gaussian error)
    held = coarse * 0.16 > 1e-3
    err = np.abs(mean - coarse)[held]
    assert np.all(err <= N_SE * stderr[held] + np.abs(fine - coarse)[held])


def test_rotational_force_current_on_the_grid_matches_the_simulated_current_field(rotating_run):
    system, grid, p, p_fine, replicas = rotating_run
    mean, stderr = mean_and_stderr([r[1] for r in replicas])
    J = _coarsen(fp.current_field(system, grid, p), (2, 2))
    fine_grid = fp.Grid(-2.4, 2.4, (36, 36))
    J_fine = _coarsen(fp.current_field(system, fine_grid, p_fine), (3, 3))
    assert np.max(np.abs(J)) > 5 * np.max(stderr)  # a current well above the noise
    held = (_coarsen(p, (2, 2)) * 0.16 > 1e-3)[..., None] & np.ones(2, bool)
    err = np.abs(mean - J)[held]
    assert np.all(err <= N_SE * stderr[held] + np.abs(J_fine - J)[held])
    # the circulation has the sense of the force (counter-clockwise: J_y > 0 where x > 0)
    assert J[9, 6, 1] > 0 and mean[9, 6, 1] > 0
