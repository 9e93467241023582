"""The grid's Krylov plan (aggregates that are boxes of cells) against the graph-only plan."""

import jax.numpy as jnp
import numpy as np

import jaxneq as jn
from jaxneq.markov._krylov import krylov_stationary


def test_grid_plan_solves_the_same_chain_in_fewer_iterations_than_the_graph_plan():
    grid = jn.fokker_planck.Grid(-4.0, 4.0, (64, 64))
    system = jn.langevin.Overdamped(
        lambda x: 0.5 * (x[0] - x[1]) ** 2 + 0.5 * (x[0] ** 2 + x[1] ** 2),
        temperature=jnp.array([1.0, 3.0]),
    )
    chain = jn.fokker_planck.rates(system, grid)
    p_graph, info_graph = krylov_stationary(chain, return_info=True)
    plan = jn.fokker_planck.krylov_plan(grid)
    p_grid, info_grid = krylov_stationary(chain, plan=plan, return_info=True)
    assert bool(info_grid.converged) and bool(info_graph.converged)
    assert int(info_grid.iterations) < int(info_graph.iterations)
    big = np.asarray(p_graph) > 1e-8 * float(p_graph.max())
    np.testing.assert_allclose(np.asarray(p_grid)[big], np.asarray(p_graph)[big], rtol=1e-8)
    density = jn.fokker_planck.stationary_density(system, grid, method="krylov")
    np.testing.assert_allclose(
        np.asarray(density).reshape(-1)[big] * float(grid.volume),
        np.asarray(p_grid)[big],
        rtol=1e-9,
    )
