"""Tests for `ppo_loss` against a hand-computed minibatch with controlled log-probs."""

from __future__ import annotations

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxppo.loss import ppo_loss
from purejaxppo.types import Transition

EPS = 0.2

# Five samples, three actions. Ratios chosen to hit every branch of the clipped surrogate:
#   0: ratio 1.5 > 1 + eps, A > 0  -> clipped term wins: 1.2 * 1     =  1.2
#   1: ratio 0.6 < 1 - eps, A < 0  -> clipped term wins: 0.8 * -2    = -1.6
#   2: ratio 1.1 inside,    A < 0  -> unclipped:         1.1 * -0.5  = -0.55
#   3: ratio 0.7 < 1 - eps, A > 0  -> unclipped wins:    0.7 * 3     =  2.1
#   4: ratio 1.4 > 1 + eps, A < 0  -> unclipped wins:    1.4 * -1.5  = -2.1
RATIOS = np.array([1.5, 0.6, 1.1, 0.7, 1.4])
ADVANTAGES = np.array([1.0, -2.0, -0.5, 3.0, -1.5])  # mean 0: normalizing keeps every sign
SURROGATE = np.array([1.2, -1.6, -0.55, 2.1, -2.1])  # by hand, from the table above
POLICY_LOSS = 0.19  # -mean(SURROGATE) = -(-0.95 / 5)
CLIP_FRACTION = 0.8  # samples 0, 1, 3, 4 have |ratio - 1| > 0.2

# Values: new V, old V (from the rollout), target. With eps = 0.2:
#   0: V 1.0, old 0.5, target 2.0 -> V_clip 0.7:  max(1.0, 1.69) = 1.69
#   1: V 0.0, old 0.1, target -1  -> V_clip 0.0:  max(1.0, 1.0)  = 1.0
#   2: V -1,  old 0.0, target -2  -> V_clip -0.2: max(1.0, 3.24) = 3.24
#   3: V 2.0, old 1.0, target 0.0 -> V_clip 1.2:  max(4.0, 1.44) = 4.0
#   4: V 0.5, old 0.5, target 0.5 -> 0
NEW_VALUES = np.array([1.0, 0.0, -1.0, 2.0, 0.5])
OLD_VALUES = np.array([0.5, 0.1, 0.0, 1.0, 0.5])
TARGETS = np.array([2.0, -1.0, -2.0, 0.0, 0.5])
VALUE_LOSS_CLIPPED = 0.5 * (1.69 + 1.0 + 3.24 + 4.0 + 0.0) / 5  # 0.993
VALUE_LOSS_UNCLIPPED = 0.5 * (1.0 + 1.0 + 1.0 + 4.0 + 0.0) / 5  # 0.7

LOGITS = np.array(
    [[0.5, -1.0, 2.0], [0.0, 0.0, 0.0], [1.5, 0.3, -0.7], [-2.0, 1.0, 0.1], [0.2, 0.2, 3.0]]
)
ACTIONS = np.array([2, 0, 1, 1, 0])


def apply_fn(params, obs):
    """A 'network' whose outputs are looked up from params by sample index (obs)."""
    return distrax.Categorical(logits=params["logits"][obs]), params["value"][obs]


def log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def make_batch(old_log_prob, old_value, actions):
    n = len(actions)
    zeros = jnp.zeros((n,), jnp.float32)
    return Transition(
        obs=jnp.arange(n),
        action=jnp.asarray(actions, jnp.int32),
        reward=zeros,
        terminated=jnp.zeros((n,), bool),
        truncated=jnp.zeros((n,), bool),
        value=jnp.asarray(old_value, jnp.float32),
        log_prob=jnp.asarray(old_log_prob, jnp.float32),
        final_value=zeros,
        episode_return=zeros,
        episode_length=jnp.zeros((n,), jnp.int32),
    )


def hand_case():
    params = {
        "logits": jnp.asarray(LOGITS, jnp.float32),
        "value": jnp.asarray(NEW_VALUES, jnp.float32),
    }
    new_log_prob = log_softmax(LOGITS)[np.arange(5), ACTIONS]
    old_log_prob = new_log_prob - np.log(RATIOS)  # so that exp(new - old) = RATIOS
    batch = make_batch(old_log_prob, OLD_VALUES, ACTIONS)
    return params, batch


def expected_entropy():
    logp = log_softmax(LOGITS)
    return float(-(np.exp(logp) * logp).sum(axis=-1).mean())


def call_loss(
    params, batch, advantages, targets, *, vf=0.5, ent=0.01, clip_value=True, normalize=False
):
    return ppo_loss(
        params,
        apply_fn,
        batch,
        jnp.asarray(advantages, jnp.float32),
        jnp.asarray(targets, jnp.float32),
        EPS,
        vf,
        ent,
        clip_value_loss=clip_value,
        normalize_advantages=normalize,
    )


def test_hand_computed_table_is_consistent():
    """Checks the hand-computed constants the other tests rely on."""
    assert np.isclose(-SURROGATE.mean(), POLICY_LOSS)
    assert np.isclose(ADVANTAGES.mean(), 0.0)
    assert np.isclose(VALUE_LOSS_CLIPPED, 0.993)


@pytest.mark.parametrize("clip_value", [True, False])
def test_matches_hand_computed_case(clip_value):
    params, batch = hand_case()
    vf, ent = 0.5, 0.01
    total, info = call_loss(
        params, batch, ADVANTAGES, TARGETS, vf=vf, ent=ent, clip_value=clip_value, normalize=False
    )
    value_loss = VALUE_LOSS_CLIPPED if clip_value else VALUE_LOSS_UNCLIPPED
    entropy = expected_entropy()
    approx_kl = np.mean((RATIOS - 1.0) - np.log(RATIOS))
    np.testing.assert_allclose(info.policy_loss, POLICY_LOSS, rtol=1e-5)
    np.testing.assert_allclose(info.value_loss, value_loss, rtol=1e-5)
    np.testing.assert_allclose(info.entropy, entropy, rtol=1e-5)
    np.testing.assert_allclose(info.approx_kl, approx_kl, rtol=1e-4)
    np.testing.assert_allclose(info.clip_fraction, CLIP_FRACTION, rtol=1e-6)
    want_total = POLICY_LOSS + vf * value_loss - ent * entropy
    np.testing.assert_allclose(total, want_total, rtol=1e-5)
    np.testing.assert_allclose(info.total, want_total, rtol=1e-5)


def test_normalized_advantages_scale_the_hand_computed_policy_loss():
    params, batch = hand_case()
    _, info = call_loss(params, batch, ADVANTAGES, TARGETS, normalize=True)
    # ADVANTAGES has mean 0, so normalizing only divides by the (population) std; every
    # sample keeps its branch of the min and the loss scales by the same factor.
    std = ADVANTAGES.std()
    np.testing.assert_allclose(info.policy_loss, POLICY_LOSS / std, rtol=1e-5)
    # Shifting every advantage by a constant changes nothing once normalized.
    _, shifted = call_loss(params, batch, ADVANTAGES + 10.0, TARGETS, normalize=True)
    np.testing.assert_allclose(shifted.policy_loss, info.policy_loss, rtol=1e-4)
    # ...but it does without normalization.
    _, raw = call_loss(params, batch, ADVANTAGES + 10.0, TARGETS, normalize=False)
    assert not np.isclose(raw.policy_loss, info.policy_loss, rtol=1e-2)


def test_normalized_advantages_with_nonzero_mean():
    params, batch = hand_case()
    adv = np.array([2.0, 0.5, 1.0, 4.0, -1.0])
    _, info = call_loss(params, batch, adv, TARGETS, normalize=True)
    norm = (adv - adv.mean()) / (adv.std() + 1e-8)
    clipped = np.clip(RATIOS, 1 - EPS, 1 + EPS)
    want = -np.mean(np.minimum(RATIOS * norm, clipped * norm))
    np.testing.assert_allclose(info.policy_loss, want, rtol=1e-5)


@pytest.mark.parametrize("normalize", [True, False])
def test_identical_params_give_ratio_one(normalize):
    params, _ = hand_case()
    new_log_prob = log_softmax(LOGITS)[np.arange(5), ACTIONS]
    # Old log-probs computed by the same apply_fn, so the ratio is exactly 1.
    dist, _ = apply_fn(params, jnp.arange(5))
    batch = make_batch(dist.log_prob(jnp.asarray(ACTIONS)), OLD_VALUES, ACTIONS)
    np.testing.assert_allclose(batch.log_prob, new_log_prob, rtol=1e-5)
    adv = np.array([0.3, -1.2, 2.0, 0.7, 0.1])
    _, info = call_loss(params, batch, adv, TARGETS, normalize=normalize)
    assert float(info.approx_kl) == 0.0
    assert float(info.clip_fraction) == 0.0
    if normalize:
        assert abs(float(info.policy_loss)) < 1e-6
    else:
        np.testing.assert_allclose(info.policy_loss, -adv.mean(), rtol=1e-6)


def policy_loss_grad(ratio, advantage):
    """Gradient of the policy loss w.r.t. the logits, for a one-sample batch."""
    logits = np.array([[0.3, -0.4, 1.0]])
    action = np.array([1])
    new_log_prob = log_softmax(logits)[0, 1]
    batch = make_batch(np.array([new_log_prob - np.log(ratio)]), np.zeros(1), action)

    def loss(logits_param):
        params = {"logits": logits_param, "value": jnp.zeros((1,), jnp.float32)}
        _, info = call_loss(
            params, batch, np.array([advantage]), np.zeros(1), vf=0.0, ent=0.0, normalize=False
        )
        return info.policy_loss

    grad = jax.grad(loss)(jnp.asarray(logits, jnp.float32))
    probs = np.exp(log_softmax(logits))[0]
    return np.asarray(grad)[0], probs


@pytest.mark.parametrize("ratio,advantage", [(1.5, 1.0), (0.6, -1.0), (1.25, 2.0), (0.7, -0.3)])
def test_no_gradient_when_clipped_in_the_direction_the_advantage_pushes(ratio, advantage):
    grad, _ = policy_loss_grad(ratio, advantage)
    np.testing.assert_array_equal(grad, np.zeros(3))


@pytest.mark.parametrize("ratio,advantage", [(1.5, -1.0), (0.6, 1.0), (1.0, 1.0), (1.1, -2.0)])
def test_gradient_flows_when_not_clipped(ratio, advantage):
    grad, probs = policy_loss_grad(ratio, advantage)
    # d(-ratio * A)/d logits = -A * ratio * d log pi(a)/d logits = -A * ratio * (onehot(a) - p).
    want = -advantage * ratio * (np.eye(3)[1] - probs)
    np.testing.assert_allclose(grad, want, rtol=1e-4, atol=1e-6)
