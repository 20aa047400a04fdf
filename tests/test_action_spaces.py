"""Actions beyond one Categorical or Box: legal-action masks and MultiDiscrete spaces, from the
distribution (against NumPy by hand) to training under `jit(vmap(train))` on toy environments
whose legal set and best action are known."""

from __future__ import annotations

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct
from gymnax.environments import spaces

import purejaxppo
from purejaxppo import PPOConfig, make_train
from purejaxppo.action_masks import fully_masked
from purejaxppo.config import ConfigError
from purejaxppo.envs import MultiDiscrete
from purejaxppo.evaluate import make_evaluate
from purejaxppo.networks.distributions import MultiCategorical, action_distribution
from purejaxppo.policy import policy_of_run
from purejaxppo.rollout import collect_rollout
from purejaxppo.run_axis import seed_keys

pytestmark = pytest.mark.timeout(300)


# ----------------------------------------------------------------------------- toy environments
@struct.dataclass
class ArmsState:
    legal: jax.Array  # [4] bool: the arms legal at this step (shown as the observation)
    time: jax.Array  # [] int32, steps into the episode
    illegal: jax.Array  # [] int32, illegal arms pulled since the first reset (survives resets)
    steps: jax.Array  # [] int32, steps since the first reset


@struct.dataclass
class ArmsParams:
    max_steps_in_episode: int = 8


class Arms:
    """Four arms; at every step a random subset of them is legal, and the observation shows
    which. The highest legal arm pays 1, another legal arm 0, an illegal arm -1; the state
    counts illegal pulls across episodes. No `action_mask`: the control."""

    def __init__(self, allow_empty: bool = False, empty_on_reset: bool = False):
        self.allow_empty = allow_empty  # steps may draw a set with no legal arm
        self.empty_on_reset = empty_on_reset  # the reset state has no legal arm

    def _draw(self, key: jax.Array, allow_empty: bool) -> jax.Array:
        bits = jax.random.randint(key, (), 0 if allow_empty else 1, 16)
        return (bits >> jnp.arange(4)) & 1 == 1

    def reset(self, key, params):
        legal = jnp.zeros(4, bool) if self.empty_on_reset else self._draw(key, False)
        state = ArmsState(legal, jnp.int32(0), jnp.int32(0), jnp.int32(0))
        return state.legal.astype(jnp.float32), state

    def step(self, key, state, action, params):
        legal_pull = state.legal[action]
        best = 3 - jnp.argmax(state.legal[::-1])
        reward = jnp.where(legal_pull, jnp.where(action == best, 1.0, 0.0), -1.0)
        time = state.time + 1
        truncated = time >= params.max_steps_in_episode
        new = ArmsState(
            legal=self._draw(key, self.allow_empty),
            time=jnp.where(truncated, 0, time),
            illegal=state.illegal + (~legal_pull).astype(jnp.int32),
            steps=state.steps + 1,
        )
        obs = new.legal.astype(jnp.float32)  # the pre-reset observation is the same draw
        return obs, new, reward, jnp.array(False), truncated, {"final_observation": obs}

    def action_space(self, params=None):
        return spaces.Discrete(4)

    def observation_space(self, params):
        return spaces.Box(0.0, 1.0, (4,), jnp.float32)


class MaskedArms(Arms):
    """`Arms` that tells the trainer its legal arms."""

    def action_mask(self, state, params):
        return state.legal


PAY = (0.0, 1.0, 0.0, 0.6)  # the second arm set's payouts


@struct.dataclass
class JointState:
    illegal: jax.Array  # [] int32, illegal joint actions since the first reset


class JointArms:
    """Two arm sets pulled jointly, `MultiDiscrete([3, 4])`, one-step episodes: 0.5 for arm 2
    of the first set plus 0.5 * PAY[a1] for the second. With `forbid`, arm 1 of the second set
    is illegal (an `action_mask`), and the best legal joint action is (2, 3), paying 0.8."""

    def __init__(self, forbid: bool = False):
        self.forbid = forbid
        if forbid:
            self.action_mask = lambda state, params: jnp.array([1, 1, 1, 1, 0, 1, 1], bool)

    def reset(self, key, params):
        return jnp.ones((1,), jnp.float32), JointState(jnp.int32(0))

    def step(self, key, state, action, params):
        reward = 0.5 * (action[0] == 2) + 0.5 * jnp.asarray(PAY)[action[1]]
        illegal = jnp.logical_and(self.forbid, action[1] == 1)
        new = JointState(state.illegal + illegal.astype(jnp.int32))
        obs = jnp.ones((1,), jnp.float32)
        info = {"final_observation": obs}
        return obs, new, reward.astype(jnp.float32), jnp.array(True), jnp.array(False), info

    def action_space(self, params=None):
        return MultiDiscrete([3, 4])

    def observation_space(self, params):
        return spaces.Box(1.0, 1.0, (1,), jnp.float32)


def _register() -> None:
    made = lambda cls: lambda **kw: (cls(**kw), ArmsParams())  # noqa: E731
    purejaxppo.register_env("ToyArms-v0", made(Arms), overwrite=True)
    purejaxppo.register_env("ToyMaskedArms-v0", made(MaskedArms), overwrite=True)
    purejaxppo.register_env("ToyJointArms-v0", made(JointArms), overwrite=True)


_register()

SMALL = dict(num_envs=8, num_steps=16, update_epochs=4, num_minibatches=2, hidden_sizes=(32, 32))
FAST = purejaxppo.Hyperparams(lr=3e-3, ent_coef=0.0)


def arms_config(**changes) -> PPOConfig:
    base = dict(env_id="ToyMaskedArms-v0", total_timesteps=8 * 16 * 30, hparams=FAST, **SMALL)
    return PPOConfig(**{**base, **changes})


# ----------------------------------------------------------------------------- numpy by hand
def np_log_softmax(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def np_entropy(logits: np.ndarray) -> np.ndarray:
    logp = np_log_softmax(logits)
    return -(np.exp(logp) * logp).sum(axis=-1)


LOGITS = np.array([[2.0, 5.0, 0.1, 3.0, -1.0], [0.3, -0.2, 1.5, 0.0, 0.7]], np.float32)
MASK = np.array([[True, False, True, False, True], [False, True, True, True, False]])


def masked(logits=LOGITS, mask=MASK, nvec=None):
    return action_distribution(
        distrax.Categorical(logits=jnp.asarray(logits)), nvec, jnp.asarray(mask)
    )


# ----------------------------------------------------------------------------- distributions
def test_no_mask_and_no_nvec_is_the_network_distribution_itself():
    dist = distrax.Categorical(logits=jnp.asarray(LOGITS))
    assert action_distribution(dist, None, None) is dist


def test_a_masked_action_is_never_sampled_in_100k_draws():
    """The best logit (action 1 of row 0) is illegal; the legal frequencies follow the
    renormalized legal probabilities."""
    n = 100_000
    logits = np.broadcast_to(LOGITS[0], (n, 5))
    mask = np.broadcast_to(MASK[0], (n, 5))
    draws = np.asarray(masked(logits, mask).sample(seed=jax.random.PRNGKey(0)))
    assert not np.any(~MASK[0][draws]), "an illegal action was sampled"
    legal = np.flatnonzero(MASK[0])
    expected = np.exp(np_log_softmax(LOGITS[0][legal]))
    counts = np.bincount(draws, minlength=5)[legal] / n
    np.testing.assert_allclose(counts, expected, atol=0.01)


def test_entropy_is_that_of_the_legal_actions_alone():
    ent = np.asarray(masked().entropy())
    by_hand = [np_entropy(LOGITS[i][MASK[i]]) for i in range(2)]
    np.testing.assert_allclose(ent, by_hand, rtol=1e-5)
    assert np.all(np.isfinite(ent))


def test_log_prob_of_legal_actions_renormalizes():
    dist = masked()
    for i in range(2):
        legal = np.flatnonzero(MASK[i])
        logp = np.array([float(dist.log_prob(jnp.array([a, a]))[i]) for a in legal])
        np.testing.assert_allclose(logp, np_log_softmax(LOGITS[i][legal]), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.exp(logp).sum(), 1.0, rtol=1e-5)


def test_mode_is_the_best_legal_action():
    np.testing.assert_array_equal(np.asarray(masked().mode()), [0, 2])


def test_masked_gradients_are_finite_and_vanish_on_illegal_logits():
    def loss(logits):
        dist = masked(logits)
        return dist.entropy().sum() + dist.log_prob(jnp.array([0, 2])).sum()

    grad = np.asarray(jax.grad(loss)(jnp.asarray(LOGITS)))
    assert np.all(np.isfinite(grad))
    # zero up to rounding: the illegal logits only shift the legal ones by a common constant
    np.testing.assert_allclose(grad[~MASK], 0.0, atol=1e-6)


def test_a_fully_masked_row_falls_back_to_the_unmasked_distribution():
    """As documented in purejaxppo.action_masks: no NaN, the policy's own distribution over
    every action, and `fully_masked` flags the row (training counts it in a metric)."""
    mask = MASK.copy()
    mask[1] = False
    dist, plain = masked(mask=mask), distrax.Categorical(logits=jnp.asarray(LOGITS))
    actions = jnp.array([0, 3])
    np.testing.assert_allclose(dist.log_prob(actions)[1], plain.log_prob(actions)[1], rtol=1e-6)
    np.testing.assert_allclose(dist.entropy()[1], np_entropy(LOGITS[1]), rtol=1e-5)
    assert int(dist.mode()[1]) == int(np.argmax(LOGITS[1]))
    np.testing.assert_allclose(dist.entropy()[0], np_entropy(LOGITS[0][MASK[0]]), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(fully_masked(jnp.asarray(mask))), [False, True])


NVEC = (2, 3)


def test_multi_discrete_log_prob_entropy_sample_and_mode_against_numpy():
    logits = LOGITS  # [2, 5] = [2, 2 + 3]
    dist = MultiCategorical(jnp.asarray(logits), NVEC)
    parts = [logits[:, :2], logits[:, 2:]]
    action = np.array([[1, 2], [0, 0]])
    by_hand = sum(np_log_softmax(p)[np.arange(2), action[:, k]] for k, p in enumerate(parts))
    np.testing.assert_allclose(dist.log_prob(jnp.asarray(action)), by_hand, rtol=1e-5)
    np.testing.assert_allclose(dist.entropy(), sum(np_entropy(p) for p in parts), rtol=1e-5)
    np.testing.assert_array_equal(dist.mode(), np.stack([p.argmax(-1) for p in parts], -1))
    sample, logp = dist.sample_and_log_prob(seed=jax.random.PRNGKey(1))
    assert sample.shape == (2, 2) and sample.dtype == jnp.int32
    assert np.all(np.asarray(sample) < np.asarray(NVEC))
    np.testing.assert_allclose(logp, dist.log_prob(sample), rtol=1e-6)
    # a Categorical over sum(nvec) logits (what a network's distribution is) splits the same
    split = action_distribution(distrax.Categorical(logits=jnp.asarray(logits)), NVEC)
    np.testing.assert_allclose(split.log_prob(jnp.asarray(action)), by_hand, rtol=1e-5)


def test_multi_discrete_masks_are_one_segment_per_component():
    """Row 0 masks within both segments; row 1's second segment allows nothing, so only that
    segment falls back to unmasked (the first keeps its mask)."""
    mask = np.array([[True, False, False, True, True], [False, True, False, False, False]])
    dist = masked(mask=mask, nvec=NVEC)
    parts = [(LOGITS[:, :2], mask[:, :2]), (LOGITS[:, 2:], mask[:, 2:])]
    ent0 = sum(np_entropy(p[0][m[0]]) for p, m in parts)
    ent1 = 0.0 + np_entropy(LOGITS[1, 2:])  # segment 0 has one legal action: entropy 0
    np.testing.assert_allclose(dist.entropy(), [ent0, ent1], rtol=1e-5)
    draws = np.asarray(
        MultiCategorical(jnp.broadcast_to(dist.logits[0], (20_000, 5)), NVEC).sample(
            jax.random.PRNGKey(2)
        )
    )
    assert set(draws[:, 0]) == {0} and set(draws[:, 1]) <= {1, 2}
    np.testing.assert_array_equal(np.asarray(fully_masked(jnp.asarray(mask), NVEC)), [False, True])


# ----------------------------------------------------------------------------- the trainer
def test_no_mask_keeps_the_transition_structure_and_a_mask_is_stored_per_step():
    def rollout_shapes(config):
        train = make_train(config)
        state = jax.eval_shape(train.init, jax.random.PRNGKey(0), config.hparams)
        run = lambda s: collect_rollout(  # noqa: E731
            s,
            train.env,
            train.env_params,
            train.network.apply,
            config.num_steps,
            0.99,
            normalize_observations=False,
            normalize_rewards=False,
            obs_clip=10.0,
            reward_clip=10.0,
            dist_fn=lambda d, m: action_distribution(d, None, m),
        )
        return jax.eval_shape(run, state)[1]

    plain = rollout_shapes(arms_config(env_id="ToyArms-v0"))
    assert plain.action_mask is None
    traj = rollout_shapes(arms_config())
    assert traj.action_mask.shape == (16, 8, 4) and traj.action_mask.dtype == jnp.bool_
    assert len(jax.tree.leaves(traj)) == len(jax.tree.leaves(plain)) + 1


def test_an_env_whose_reset_allows_no_action_is_refused_at_make_train():
    config = arms_config(env_kwargs={"empty_on_reset": True})
    with pytest.raises(ConfigError, match="allows no action") as error:
        make_train(config)
    assert "\n" not in str(error.value)


def test_the_control_env_counts_illegal_pulls():
    """Without a mask, random arms are often illegal: the counter the training tests read works."""
    env, params = Arms(), ArmsParams()

    def step(carry, key):
        state = carry
        action = jax.random.randint(key, (), 0, 4)
        return env.step(key, state, action, params)[1], None

    state = env.reset(jax.random.PRNGKey(0), params)[1]
    state, _ = jax.lax.scan(step, state, jax.random.split(jax.random.PRNGKey(1), 200))
    assert int(state.steps) == 200 and 30 < int(state.illegal) < 170


@pytest.mark.parametrize("recurrent", ["none", "gru"])
def test_masked_training_never_takes_an_illegal_action(recurrent):
    """jit(vmap(train)) over 2 seeds, feed-forward and recurrent: zero illegal pulls in
    every environment of every seed, and the policy learns the highest legal arm."""
    config = arms_config(recurrent=recurrent, recurrent_size=32)
    out = jax.jit(jax.vmap(make_train(config), in_axes=(0, None)))(seed_keys(0, 2), FAST)
    env_state = out.runner_state.env_state.env_state
    assert int(env_state.steps.sum()) == 2 * config.num_updates * config.batch_size
    assert int(env_state.illegal.sum()) == 0
    returns = np.asarray(out.metrics.episode_return)
    assert np.nanmin(returns) >= 0.0
    assert np.all(np.asarray(out.metrics.fully_masked_steps) == 0)
    # 8 steps a 1 for the best arm; a random legal arm gets about 3.7
    assert np.nanmean(returns[:, -5:]) > 6.0, returns[:, -5:]


def test_fully_masked_steps_are_counted_and_training_stays_finite():
    """Steps may draw no legal arm (1 in 16): they are counted and acted on unmasked."""
    config = arms_config(env_kwargs={"allow_empty": True}, total_timesteps=8 * 16 * 4)
    out = jax.jit(jax.vmap(make_train(config), in_axes=(0, None)))(seed_keys(0, 2), FAST)
    counted = np.asarray(out.metrics.fully_masked_steps)
    assert counted.shape == (2, 4) and counted.sum() > 0
    for name in ("policy_loss", "value_loss", "entropy", "approx_kl"):
        assert np.all(np.isfinite(np.asarray(getattr(out.metrics, name)))), name


def test_greedy_evaluation_and_the_exported_policy_pick_legal_actions_only():
    """An untrained policy's arg-max ignores the legal set; masked, it never pulls an
    illegal arm (-1), in evaluation and in the policy `load_policy` returns."""
    config = arms_config()
    evaluate = jax.jit(make_evaluate(config, 16, deterministic=True))
    train = make_train(config)
    state = jax.vmap(train.init, in_axes=(0, None))(seed_keys(0, 1), FAST)
    params = jax.tree.map(lambda x: x[0], state.params)
    obs_stats = jax.tree.map(lambda x: x[0], state.obs_stats)
    out = evaluate(params, obs_stats, jax.random.PRNGKey(3))
    assert np.all(np.asarray(out.finished)) and np.min(np.asarray(out.returns)) >= 0.0
    policy = policy_of_run(config, state, 0, deterministic=True)
    masks = jnp.asarray([[False, True, False, False], [True, False, False, True]] * 8)
    obs = masks.astype(jnp.float32)
    actions = np.asarray(jax.jit(lambda o, m: policy(o, action_mask=m))(obs, masks))
    assert np.all(np.asarray(masks)[np.arange(16), actions])
    with pytest.raises(ConfigError, match="action_mask"):
        policy(obs)


@pytest.mark.parametrize("forbid", [False, True])
def test_multi_discrete_learns_the_best_joint_action(forbid):
    """jit(vmap(train)) over 2 seeds on two arm sets pulled jointly: the greedy joint action
    is the best (legal) one and the last updates' mean return is near its payout."""
    best, payout = ((2, 3), 0.8) if forbid else ((2, 1), 1.0)
    config = arms_config(
        env_id="ToyJointArms-v0", env_kwargs={"forbid": forbid}, total_timesteps=8 * 16 * 25
    )
    train = make_train(config)
    out = jax.jit(jax.vmap(train, in_axes=(0, None)))(seed_keys(0, 2), FAST)
    assert out.runner_state.env_state.env_state.illegal.sum() == 0
    returns = np.asarray(out.metrics.episode_return)
    assert np.mean(returns[:, -3:]) > payout - 0.1, returns[:, -3:]
    for seed in range(2):
        params = jax.tree.map(lambda x, s=seed: x[s], out.runner_state.params)
        dist, _ = train.network.apply(params, jnp.ones((1, 1)))
        mask = jnp.asarray([[1, 1, 1, 1, 0, 1, 1]], bool) if forbid else None
        greedy = np.asarray(action_distribution(dist, (3, 4), mask).mode())[0]
        assert tuple(greedy) == best, (seed, greedy)
