"""`pooled_auto_reset`: under vmap it generates ceil(N / ratio) fresh episodes per step and
hands them to the done environments in order; checked against `auto_reset` and a plain
Python oracle, unbatched, nested in a vmap over seeds, and by the shapes it generates."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxppo.envs.autoreset import auto_reset, pooled_auto_reset

N, RATIO, POOL = 8, 4, 2  # ceil(8 / 4) = 2 fresh episodes per step
OBS = 5


def expensive_reset(key, scale):
    """A stand-in for a world generator: observation `[OBS]` and a state of two leaves. The
    observation is integer-valued, so that compiled and eager arithmetic agree bit for bit."""
    obs = jax.random.randint(key, (OBS,), -100, 100).astype(jnp.float32) * scale
    return obs, {"world": jax.random.randint(key, (), 0, 1000), "time": jnp.int32(0)}


def stepped(n):
    """Stepped observations and states of `n` environments, all different from any reset."""
    obs = jnp.arange(n * OBS, dtype=jnp.float32).reshape(n, OBS) + 1e4
    return obs, {"world": jnp.arange(n, dtype=jnp.int32) + 5000, "time": jnp.arange(n) + 7}


POOLED = pooled_auto_reset(expensive_reset, RATIO)
SCALE = jnp.float32(3.0)


@jax.jit
def pooled_step(keys, done, obs, state):
    return jax.vmap(POOLED, in_axes=(0, 0, 0, 0, None))(keys, done, obs, state, SCALE)


@jax.jit
def plain_step(keys, done, obs, state):
    reset = lambda k: expensive_reset(k, SCALE)  # noqa: E731
    return jax.vmap(lambda k, d, o, s: auto_reset(k, d, o, s, reset))(keys, done, obs, state)


def leaves_equal(a, b) -> bool:
    a, b = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_up_to_pool_size_done_it_equals_the_plain_auto_reset_bit_for_bit():
    rng = np.random.default_rng(0)
    obs, state = stepped(N)
    for trial in range(40):
        done = np.zeros(N, bool)
        done[rng.choice(N, size=trial % (POOL + 1), replace=False)] = True
        keys = jax.random.split(jax.random.PRNGKey(trial), N)
        assert leaves_equal(pooled_step(keys, done, obs, state), plain_step(keys, done, obs, state))


def test_beyond_the_pool_done_environments_share_the_pools_episodes_in_rank_order():
    rng = np.random.default_rng(1)
    obs, state = stepped(N)
    for trial in range(20):
        done = rng.random(N) < 0.7
        done[rng.choice(N, size=POOL + 1, replace=False)] = True  # always more than the pool
        keys = jax.random.split(jax.random.PRNGKey(100 + trial), N)
        out = pooled_step(keys, done, obs, state)
        done_rows = [i for i in range(N) if done[i]]
        for rank, i in enumerate(done_rows):
            source = done_rows[rank % POOL]  # the environment whose key made the episode
            want_obs, want_state = expensive_reset(keys[source], SCALE)
            np.testing.assert_array_equal(out.obs[i], want_obs)
            assert int(out.state["world"][i]) == int(want_state["world"])
            assert int(out.state["time"][i]) == 0
        for i in range(N):
            np.testing.assert_array_equal(out.final_observation[i], obs[i])
            if not done[i]:
                np.testing.assert_array_equal(out.obs[i], obs[i])
                assert int(out.state["world"][i]) == int(state["world"][i])


def random_draw_sizes(jaxpr) -> list[int]:
    """Leading sizes of every `random_bits` output in `jaxpr` and the jaxprs nested in it."""
    sizes = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "random_bits":
            sizes += [v.aval.shape[0] for v in eqn.outvars]
        for param in eqn.params.values():
            for sub in param if isinstance(param, (list, tuple)) else [param]:
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    sizes += random_draw_sizes(inner)
    return sizes


def test_only_the_pool_is_generated():
    """Every random draw in the batched program has the pool's leading size, not N's."""
    obs, state = stepped(N)
    keys = jax.random.split(jax.random.PRNGKey(0), N)
    args = (keys, jnp.ones(N, bool), obs, state)
    pooled = random_draw_sizes(jax.make_jaxpr(pooled_step)(*args).jaxpr)
    assert pooled and set(pooled) == {POOL}, pooled
    plain = random_draw_sizes(jax.make_jaxpr(plain_step)(*args).jaxpr)
    assert plain and set(plain) == {N}, plain


def test_unbatched_it_is_auto_reset_and_ratio_one_is_the_plain_select():
    obs, state = stepped(1)
    one = jax.tree.map(lambda x: x[0], (obs, state))
    key = jax.random.PRNGKey(3)
    reset = lambda k: expensive_reset(k, SCALE)  # noqa: E731
    for done in (True, False):
        got = POOLED(key, jnp.bool_(done), *one, SCALE)
        assert leaves_equal(got, auto_reset(key, jnp.bool_(done), *one, reset))
    exact = pooled_auto_reset(expensive_reset, 1)
    obs, state = stepped(N)
    keys = jax.random.split(key, N)
    done = jnp.ones(N, bool)
    got = jax.jit(jax.vmap(exact, in_axes=(0, 0, 0, 0, None)))(keys, done, obs, state, SCALE)
    assert leaves_equal(got, plain_step(keys, done, obs, state))
    with pytest.raises(ValueError, match="reset_ratio must be >= 1"):
        pooled_auto_reset(expensive_reset, 0)


def test_inside_a_vmap_over_seeds_each_seed_pools_its_own_environments():
    seeds = 3
    obs, state = stepped(N)
    keys = jax.random.split(jax.random.PRNGKey(9), seeds * N).reshape(seeds, N, 2)
    done = jnp.asarray(np.random.default_rng(2).random((seeds, N)) < 0.5)
    nested = jax.jit(jax.vmap(pooled_step, in_axes=(0, 0, None, None)))(keys, done, obs, state)
    for s in range(seeds):
        alone = pooled_step(keys[s], done[s], obs, state)
        assert leaves_equal(jax.tree.map(lambda x, s=s: x[s], nested), alone)


def test_params_batched_with_the_environments_fall_back_to_the_plain_select():
    obs, state = stepped(N)
    keys = jax.random.split(jax.random.PRNGKey(4), N)
    scales = jnp.arange(1, N + 1, dtype=jnp.float32)
    done = jnp.ones(N, bool)
    got = jax.vmap(POOLED)(keys, done, obs, state, scales)
    for i in range(N):
        want_obs, _ = expensive_reset(keys[i], scales[i])
        np.testing.assert_array_equal(got.obs[i], want_obs)
