"""Langevin throughput and memory benchmark: jaxneq.langevin.simulate against its peers.

Independent overdamped particles in the 1D double well $U(x) = (x^2 - 1)^2$ at $T = 0.5$
(mobility 1, dt = 1e-3, float32, Euler–Maruyama), N particles, a fixed number of steps:

- `jaxneq`: `jaxneq.langevin.simulate(Overdamped(potential=U, temperature=0.5), x0[N, 1])`;
- `scan`: a minimal hand-written `jax.lax.scan` with the same maths, drawing its noise as a
  user would, `jr.normal(jr.fold_in(key, k), (N, 1))` at step k (jaxneq draws from the same
  key with `jn.langevin.standard_normal`, threefry with both words of each block: the
  `same_noise_check` runs the scan with that generator and must agree to rounding);
- `numpy`: a vectorised NumPy loop (in-place, `numpy.random.Generator.standard_normal`);
- `diffrax` (optional): `diffeqsolve` with `Euler`, `UnsafeBrownianPath`, vmapped over
  particles; `jax_md` (optional): `jax_md.simulate.brownian` in `space.free()`.

Also: peak memory (VmHWM, the peak RSS of a fresh subprocess per case) of jaxneq for 1e3 vs 1e5
steps (must be flat: no O(steps) storage), and a many-body case (N = 1e4 soft discs in a
2D periodic box, cell list) against jax-md's neighbour list.

All implementations of one N are timed round-robin (best of `--repeats` after a warm-up),
so that load from other processes hits them alike. Two diagnostics explain the numbers:

- `profile_floor`: the scan's parts alone (drift only, threefry bits, threefry normals, and
  jaxneq's normals). On a CPU the floor is the counter-based normal generator, not the
  physics; jaxneq's keeps both words of each threefry block (half the blocks).
- `all_cores_n1e5`: XLA:CPU runs these elementwise loops on one thread, NumPy too. JAX's
  way to use every core is to shard the ensemble over host devices; a subprocess with
  `--xla_force_host_platform_device_count=<cores>` times jaxneq and the scan with x0
  sharded (`NamedSharding(mesh, PartitionSpec("b"))`), and NumPy alongside.

    python benchmarks/langevin.py --quick        # CPU, ~1-2 minutes; ONE JSON object
    python benchmarks/langevin.py                # up to N = 1e6
    python benchmarks/langevin.py --full --peak-bandwidth-gbs 3350 --device-json gpu.json

`--full` (for a GPU) goes up to N = 1e8 and reports the fraction of the memory bandwidth
reached, assuming 8 bytes of traffic per particle-step (read and write x in float32; the
noise is generated in registers) against `--peak-bandwidth-gbs`.

Only the JSON object goes to stdout; progress goes to stderr. Units: k_B = 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

# Run from a checkout without installing: use the jaxneq next to this folder.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(_ROOT, "jaxneq")) and _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

TEMPERATURE = 0.5
DT = 1e-3
NOISE = float(np.sqrt(2 * TEMPERATURE * DT))


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- single particles


def potential(x):
    return (x * x - 1.0) ** 2


def force_np(x, out, tmp):
    # F = -4 x (x^2 - 1), in place
    np.multiply(x, x, out=tmp)
    tmp -= 1.0
    np.multiply(x, tmp, out=out)
    out *= -4.0
    return out


def run_numpy(n, n_steps, seed=0):
    rng = np.random.Generator(np.random.PCG64(seed))
    x = np.ones((n, 1), np.float32)
    f = np.empty_like(x)
    tmp = np.empty_like(x)
    noise = np.empty_like(x)

    def go():
        x[...] = 1.0
        for _ in range(n_steps):
            force_np(x, f, tmp)
            np.multiply(f, DT, out=f)
            np.add(x, f, out=x)
            rng.standard_normal(out=noise, dtype=np.float32)
            np.multiply(noise, NOISE, out=noise)
            np.add(x, noise, out=x)
        return x

    return go, lambda r: r


def run_scan(n, n_steps, normal=None):
    import jax
    import jax.numpy as jnp
    import jax.random as jr

    normal = jr.normal if normal is None else normal

    @jax.jit
    def go(x0, key):
        def body(x, k):
            xi = normal(jr.fold_in(key, k), x.shape, x.dtype)
            return x + (-4.0 * x * (x * x - 1.0)) * DT + NOISE * xi, None

        x, _ = jax.lax.scan(body, x0, jnp.arange(n_steps))
        return x

    x0 = jnp.ones((n, 1), jnp.float32)
    key = jr.key(0)
    return (lambda: go(x0, key)), lambda r: r.block_until_ready()


def run_jaxneq(n, n_steps, observables=False, unroll=None):
    import jax.numpy as jnp
    import jax.random as jr

    import jaxneq as jn

    system = jn.langevin.Overdamped(potential=lambda x: jnp.sum(potential(x)), temperature=0.5)
    obs = None
    if observables:
        obs = {"mean_x": jn.observables.Mean(lambda x: x)}
    x0 = jnp.ones((n, 1), jnp.float32)
    key = jr.key(0)

    def go():
        return jn.langevin.simulate(
            system,
            x0,
            key=key,
            dt=DT,
            n_steps=n_steps,
            method="euler_maruyama",
            observables=obs,
            unroll=unroll,
        )

    return go, lambda r: r.x.block_until_ready()


def run_diffrax(n, n_steps):
    import diffrax
    import jax
    import jax.numpy as jnp
    import jax.random as jr

    noise_amplitude = float(np.sqrt(2 * TEMPERATURE))

    def one(x0, key):
        bm = diffrax.UnsafeBrownianPath(shape=(), key=key)
        terms = diffrax.MultiTerm(
            diffrax.ODETerm(lambda t, y, a: -4.0 * y * (y * y - 1.0)),
            diffrax.ControlTerm(lambda t, y, a: jnp.full_like(y, noise_amplitude), bm),
        )
        sol = diffrax.diffeqsolve(
            terms,
            diffrax.Euler(),
            0.0,
            n_steps * DT,
            dt0=DT,
            y0=x0,
            saveat=diffrax.SaveAt(t1=True),
            max_steps=n_steps + 2,
            adjoint=diffrax.ForwardMode(),
        )
        return sol.ys[-1]

    f = jax.jit(jax.vmap(one))
    x0 = jnp.ones(n, jnp.float32)
    keys = jr.split(jr.key(0), n)
    return (lambda: f(x0, keys)), lambda r: r.block_until_ready()


def run_jax_md(n, n_steps):
    import jax
    import jax.numpy as jnp
    import jax.random as jr
    from jax_md import simulate, space

    _, shift = space.free()
    init, apply = simulate.brownian(
        lambda r: jnp.sum(potential(r)), shift, DT, kT=TEMPERATURE, gamma=1.0
    )

    @jax.jit
    def go(x0, key):
        state = init(key, x0)
        return jax.lax.fori_loop(0, n_steps, lambda i, s: apply(s), state).position

    x0 = jnp.ones((n, 1), jnp.float32)
    key = jr.PRNGKey(0)
    return (lambda: go(x0, key)), lambda r: r.block_until_ready()


RUNNERS = {
    "jaxneq": run_jaxneq,
    "jaxneq_with_mean": lambda n, s: run_jaxneq(n, s, observables=True),
    "jaxneq_unroll8": lambda n, s: run_jaxneq(n, s, unroll=8),
    "scan": run_scan,
    "numpy": run_numpy,
    "diffrax": run_diffrax,
    "jax_md": run_jax_md,
}
OPTIONAL = {"diffrax": "diffrax", "jax_md": "jax_md"}


def time_case(name, n, n_steps, repeats):
    """Best-of-`repeats` wall time after one warm-up call (compilation excluded)."""
    return time_cases([name], n, {name: n_steps}, repeats)[name]


def time_cases(names, n, steps, repeats):
    """Best-of-`repeats` wall times of several implementations, measured round-robin.

    Each implementation is warmed up (compiled) first; then the repeats alternate between
    them, so that a change in the machine's load hits all of them alike (this matters on a
    shared machine). Failures of one implementation are reported, not raised.
    """
    prepared, out = {}, {}
    for name in names:
        try:
            go, block = RUNNERS[name](n, steps[name])
            t0 = time.perf_counter()
            block(go())
            prepared[name] = (go, block, time.perf_counter() - t0)
        except Exception as e:  # a peer failing must not sink the benchmark
            out[name] = {"n": n, "n_steps": steps[name], "error": f"{type(e).__name__}: {e}"}
    best = {name: float("inf") for name in prepared}
    best_cpu = dict(best)
    order = list(prepared)
    for r in range(repeats):
        # Rotate the order every round: the call right after NumPy's single-threaded loop
        # runs 15-35 % slower (XLA's worker threads have gone idle), whichever it is.
        for name in order[r % len(order) :] + order[: r % len(order)]:
            go, block, _ = prepared[name]
            c0, t0 = time.process_time(), time.perf_counter()
            block(go())
            best[name] = min(best[name], time.perf_counter() - t0)
            best_cpu[name] = min(best_cpu[name], time.process_time() - c0)
    for name, (_go, _block, first) in prepared.items():
        out[name] = {
            "n": n,
            "n_steps": steps[name],
            "seconds": best[name],
            "cpu_seconds": best_cpu[name],
            "first_call_seconds": first,
            "particle_steps_per_s": n * steps[name] / best[name],
            "particle_steps_per_cpu_s": n * steps[name] / best_cpu[name],
        }
    return out


def available(name):
    module = OPTIONAL.get(name)
    if module is None:
        return True
    try:
        __import__(module)
    except Exception:
        return False
    return True


# --------------------------------------------------------------------------- all cores


def all_cores_case(n, n_steps, repeats):
    """jaxneq and the scan with the ensemble sharded over one host device per core.

    XLA:CPU may spread a large elementwise loop over a few intra-op threads, but JAX's own
    way to use every core is to shard the ensemble axis over host devices.
    `XLA_FLAGS=--xla_force_host_platform_device_count=<cores>` (fixed at start-up); NumPy is
    timed in the same process, round-robin, as the reference.
    """
    import jax
    import jax.numpy as jnp
    import jax.random as jr
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    import jaxneq as jn

    devices = jax.devices()
    sharding = NamedSharding(Mesh(np.array(devices), ("b",)), PartitionSpec("b"))
    x0 = jax.device_put(jnp.ones((n, 1), jnp.float32), sharding)
    key = jr.key(0)
    system = jn.langevin.Overdamped(potential=lambda x: jnp.sum(potential(x)), temperature=0.5)

    def go_jaxneq():
        return jn.langevin.simulate(
            system, x0, key=key, dt=DT, n_steps=n_steps, method="euler_maruyama"
        ).x

    @jax.jit
    def scan(x0, key):
        def body(x, k):
            xi = jr.normal(jr.fold_in(key, k), x.shape, x.dtype)
            return x + (-4.0 * x * (x * x - 1.0)) * DT + NOISE * xi, None

        return jax.lax.scan(body, x0, jnp.arange(n_steps))[0]

    go_numpy, _ = run_numpy(n, n_steps)
    cases = {
        "jaxneq": lambda: go_jaxneq().block_until_ready(),
        "scan": lambda: scan(x0, key).block_until_ready(),
        "numpy": go_numpy,
    }
    for f in cases.values():
        f()
    best = {name: float("inf") for name in cases}
    best_cpu = dict(best)
    order = list(cases)
    for r in range(repeats):  # rotated, as in time_cases
        for name in order[r % len(order) :] + order[: r % len(order)]:
            f = cases[name]
            c0, t0 = time.process_time(), time.perf_counter()
            f()
            best[name] = min(best[name], time.perf_counter() - t0)
            best_cpu[name] = min(best_cpu[name], time.process_time() - c0)
    out = {
        "n": n,
        "n_steps": n_steps,
        "devices": len(devices),
        "jaxneq_output_sharded": len(go_jaxneq().sharding.device_set) == len(devices),
    }
    for name, seconds in best.items():
        out[name] = {
            "seconds": seconds,
            "cpu_seconds_all_threads": best_cpu[name],
            "particle_steps_per_s": n * n_steps / seconds,
            # wall time <= CPU time / devices only when every device gets a free core
            "parallel_speedup_wall_over_cpu": best_cpu[name] / seconds,
        }
    out["ratio_vs_numpy"] = best["numpy"] / best["jaxneq"]
    out["ratio_vs_scan"] = best["scan"] / best["jaxneq"]
    return out


def all_cores_subprocess(n, n_steps, repeats):
    cores = os.cpu_count() or 1
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={cores}"
    ).strip()
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--_all-cores-case",
        str(n),
        str(n_steps),
        str(repeats),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"all-cores case failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- where the time goes


def profile_floor(n, n_steps, repeats):
    """Particle-steps/s of the scan's parts: drift only, noise only, both (single device).

    Shows what bounds the XLA floor on this machine: for this cheap force, drawing one
    threefry normal per particle-step is almost all of the work.
    """
    import jax
    import jax.numpy as jnp
    import jax.random as jr

    import jaxneq as jn

    def make(body):
        @jax.jit
        def go(x0, key):
            return jax.lax.scan(lambda x, k: (body(x, k, key), None), x0, jnp.arange(n_steps))[0]

        return go

    drift = lambda x: x + (-4.0 * x * (x * x - 1.0)) * DT
    bodies = {
        "drift_only": lambda x, k, key: drift(x),
        "threefry_bits_only": lambda x, k, key: (
            x + jr.bits(jr.fold_in(key, k), x.shape, jnp.uint32).astype(x.dtype)
        ),
        "threefry_normal_only": lambda x, k, key: (
            x + NOISE * jr.normal(jr.fold_in(key, k), x.shape, x.dtype)
        ),
        "drift_and_normal": lambda x, k, key: (
            drift(x) + NOISE * jr.normal(jr.fold_in(key, k), x.shape, x.dtype)
        ),
        # jaxneq's generator: threefry with both words of each block
        "jaxneq_normal_only": lambda x, k, key: (
            x + NOISE * jn.langevin.standard_normal(jr.fold_in(key, k), x.shape, x.dtype)
        ),
    }
    x0 = jnp.ones((n, 1), jnp.float32)
    key = jr.key(0)
    funcs = {name: make(body) for name, body in bodies.items()}
    for f in funcs.values():
        f(x0, key).block_until_ready()
    best = {name: float("inf") for name in funcs}
    for _ in range(repeats):
        for name, f in funcs.items():
            t0 = time.perf_counter()
            f(x0, key).block_until_ready()
            best[name] = min(best[name], time.perf_counter() - t0)
    return {
        "n": n,
        "n_steps": n_steps,
        "particle_steps_per_s": {name: n * n_steps / s for name, s in best.items()},
    }


def same_noise_check(n, n_steps):
    """Max |x_jaxneq - x_scan| after `n_steps` with the scan drawing jaxneq's noise: this is
    rounding (~1e-6 in float32), not O(1): the peers simulate the same thing."""
    import jaxneq as jn

    go_j, _ = run_jaxneq(n, n_steps)
    go_s, _ = run_scan(n, n_steps, normal=jn.langevin.standard_normal)
    return float(np.max(np.abs(np.asarray(go_j().x) - np.asarray(go_s()))))


# --------------------------------------------------------------------------- memory


def memory_case(name, n, n_steps):
    """Run in a fresh process: peak RSS (KiB) after warm-up + one timed run."""
    import jax

    if name != "baseline":
        go, block = RUNNERS[name](n, n_steps)
        block(go())
    # VmHWM: this process's own peak RSS. ru_maxrss is NOT usable here: Linux carries the
    # parent's high-water mark over fork + exec into the child's ru_maxrss.
    peak = None
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1])  # kB
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    stats = None
    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:
        pass
    device_peak = None if not stats else stats.get("peak_bytes_in_use")
    return {
        "peak_rss_kib": int(peak if peak is not None else maxrss),
        "ru_maxrss_kib": int(maxrss),
        "device_peak_bytes": device_peak,
    }


def memory_subprocess(name, n, n_steps):
    cmd = [sys.executable, os.path.abspath(__file__), "--_mem-case", name, str(n), str(n_steps)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"memory case {name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- many-body


def many_body(n, n_steps, repeats, with_jax_md):
    """N soft discs (u = k/2 (1 - r/sigma)^2, k = 10, sigma = 1), 2D periodic box, rho = 0.5."""
    import jax
    import jax.numpy as jnp
    import jax.random as jr

    import jaxneq as jn

    k, sigma, rho, temperature, dt = 10.0, 1.0, 0.5, 0.5, 1e-2
    side = float(np.sqrt(n / rho))
    per_row = int(np.ceil(np.sqrt(n)))
    spacing = side / per_row
    grid = np.stack(np.meshgrid(np.arange(per_row), np.arange(per_row), indexing="ij"), -1)
    x0 = ((grid.reshape(-1, 2)[:n] + 0.5) * spacing).astype(np.float32)
    out = {"n": n, "n_steps": n_steps, "dt": dt, "density": rho, "k": k, "sigma": sigma}

    lang = jn.langevin
    box = lang.Box((side, side), periodic=True)
    energy = lang.PairEnergy(
        lang.SoftRepulsion(k, sigma), lang.CellList(box, cutoff=1.0, capacity=8)
    )
    system = lang.Overdamped(potential=energy, temperature=temperature)
    xb = jnp.asarray(x0)[None]

    def go_jaxneq():
        return lang.simulate(system, xb, key=jr.key(0), dt=dt, n_steps=n_steps)

    def timed(go, block):
        block(go())
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            block(go())
            best = min(best, time.perf_counter() - t0)
        return {"seconds": best, "particle_steps_per_s": n * n_steps / best}

    out["jaxneq"] = timed(go_jaxneq, lambda r: r.x.block_until_ready())
    if with_jax_md:
        from jax_md import energy as md_energy, partition, simulate, space

        displacement, shift = space.periodic(side)
        neighbor_fn, energy_fn = md_energy.soft_sphere_neighbor_list(
            displacement, side, sigma=sigma, epsilon=k, alpha=2.0, format=partition.Dense
        )
        init, apply = simulate.brownian(energy_fn, shift, dt, kT=temperature, gamma=1.0)
        r0 = jnp.asarray(x0)
        nbrs0 = neighbor_fn.allocate(r0)

        @jax.jit
        def go_md(r0, nbrs):
            def body(i, carry):
                state, nbrs = carry
                nbrs = nbrs.update(state.position)
                return apply(state, neighbor=nbrs), nbrs

            state, nbrs = jax.lax.fori_loop(
                0, n_steps, body, (init(jr.PRNGKey(0), r0, neighbor=nbrs), nbrs)
            )
            return state.position, nbrs.did_buffer_overflow

        res = timed(lambda: go_md(r0, nbrs0), lambda r: r[0].block_until_ready())
        res["neighbor_overflow"] = bool(go_md(r0, nbrs0)[1])
        out["jax_md"] = res
        out["ratio_jaxneq_over_jax_md"] = (
            out["jaxneq"]["particle_steps_per_s"] / res["particle_steps_per_s"]
        )
    return out


# --------------------------------------------------------------------------- machine


def gradient_case(repeats, b=1024):
    """Reverse mode through `simulate`: d<x^2>/dk of an OU ensemble (b = 1024, float32).

    Compiled temporary memory of `jit(grad(loss))` (XLA's `memory_analysis()`, no run) at
    1e3, 1e4 and 1e5 steps for the default checkpointed adjoint and for `DirectAdjoint`, and
    the wall time of `jit(value_and_grad(loss))` over `jit(loss)` at 1e4 steps (median of
    `repeats` alternating rounds after a warm-up).
    """
    import jax
    import jax.numpy as jnp
    import jax.random as jr

    import jaxneq as jn

    def make_loss(n_steps, adjoint):
        def loss(k):
            system = jn.langevin.Overdamped(lambda x: 0.5 * k * jnp.sum(x**2), temperature=1.0)
            x0 = jnp.zeros((b, 1), jnp.float32)
            result = jn.langevin.simulate(
                system, x0, key=jr.key(0), dt=jnp.float32(1e-2), n_steps=n_steps, adjoint=adjoint
            )
            return jnp.mean(result.x**2)

        return loss

    k = jnp.float32(1.0)
    adjoints = {
        "checkpointed": jn.langevin.RecursiveCheckpointAdjoint(),
        "direct": jn.langevin.DirectAdjoint(),
    }
    temp = {name: {} for name in adjoints}
    for name, adjoint in adjoints.items():
        for n_steps in (10**3, 10**4, 10**5):
            compiled = jax.jit(jax.grad(make_loss(n_steps, adjoint))).lower(k).compile()
            temp[name][f"steps_{n_steps:.0e}".replace("+0", "")] = int(
                compiled.memory_analysis().temp_size_in_bytes
            )
    times = {}
    for name, adjoint in adjoints.items():
        forward = jax.jit(make_loss(10**4, adjoint))
        both = jax.jit(jax.value_and_grad(make_loss(10**4, adjoint)))
        jax.block_until_ready((forward(k), both(k)))
        t_forward, t_both = [], []
        for _ in range(repeats):
            for fn, out in ((forward, t_forward), (both, t_both)):
                t = time.perf_counter()
                jax.block_until_ready(fn(k))
                out.append(time.perf_counter() - t)
        times[name] = {
            "forward_s": float(np.median(t_forward)),
            "value_and_grad_s": float(np.median(t_both)),
            "ratio": float(np.median(t_both) / np.median(t_forward)),
        }
    ckpt = temp["checkpointed"]
    return {
        "case": f"d<x^2>/dk, OU k=1, T=1, dt=1e-2, b={b}, float32, x0=0",
        "temp_bytes": temp,
        "times_n1e4": times,
        "grad_mem_ratio_steps_1e5_over_1e3": ckpt["steps_1e5"] / ckpt["steps_1e3"],
        "grad_mem_ratio_steps_1e5_over_1e3_direct": temp["direct"]["steps_1e5"]
        / temp["direct"]["steps_1e3"],
        "grad_over_forward_n1e4": times["checkpointed"]["ratio"],
        "grad_over_forward_n1e4_direct": times["direct"]["ratio"],
    }


GRADIENT_TARGETS = {"grad_mem_ratio_steps_1e5_over_1e3": 4.0, "grad_over_forward_n1e4": 5.0}


def add_gradient_keys(result, repeats):
    log("gradients: checkpointed vs direct adjoint, OU b = 1024")
    grad = gradient_case(repeats)
    result["gradients"] = grad
    for key, bound in GRADIENT_TARGETS.items():
        result[key] = grad[key]
        result.setdefault("gradient_targets", {})[key] = f"<= {bound}"
        result.setdefault("gradient_target_status", {})[key] = bool(grad[key] <= bound)


def machine_info():
    import jax

    info = {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "numpy": np.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d.device_kind) for d in jax.devices()],
        "cpu_count": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()),
    }
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "Core(s) per socket", "Socket(s)", "CPU(s)"):
                info["lscpu_" + key.strip().lower().replace("(s)", "s").replace(" ", "_")] = (
                    value.strip()
                )
    except OSError:
        pass
    try:
        import jaxneq

        info["jaxneq"] = jaxneq.__version__
    except Exception:
        pass
    for module in ("diffrax", "jax_md"):
        try:
            info[module] = __import__(module).__version__
        except Exception:
            info[module] = None
    return info


def steps_for(n, work, lo, hi):
    return int(min(hi, max(lo, work // n)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="CPU smoke run, N <= 1e5")
    mode.add_argument("--full", action="store_true", help="GPU run, N up to 1e8")
    parser.add_argument("--device-json", help="also write the JSON object to this path")
    parser.add_argument(
        "--peak-bandwidth-gbs", type=float, help="device memory bandwidth (GB/s) for --full"
    )
    parser.add_argument("--repeats", type=int, default=10, help="best of this many rounds")
    parser.add_argument("--skip", default="", help="comma-separated implementations to skip")
    parser.add_argument(
        "--grad-only",
        action="store_true",
        help="only the reverse-mode keys (grad_mem_ratio_steps_1e5_over_1e3, "
        "grad_over_forward_n1e4); about a minute on a CPU",
    )
    parser.add_argument(
        "--throughput-only",
        action="store_true",
        help="only the throughput table and the ratio keys (no profile, all-cores, memory, "
        "many-body or gradient sections)",
    )
    parser.add_argument("--_mem-case", nargs=3, metavar=("NAME", "N", "STEPS"), dest="mem_case")
    parser.add_argument(
        "--_all-cores-case", nargs=3, metavar=("N", "STEPS", "REPEATS"), dest="all_cores_case"
    )
    args = parser.parse_args(argv)

    if args.all_cores_case:
        n, steps, repeats = (int(float(v)) for v in args.all_cores_case)
        print(json.dumps(all_cores_case(n, steps, repeats)))
        return 0

    if args.mem_case:
        name, n, steps = args.mem_case
        print(json.dumps(memory_case(name, int(float(n)), int(float(steps)))))
        return 0

    if args.grad_only:
        result = {"benchmark": "jaxneq.langevin gradients", "machine": machine_info()}
        add_gradient_keys(result, min(args.repeats, 5))
        result["machine"]["load_average_at_end"] = list(os.getloadavg())
        print(json.dumps(result, indent=1))
        return 0

    if args.full:
        sizes = [10**3, 10**4, 10**5, 10**6, 10**7, 10**8]
        work, lo, hi, numpy_work = 2 * 10**10, 100, 20_000, 10**8
    elif args.quick:
        sizes = [10**2, 10**3, 10**4, 10**5]
        work, lo, hi, numpy_work = 2 * 10**7, 100, 20_000, 2 * 10**7
    else:
        sizes = [10**3, 10**4, 10**5, 10**6]
        work, lo, hi, numpy_work = 10**8, 100, 20_000, 10**8
    skip = {s for s in args.skip.split(",") if s}
    names = [n for n in RUNNERS if n not in skip and available(n)]
    result = {
        "benchmark": "jaxneq.langevin double well",
        "mode": "full" if args.full else "quick" if args.quick else "default",
        "system": {
            "potential": "(x^2 - 1)^2",
            "temperature": TEMPERATURE,
            "dt": DT,
            "dtype": "float32",
            "method": "euler_maruyama",
        },
        "machine": machine_info(),
        "skipped": sorted(set(RUNNERS) - set(names)),
        "throughput": {},
    }
    for name in names:
        result["throughput"][name] = []
    for n in sizes:
        steps = {}
        for name in names:
            budget = numpy_work if name in ("numpy", "diffrax", "jax_md") else work
            steps[name] = steps_for(n, budget, lo, hi)
        todo = [
            name
            for name in names
            if not (name in ("numpy", "diffrax") and n * steps[name] > 4 * numpy_work)
        ]
        log(f"N={n:.0e}: " + ", ".join(f"{name} {steps[name]} steps" for name in todo))
        rows = time_cases(todo, n, steps, args.repeats)
        for name in todo:
            result["throughput"][name].append(rows[name])
        # the rows also go to stderr, so that a run stopped early leaves its numbers
        log(
            json.dumps(
                {
                    "n": n,
                    "million_particle_steps_per_s": {
                        name: round(row["particle_steps_per_s"] / 1e6, 2)
                        for name, row in rows.items()
                        if "particle_steps_per_s" in row
                    },
                }
            )
        )

    def rate(name, n, field="particle_steps_per_s"):
        for row in result["throughput"].get(name, []):
            if row["n"] == n and field in row:
                return row[field]
        return None

    ratios, ratios_cpu = {}, {}
    for n in sizes:
        tag = f"n{n:.0e}".replace("+0", "")
        tables = (("particle_steps_per_s", ratios), ("particle_steps_per_cpu_s", ratios_cpu))
        for field, table in tables:
            base = rate("jaxneq", n, field)
            for peer in names:
                other = rate(peer, n, field)
                if not peer.startswith("jaxneq") and base and other:
                    table[f"ratio_vs_{peer}_{tag}"] = base / other
            with_mean = rate("jaxneq_with_mean", n, field)
            if field == "particle_steps_per_s" and base and with_mean:
                table[f"speed_with_mean_observable_over_without_{tag}"] = with_mean / base
            with_unroll = rate("jaxneq_unroll8", n, field)
            if field == "particle_steps_per_s" and base and with_unroll:
                table[f"speed_unroll8_over_default_{tag}"] = with_unroll / base
    result["ratios"] = ratios
    # The best peer at each N: the fastest of NumPy, the hand-written scan, JAX MD and
    # diffrax among those that ran (a peer that is not installed is named in the notes).
    result["peers_missing"] = [
        f"{name}: not installed (pip install '.[bench]'), left out of the best peer"
        for name in ("jax_md", "diffrax")
        if name not in names and name not in skip
    ]
    for n in sizes:
        tag = f"n{n:.0e}".replace("+0", "")
        peers = {p: rate(p, n) for p in ("numpy", "scan", "jax_md", "diffrax")}
        peers = {p: v for p, v in peers.items() if v}
        base = rate("jaxneq", n)
        if peers and base:
            best_peer = max(peers, key=peers.get)
            result[f"best_peer_{tag}"] = best_peer
            result[f"ratio_vs_best_peer_{tag}"] = base / peers[best_peer]
    # Single-threaded implementations (NumPy, XLA:CPU on one device): process CPU time is
    # what they cost, whatever else the machine runs at the same time.
    result["ratios_cpu_time"] = ratios_cpu
    result["ratio_vs_numpy_n1e5"] = ratios.get("ratio_vs_numpy_n1e5")
    result["ratio_vs_scan_n1e5"] = ratios.get("ratio_vs_scan_n1e5")

    if args.full and args.peak_bandwidth_gbs:
        result["peak_bandwidth_gbs"] = args.peak_bandwidth_gbs
        result["bytes_per_particle_step_model"] = 8
        result["bandwidth_fraction"] = {
            name: {
                str(row["n"]): row["particle_steps_per_s"] * 8 / (args.peak_bandwidth_gbs * 1e9)
                for row in result["throughput"][name]
                if "particle_steps_per_s" in row
            }
            for name in ("jaxneq", "scan")
            if name in result["throughput"]
        }

    if args.throughput_only:
        result["machine"]["load_average_at_end"] = list(os.getloadavg())
        text = json.dumps(result, indent=1)
        if args.device_json:
            with open(args.device_json, "w") as f:
                f.write(text + "\n")
        print(text)
        return 0

    n_ref = 10**5
    steps_ref = steps_for(n_ref, work, lo, hi)
    if "jaxneq" in names and "scan" in names:
        result["max_abs_diff_jaxneq_vs_scan_same_noise"] = same_noise_check(10**3, 1000)
        log("profile: parts of the scan")
        result["profile_floor"] = profile_floor(n_ref, steps_ref, args.repeats)
        log(f"all cores: ensemble sharded over {os.cpu_count()} host devices")
        try:
            cores = all_cores_subprocess(n_ref, steps_ref, args.repeats)
            result["all_cores_n1e5"] = cores
            result["ratio_vs_numpy_n1e5_all_cores"] = cores["ratio_vs_numpy"]
            result["ratio_vs_scan_n1e5_all_cores"] = cores["ratio_vs_scan"]
        except Exception as e:
            result["all_cores_n1e5"] = {"error": f"{type(e).__name__}: {e}"}

    log("memory: subprocesses (peak RSS)")
    # Storing every step would need mem_n * 1e5 * 4 bytes (0.8 GB in quick mode): a memory
    # that grows with n_steps cannot hide behind the ~0.35 GB of imports and compilation.
    mem_n = 2 * 10**3 if args.quick else 10**4
    memory = {
        "method": "peak_rss_kib: VmHWM of a fresh subprocess per case (imports, compile, one "
        "run; ru_maxrss where /proc is missing); device_peak_bytes from jax memory_stats() "
        "where the backend has it (GPU)",
        "n": mem_n,
        "baseline_no_simulation": memory_subprocess("baseline", mem_n, 1),
        "steps_1e3": memory_subprocess("jaxneq_with_mean", mem_n, 10**3),
        "steps_1e5": memory_subprocess("jaxneq_with_mean", mem_n, 10**5),
    }
    memory["stored_trajectory_would_need_mib_at_1e5"] = mem_n * 10**5 * 4 / 2**20
    ratio = memory["steps_1e5"]["peak_rss_kib"] / memory["steps_1e3"]["peak_rss_kib"]
    device = [memory[k]["device_peak_bytes"] for k in ("steps_1e3", "steps_1e5")]
    if all(device):  # on a GPU the device's own peak is the number that matters
        memory["device_peak_ratio_1e5_over_1e3"] = device[1] / device[0]
        ratio = max(ratio, device[1] / device[0])
    base = memory["baseline_no_simulation"]["peak_rss_kib"]
    grow = [memory[k]["peak_rss_kib"] - base for k in ("steps_1e3", "steps_1e5")]
    memory["above_baseline_kib"] = {"steps_1e3": grow[0], "steps_1e5": grow[1]}
    memory["above_baseline_ratio_1e5_over_1e3"] = grow[1] / grow[0] if grow[0] > 0 else None
    result["memory"] = memory
    result["mem_ratio_steps_1e5_over_1e3"] = ratio

    if "jaxneq" not in skip:
        log("many-body: 2D soft discs, cell list")
        mb_steps = 1000 if args.full else 100
        try:
            result["many_body"] = many_body(10**4, mb_steps, args.repeats, available("jax_md"))
        except Exception as e:
            result["many_body"] = {"error": f"{type(e).__name__}: {e}"}

    add_gradient_keys(result, min(args.repeats, 5))

    targets = {
        "ratio_vs_best_peer_n1e2": (">=", 1.2),
        "ratio_vs_best_peer_n1e3": (">=", 1.2),
        "ratio_vs_best_peer_n1e5": (">=", 1.2),
        "ratio_vs_scan_n1e5": (">=", 0.9),
        "ratio_vs_numpy_n1e5": (">=", 2.0),
        "mem_ratio_steps_1e5_over_1e3": ("<", 1.1),
    }
    result["targets"] = {key: f"{op} {value}" for key, (op, value) in targets.items()}

    def met(key, value=None):
        op, bound = targets[key]
        value = result.get(key) if value is None else value
        if value is None:
            return None
        return bool(value >= bound if op == ">=" else value < bound)

    result["target_status"] = {key: met(key) for key in targets}
    result["targets_met"] = all(result["target_status"].values())
    if "ratio_vs_numpy_n1e5_all_cores" in result:
        # the same targets with the ensemble sharded over every core (see all_cores_case)
        result["target_status_all_cores"] = {
            "ratio_vs_scan_n1e5": met("ratio_vs_scan_n1e5", result["ratio_vs_scan_n1e5_all_cores"]),
            "ratio_vs_numpy_n1e5": met(
                "ratio_vs_numpy_n1e5", result["ratio_vs_numpy_n1e5_all_cores"]
            ),
            "mem_ratio_steps_1e5_over_1e3": result["target_status"]["mem_ratio_steps_1e5_over_1e3"],
        }
    result["machine"]["load_average_at_end"] = list(os.getloadavg())
    text = json.dumps(result, indent=1)
    if args.device_json:
        with open(args.device_json, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
