"""VICE-RAQ's math against hand-computed values: mixup, the VICE loss, RAQ's choice, DisCor's weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from anima.models.vice_raq.classifier import binary_loss, flip_labels, mixup, sample_mixup, vice_loss
from anima.models.vice_raq.discor import discor_weights, error_targets, update_tau
from anima.models.vice_raq.raq import GoalSet, select_query


def test_mixup_matches_hand_values() -> None:
    # x0 = 0.25*[0, 0] + 0.75*[10, 20] = [7.5, 15], y0 = 0.25*1 + 0.75*0 = 0.25; lam 1 keeps x1, y1.
    x = torch.tensor([[0.0, 0.0], [10.0, 20.0]])
    y = torch.tensor([[1.0], [0.0]])
    mx, my = mixup(x, y, torch.tensor([0.25, 1.0]), torch.tensor([1, 0]))
    torch.testing.assert_close(mx, torch.tensor([[7.5, 15.0], [10.0, 20.0]]))
    torch.testing.assert_close(my, torch.tensor([[0.25], [0.0]]))


def test_mixup_of_uint8_images_blends_pixels() -> None:
    # 0.5*200 + 0.5*100 = 150 in every pixel; the result is float (the encoder takes 0..255 floats).
    x = torch.stack([torch.full((4, 4, 3), 200, dtype=torch.uint8), torch.full((4, 4, 3), 100, dtype=torch.uint8)])
    mx, my = mixup(x, torch.tensor([[1.0], [0.0]]), torch.tensor([0.5, 0.5]), torch.tensor([1, 0]))
    assert mx.dtype == torch.float32 and torch.all(mx == 150.0)
    torch.testing.assert_close(my, torch.tensor([[0.5], [0.5]]))


def test_sample_mixup_draws_beta_lambda_and_a_pairing_from_the_generator() -> None:
    x, y = torch.arange(8.0).view(8, 1), torch.tensor([[1.0]] * 4 + [[0.0]] * 4)
    mx, my = sample_mixup(x, y, 1.0, np.random.default_rng(3))
    ref = np.random.default_rng(3)
    lam, perm = ref.beta(1.0, 1.0, size=8), ref.permutation(8)
    np.testing.assert_allclose(mx.numpy()[:, 0], lam * np.arange(8) + (1 - lam) * np.arange(8)[perm], rtol=1e-6)
    assert torch.all((my >= 0) & (my <= 1)) and 0 < float(my.std())
    ux, uy = sample_mixup(x, y, 0.0, np.random.default_rng(3))  # alpha 0: no mixup
    torch.testing.assert_close(ux, x)
    torch.testing.assert_close(uy, y)


def test_mixup_refuses_mismatched_lambda() -> None:
    with pytest.raises(ValueError, match="lam and perm"):
        mixup(torch.zeros(3, 2), torch.zeros(3, 1), torch.ones(2), torch.arange(3))


def test_vice_loss_on_a_constructed_batch() -> None:
    # f = 2, log pi = 0.5 -> z = 1.5. Positive: softplus(-1.5) = log(1 + e^-1.5) = 0.2014133;
    # negative: softplus(1.5) = 1.7014133; a 0.25 mixup label: 0.25*0.2014133 + 0.75*1.7014133 = 1.3264133.
    logits, log_pi = torch.tensor([[2.0], [2.0], [2.0]]), torch.tensor([[0.5], [0.5], [0.5]])
    labels = torch.tensor([[1.0], [0.0], [0.25]])
    expected = (0.2014133 + 1.7014133 + 1.3264133) / 3
    assert float(vice_loss(logits, log_pi, labels)) == pytest.approx(expected, abs=1e-6)


def test_vice_loss_is_softmax_cross_entropy_over_log_pi_and_logit() -> None:
    gen = torch.Generator().manual_seed(0)
    logits, log_pi, labels = torch.randn(16, 1, generator=gen), torch.randn(16, 1, generator=gen), torch.rand(16, 1, generator=gen)
    reference = F.cross_entropy(torch.cat([log_pi, logits], 1), torch.cat([1 - labels, labels], 1))
    torch.testing.assert_close(vice_loss(logits, log_pi, labels), reference)
    # With log pi = 0 the discriminator is the plain classifier.
    torch.testing.assert_close(vice_loss(logits, torch.zeros_like(logits), labels), binary_loss(logits, labels))


def test_label_noise_flips_about_the_asked_fraction() -> None:
    y = torch.ones(10_000, 1)
    flipped = flip_labels(y, 0.2, np.random.default_rng(0))
    assert float((flipped == 0).float().mean()) == pytest.approx(0.2, abs=0.015)
    assert torch.equal(flip_labels(y, 0.0, np.random.default_rng(0)), y)


def test_raq_picks_the_argmax_state_of_the_recent_window() -> None:
    rewards = np.array([9.0, 0.1, 0.5, 3.0, -1.0, 2.9], np.float32)
    # index 0 has the highest reward overall but is outside the recent window
    assert select_query(rewards, np.arange(1, 6)) == 3
    assert select_query(rewards, np.array([4, 5])) == 5
    assert select_query(np.array([1.0, 1.0]), np.array([0, 1])) == 0  # ties: the first
    assert select_query(np.array([np.nan, 0.2]), np.array([0, 1])) == 1
    with pytest.raises(ValueError, match="no recent states"):
        select_query(rewards, np.array([], np.int64))


def test_goal_set_adds_answered_states() -> None:
    goals = GoalSet(np.zeros((2, 4, 4, 3), np.uint8))
    goals.add(np.full((4, 4, 3), 7, np.uint8), True)
    goals.add(np.full((4, 4, 3), 9, np.uint8), False)
    assert len(goals.positives) == 3 and goals.positives[-1, 0, 0, 0] == 7
    assert len(goals.queried_negatives) == 1
    again = GoalSet.from_state(goals.state())
    assert len(again.positives) == 3 and len(again.queried_negatives) == 1
    with pytest.raises(ValueError, match="query image must be"):
        goals.add(np.zeros((5, 4, 3), np.uint8), True)
    with pytest.raises(ValueError, match="uint8"):
        GoalSet(np.zeros((2, 4, 4, 3), np.float32))


def test_discor_weights_match_hand_values() -> None:
    # next errors [0, 1], gamma 0.99, tau 10: x = [0, -0.099]; softmax = [1, e^-0.099] / (1 + e^-0.099)
    # = [0.5247301, 0.4752699]; times the batch size 2: [1.0494602, 0.9505398].
    w = discor_weights(torch.tensor([[0.0], [1.0]]), 0.99, 10.0)
    e = math.exp(-0.099)
    torch.testing.assert_close(w, torch.tensor([[2 / (1 + e)], [2 * e / (1 + e)]]))
    assert float(w[0]) == pytest.approx(1.0494602, abs=1e-6)
    assert float(w.mean()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="tau must be > 0"):
        discor_weights(torch.zeros(2, 1), 0.99, 0.0)


def test_discor_error_target_and_temperature() -> None:
    # |1.0 - 0.5| + 0.99 * 2.0 = 2.48; tau: 0.995 * 10 + 0.005 * mean(1, 3) = 9.96
    torch.testing.assert_close(error_targets(torch.tensor([[1.0]]), torch.tensor([[0.5]]), torch.tensor([[2.0]]), 0.99),
                               torch.tensor([[2.48]]))
    assert update_tau(10.0, torch.tensor([1.0, 3.0]), 0.005) == pytest.approx(9.96)
