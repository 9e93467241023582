"""Sharding the ensemble axis over devices changes neither the numbers nor the layout.

JAX fixes the number of host devices at start-up, so the check runs in a subprocess with
`XLA_FLAGS=--xla_force_host_platform_device_count=4` and `JAX_PLATFORMS=cpu`. Inside it,
the same key, the same global ensemble shape and the same system are simulated once on one
device and once with x0 sharded along the ensemble axis over a 4-device mesh
(`NamedSharding(mesh, PartitionSpec("b"))`); the results must agree bitwise (noise is drawn
over the global shape with `jax_threefry_partitionable`; the only reduction across members,
the histogram, adds exact integer counts), and the final positions must still be sharded
over the 4 devices. A sharded run interrupted after its second checkpoint and resumed
(the checkpoint gathers the shards to the host and scatters them back) must give the same
numbers and stay sharded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import jax.random as jr
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec
    import jaxneq as jn

    assert len(jax.devices()) == 4, jax.devices()
    mesh = Mesh(np.array(jax.devices()), ("b",))
    sharding = NamedSharding(mesh, PartitionSpec("b"))

    def double_well(x):
        return jnp.sum((x * x - 1.0) ** 2)

    report = {}
    for dtype in (jnp.float32, jnp.float64):
        name = jnp.dtype(dtype).name
        system = jn.langevin.Overdamped(potential=double_well, temperature=0.7)
        x0 = jr.normal(jr.key(1), (64, 2), dtype)
        observables = {
            "mean": jn.observables.Mean(lambda x: x * x),
            "histogram": jn.observables.Histogram(jnp.linspace(-3.0, 3.0, 13)),
        }
        if hasattr(jn.observables, "EntropyProduction"):
            observables["entropy"] = jn.observables.EntropyProduction()
        kwargs = dict(key=jr.key(7), dt=1e-2, n_steps=60, observables=observables)
        single = jn.langevin.simulate(system, x0, **kwargs)
        sharded = jn.langevin.simulate(system, jax.device_put(x0, sharding), **kwargs)

        def compare(a, b):
            a, b = np.asarray(a), np.asarray(b)
            if a.shape != b.shape or a.dtype != b.dtype:
                return {"same_layout": False}
            ulps = 0.0
            if np.issubdtype(a.dtype, np.floating):
                diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
                spacing = np.spacing(np.maximum(np.abs(a), np.abs(b))).astype(np.float64)
                ulps = float(np.max(diff / spacing)) if a.size else 0.0
            return {"same_layout": True, "bitwise": bool(np.array_equal(a, b)), "ulps": ulps}

        results = {"x": compare(single.x, sharded.x)}
        for key in observables:
            leaves_a = jax.tree_util.tree_leaves(single.observables[key])
            leaves_b = jax.tree_util.tree_leaves(sharded.observables[key])
            for i, (a, b) in enumerate(zip(leaves_a, leaves_b, strict=True)):
                results[f"{key}[{i}]"] = compare(a, b)
        # a sharded run interrupted after its second checkpoint and resumed, still sharded
        import tempfile
        import jaxneq.langevin._driver as simulate_module
        real_save = simulate_module.save_checkpoint
        saves = []

        def crash_after_two(path, tree, meta=None):
            real_save(path, tree, meta)
            saves.append(1)
            if len(saves) == 2:
                raise KeyboardInterrupt

        path = tempfile.mkdtemp() + "/run.npz"
        simulate_module.save_checkpoint = crash_after_two
        try:
            jn.langevin.simulate(
                system, jax.device_put(x0, sharding), checkpoint=path, chunk_size=15, **kwargs
            )
            interrupted = False
        except KeyboardInterrupt:
            interrupted = True
        finally:
            simulate_module.save_checkpoint = real_save
        resumed = jn.langevin.simulate(
            system, jax.device_put(x0, sharding), checkpoint=path, chunk_size=15, **kwargs
        )
        results["resumed_x"] = compare(single.x, resumed.x)
        for key in observables:
            leaves_a = jax.tree_util.tree_leaves(single.observables[key])
            leaves_b = jax.tree_util.tree_leaves(resumed.observables[key])
            for i, (a, b) in enumerate(zip(leaves_a, leaves_b, strict=True)):
                results[f"resumed_{key}[{i}]"] = compare(a, b)
        report[name] = {
            "interrupted": interrupted,
            "resumed_x_devices": len(resumed.x.sharding.device_set),
            "results": results,
            "x_devices": len(sharded.x.sharding.device_set),
            "x_sharded_like_x0": bool(sharded.x.sharding.is_equivalent_to(sharding, 2)),
            "shard_shapes": sorted({s.data.shape for s in sharded.x.addressable_shards}),
            "finite": bool(np.all(np.isfinite(np.asarray(single.x)))),
            "observables": sorted(observables),
        }
    print("REPORT" + json.dumps(report))
    """
)


@pytest.fixture(scope="module")
def sharded_report():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-4000:]
    line = next(s for s in out.stdout.splitlines() if s.startswith("REPORT"))
    return json.loads(line[len("REPORT") :])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sharded_ensemble_gives_bitwise_the_single_device_numbers(sharded_report, dtype):
    report = sharded_report[dtype]
    assert report["finite"]
    assert "mean" in report["observables"] and "histogram" in report["observables"]
    for name, result in report["results"].items():
        assert result["same_layout"], name
        assert result["bitwise"], f"{name} differs by {result['ulps']} ulp ({dtype})"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sharded_run_resumed_from_a_checkpoint_stays_bitwise_and_sharded(sharded_report, dtype):
    report = sharded_report[dtype]
    assert report["interrupted"]
    assert report["resumed_x_devices"] == 4
    resumed = {k: v for k, v in report["results"].items() if k.startswith("resumed_")}
    assert "resumed_x" in resumed and len(resumed) > 1
    for name, result in resumed.items():
        assert result["same_layout"], name
        assert result["bitwise"], f"{name} differs by {result['ulps']} ulp ({dtype})"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_final_positions_stay_sharded_over_the_four_devices(sharded_report, dtype):
    report = sharded_report[dtype]
    assert report["x_devices"] == 4
    assert report["x_sharded_like_x0"]
    assert report["shard_shapes"] == [[16, 2]]
