"""Two processes, one ensemble: multi-host runs give bitwise the single-process numbers.

The test starts two CPU processes that join one JAX runtime through
`jax.distributed.initialize` (a coordinator on 127.0.0.1, gloo collectives), each with two
host devices (`--xla_force_host_platform_device_count=2`), so the global mesh has four
devices, two per process. Each process builds the same global ensemble with its ensemble
axis sharded over that mesh (`NamedSharding(mesh, PartitionSpec("b"))`, every process
supplying only the members its devices hold) and runs

- a sharded `jn.langevin.simulate` of an Ornstein–Uhlenbeck ensemble (b = 64, 100 steps,
  float64 and float32): final positions and a `Mean` observable;
- a sharded Gillespie ensemble: `jn.markov.gillespie` with a batch of 64 initial states
  and one key (dense rates), and `jn.markov.gillespie_statistics` to a final time
  (`EdgeRates`; its `while_loop` stops when every member, on every process, is done);

then writes the shards it holds to `.npy` files. The parent reassembles them and compares
them, bitwise, with the same calls made in this single process on one device. Bitwise
equality holds because the randomness of every member depends only on the key and its
global index (Langevin noise drawn over the global shape with partitionable threefry;
Gillespie member i uses `fold_in(key, i)`) and no result reduces across members.

Every subprocess has a timeout, so a hung coordinator fails the test instead of hanging it.
About 25 s of CPU time in all (two JAX start-ups and the compilations in each process, then
the reference); marked slow because on two busy cores its wall time exceeds 30 s.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import textwrap

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import jaxneq as jn

pytestmark = pytest.mark.slow

N_PROCESSES = 2
DEVICES_PER_PROCESS = 2
TIMEOUT_S = 120

B = 64  # global ensemble size, a multiple of the 4 devices
N_STEPS = 100
N_JUMPS = 50
T_MAX = 20.0
RATES = np.array(
    [
        [0.0, 2.0, 0.5, 0.3],
        [0.3, 0.0, 1.5, 0.7],
        [1.0, 0.2, 0.0, 2.5],
        [0.8, 0.6, 0.4, 0.0],
    ]
)

# The workload, shared verbatim by the child processes and the single-process reference.
WORKLOAD = textwrap.dedent(
    """
    import jax
    import jax.numpy as jnp
    import jax.random as jr
    import numpy as np
    import jaxneq as jn


    def workload(shard, rates, b, n_steps, n_jumps, t_max):
        '''Named results of the four runs; `shard(a)` places a host array on the mesh.'''
        out = {}
        system = jn.models.ornstein_uhlenbeck(stiffness=1.5, temperature=0.7)
        observables = {"mean_x2": jn.observables.Mean(lambda x: x * x)}
        for dtype in (np.float64, np.float32):
            x0 = np.linspace(-2.0, 2.0, 2 * b).reshape(b, 2).astype(dtype)
            x0_sharded = shard(x0)

            def run(x):
                result = jn.langevin.simulate(
                    system, x, key=jr.key(7), dt=1e-2, n_steps=n_steps, observables=observables
                )
                return result.x, result.observables["mean_x2"]

            if isinstance(x0_sharded, np.ndarray):  # single process: the eager path
                x, mean_x2 = run(x0_sharded)
            else:  # multi-process: traced, outputs sharded like x0
                x, mean_x2 = jax.jit(run, out_shardings=(x0_sharded.sharding,) * 2)(x0_sharded)
            name = np.dtype(dtype).name
            out[f"simulate_x_{name}"] = x
            out[f"simulate_mean_x2_{name}"] = mean_x2
        states0 = shard(np.arange(b, dtype=np.int32) % rates.shape[0])
        traj = jn.markov.gillespie(rates, states0, key=jr.key(3), n_jumps=n_jumps)
        out["gillespie_states"] = traj.states
        out["gillespie_times"] = traj.times
        edges = jn.markov.EdgeRates.from_dense(rates)
        stats = jn.markov.gillespie_statistics(edges, states0, key=jr.key(4), t_max=t_max)
        out["statistics_occupation_time"] = stats.occupation_time
        out["statistics_jump_counts"] = stats.jump_counts
        out["statistics_n_jumps"] = stats.n_jumps
        return out
    """
)

CHILD = WORKLOAD + textwrap.dedent(
    """

    import json
    import sys

    process_id, port, outdir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(
            coordinator_address=f"127.0.0.1:{port}",
            num_processes=2,
            process_id=process_id,
            initialization_timeout=60,
        )
    except Exception as e:  # reported to the parent, which decides whether to skip
        print("INIT_FAILED " + repr(e), flush=True)
        sys.exit(3)
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = Mesh(np.array(jax.devices()), ("b",))

    def shard(a):
        spec = PartitionSpec("b", *([None] * (a.ndim - 1)))
        return jax.make_array_from_callback(a.shape, NamedSharding(mesh, spec), lambda i: a[i])

    params = json.loads(sys.argv[4])
    results = workload(shard, np.asarray(params.pop("rates")), **params)
    report = {"process_index": jax.process_index(), "process_count": jax.process_count(),
              "global_devices": len(jax.devices()), "local_devices": len(jax.local_devices()),
              "shards": {}}
    for name, arr in results.items():
        shards = report["shards"][name] = []
        for s in arr.addressable_shards:
            start = s.index[0].start or 0
            np.save(f"{outdir}/{name}__p{process_id}__{start}.npy", np.asarray(s.data))
            shards.append([start, int(s.data.shape[0])])
        report["shards"][name + "_devices"] = len(arr.sharding.device_set)
    print("REPORT " + json.dumps(report), flush=True)
    jax.distributed.shutdown()
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reference():
    namespace = {}
    exec(WORKLOAD, namespace)  # the same code as the children, one process, one device
    results = namespace["workload"](np.asarray, jnp.asarray(RATES), B, N_STEPS, N_JUMPS, T_MAX)
    return {k: np.asarray(v) for k, v in results.items()}


@pytest.fixture(scope="module")
def multihost(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("multihost")
    env = dict(os.environ)
    env["JAX_PLATFORMS"] = "cpu"
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={DEVICES_PER_PROCESS}"
    ).strip()
    port = str(_free_port())
    script = outdir / "child.py"
    script.write_text(CHILD)
    params = dict(rates=RATES.tolist(), b=B, n_steps=N_STEPS, n_jumps=N_JUMPS, t_max=T_MAX)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(i), port, str(outdir), json.dumps(params)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(N_PROCESSES)
    ]
    outputs = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=TIMEOUT_S)
            outputs.append((p.returncode, stdout, stderr))
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        for p in procs:
            p.communicate()
        pytest.fail(f"a multi-host child process did not finish within {TIMEOUT_S} s")
    for code, stdout, stderr in outputs:
        if code == 3 and "INIT_FAILED" in stdout:
            pytest.skip(
                "jax.distributed could not initialise two CPU processes in this JAX version: "
                + stdout.strip()[-500:]
            )
        assert code == 0, stderr[-4000:]
    reports = [
        json.loads(next(s for s in out.splitlines() if s.startswith("REPORT "))[7:])
        for _, out, _ in outputs
    ]
    return reports, outdir, _reference()


def _assemble(outdir: pathlib.Path, name: str, reference: np.ndarray) -> np.ndarray:
    """The global array from the shards both processes wrote; every member exactly once."""
    full = np.zeros_like(reference)
    covered = np.zeros(reference.shape[0], int)
    for path in sorted(outdir.glob(f"{name}__p*__*.npy")):
        start = int(path.stem.rsplit("__", 1)[1])
        piece = np.load(path)
        full[start : start + piece.shape[0]] = piece
        covered[start : start + piece.shape[0]] += 1
    assert np.all(covered == 1), (name, covered)
    return full


def test_two_processes_join_one_runtime_with_a_four_device_mesh(multihost):
    reports, _, _ = multihost
    assert sorted(r["process_index"] for r in reports) == [0, 1]
    for r in reports:
        assert r["process_count"] == 2
        assert r["global_devices"] == 4 and r["local_devices"] == 2


def test_each_process_holds_half_of_every_ensemble_in_two_shards(multihost):
    reports, _, reference = multihost
    for r in reports:
        for name in reference:
            assert r["shards"][name + "_devices"] == 4, name
            assert sorted(n for _, n in r["shards"][name]) == [B // 4, B // 4], name


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sharded_simulate_over_two_processes_is_bitwise_the_single_process_run(multihost, dtype):
    _, outdir, reference = multihost
    for name in (f"simulate_x_{dtype}", f"simulate_mean_x2_{dtype}"):
        got = _assemble(outdir, name, reference[name])
        assert got.dtype == reference[name].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, reference[name], err_msg=name)


def test_sharded_gillespie_ensemble_over_two_processes_is_bitwise_the_single_process_run(
    multihost,
):
    _, outdir, reference = multihost
    names = [k for k in reference if k.startswith(("gillespie_", "statistics_"))]
    assert len(names) == 5
    for name in names:
        got = _assemble(outdir, name, reference[name])
        np.testing.assert_array_equal(got, reference[name], err_msg=name)
    # and the single-process batch is member by member the single-state call with fold_in
    i = 37
    one = jn.markov.gillespie(
        jnp.asarray(RATES), i % 4, key=jr.fold_in(jr.key(3), i), n_jumps=N_JUMPS
    )
    np.testing.assert_array_equal(reference["gillespie_states"][i], one.states)
    np.testing.assert_array_equal(reference["gillespie_times"][i], one.times)
