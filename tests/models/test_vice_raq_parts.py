"""VICE-RAQ's parts: the SAC update (plain and DisCor), the classifier step, the policy file, goal folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from anima.models.checkpoint import CheckpointError, save_torch
from anima.models.vice_raq.classifier import GoalClassifier, classifier_step
from anima.models.vice_raq.config import DisCorConfig, SACConfig, ViceRaqConfig
from anima.models.vice_raq.goals import GoalFolderError, load_goal_folder, write_goal_folder
from anima.models.vice_raq.policy import PolicySpec, load_policy, save_policy
from anima.models.vice_raq.replay import ReplayBuffer
from anima.models.vice_raq.sac import Batch, SACAgent



@pytest.fixture(autouse=True)
def one_torch_thread():
    """One thread: on the shared 2-core machine two threads of tiny matrices are slower (measured 4.7 s vs 8.3 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


SMALL = SACConfig(hidden_sizes=(32, 32), feature_dim=32, batch_size=8)


def _batch(n: int = 8, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    img = lambda: torch.randint(0, 256, (n, 16, 16, 3), generator=g, dtype=torch.uint8)  # noqa: E731
    return Batch(img(), torch.rand(n, 4, generator=g) * 2 - 1, img(), torch.zeros(n, 1))


@pytest.mark.parametrize("discor", [False, True])
def test_sac_update_moves_the_critic_toward_a_constant_reward(discor: bool) -> None:
    # With reward 1 everywhere and gamma 0.5 the soft Q tends to (1 - alpha*logp)/(1 - 0.5) ~ 2;
    # the critic loss must fall from its start as it fits (measured: 8.1 -> 0.39 after 100 steps).
    agent = SACAgent(16, 4, SACConfig(hidden_sizes=(32, 32), feature_dim=32, batch_size=8, gamma=0.5),
                     DisCorConfig(enabled=discor, hidden_sizes=(32, 32)), seed=0)
    batch = _batch()
    first = agent.update(batch, lambda x: torch.ones(len(x), 1))
    for _ in range(120):
        last = agent.update(batch, lambda x: torch.ones(len(x), 1))
    assert last["critic_loss"] < first["critic_loss"] / 5
    assert ("discor_tau" in last) == discor
    if discor:
        assert 0 < last["discor_tau"] < 10.0  # the moving average leaves its initial 10 toward the errors


def test_agent_state_round_trips(tmp_path: Path) -> None:
    agent = SACAgent(16, 4, SMALL, seed=1)
    agent.update(_batch(), lambda x: torch.zeros(len(x), 1))
    save_torch(agent.state(), tmp_path / "a.pt")
    other = SACAgent(16, 4, SMALL, seed=2)
    other.load_state(torch.load(tmp_path / "a.pt", weights_only=True))
    images = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    np.testing.assert_array_equal(agent.act(images, deterministic=True), other.act(images, deterministic=True))


def test_classifier_step_separates_positives_from_negatives() -> None:
    # Bright images are goals, dark ones are not: 60 VICE steps with mixup must rank them apart.
    torch.manual_seed(0)
    clf = GoalClassifier(16, (32, 32), feature_dim=32)
    opt = torch.optim.Adam(clf.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    pos = torch.full((16, 16, 16, 3), 220, dtype=torch.uint8)
    neg = torch.full((16, 16, 16, 3), 30, dtype=torch.uint8)
    for _ in range(60):
        classifier_step(clf, opt, pos, neg, rng, 1.0, log_pi=lambda x: torch.zeros(len(x), 1))
    assert float(clf.reward(pos[:1])) > 0 > float(clf.reward(neg[:1]))


def test_policy_file_round_trip_and_refusals(tmp_path: Path) -> None:
    agent = SACAgent(16, 4, SMALL, seed=0)
    spec = PolicySpec("push", 16, 4, (-1.0,) * 4, (1.0,) * 4)
    net = {"hidden_sizes": SMALL.hidden_sizes, "feature_dim": 32, "conv_filters": 8, "conv_kernel": 5}
    save_policy(tmp_path / "p.pt", spec, net, agent.encoder, agent.actor, {"epoch": 3})
    policy = load_policy(tmp_path / "p.pt")
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    action = policy.act(image)
    assert action.shape == (4,) and action.dtype == np.float32 and np.all(np.abs(action) <= 1)
    np.testing.assert_allclose(action, agent.act(image[None], deterministic=True)[0], atol=1e-6)
    assert policy.spec.task == "push" and policy.provenance["epoch"] == 3
    with pytest.raises(ValueError, match=r"takes a \(16, 16, 3\) uint8 RGB image, got \(16, 16, 4\)"):
        policy.act(np.zeros((16, 16, 4), np.uint8))
    with pytest.raises(ValueError, match="float32"):
        policy.act(np.zeros((16, 16, 3), np.float32))
    save_torch({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="other.pt: not a VICE-RAQ policy"):
        load_policy(tmp_path / "other.pt")
    data = torch.load(tmp_path / "p.pt", weights_only=True)
    data["actor"]["net.0.weight"][0, 0] = float("nan")
    save_torch(data, tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match="nan.pt: refused: actor.net.0.weight has 1 non-finite"):
        load_policy(tmp_path / "nan.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_policy(tmp_path / "junk.pt")


def test_goal_folder_round_trip(tmp_path: Path) -> None:
    images = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    write_goal_folder(images, tmp_path / "goals", "push", seed=0)
    loaded, names = load_goal_folder(tmp_path / "goals", 16)
    np.testing.assert_array_equal(loaded, images)  # PNG is lossless, RGB order kept
    assert names == ["goal_000.png", "goal_001.png", "goal_002.png"]
    assert len(load_goal_folder(tmp_path / "goals", 16, limit=2)[0]) == 2


def test_goal_folder_reports_bad_images_by_name(tmp_path: Path) -> None:
    import cv2

    images = np.zeros((2, 16, 16, 3), np.uint8)
    write_goal_folder(images, tmp_path, "push", seed=0)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG but not really")
    cv2.imwrite(str(tmp_path / "big.png"), np.zeros((20, 24, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "gray.png"), np.zeros((16, 16), np.uint8))
    with pytest.raises(GoalFolderError) as err:
        load_goal_folder(tmp_path, 16)
    text = str(err.value)
    assert "3 of 5 goal images" in text
    assert "broken.png: unreadable" in text and "big.png: 24x20 pixels, expected 16x16" in text and "gray.png" in text
    assert "goal_000.png" not in text
    with pytest.raises(GoalFolderError, match="no goal images"):
        load_goal_folder(_empty(tmp_path), 16)
    with pytest.raises(GoalFolderError, match="no such goal folder"):
        load_goal_folder(tmp_path / "missing", 16)


def _empty(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


def test_replay_buffer_ring_recent_and_save(tmp_path: Path) -> None:
    buf = ReplayBuffer(4, (2, 2, 3), 1)
    for k in range(6):
        buf.add(np.full((2, 2, 3), k, np.uint8), np.array([k], np.float32), np.full((2, 2, 3), k + 1, np.uint8), k == 5, float(k))
    assert len(buf) == 4 and buf.total == 6
    np.testing.assert_array_equal(buf.recent(3), [3, 0, 1])  # transitions 3, 4, 5 live at slots 3, 0, 1
    assert buf.next_obs[buf.recent(1)[0], 0, 0, 0] == 6 and buf.success[1]
    buf.refresh_rewards(lambda x: x[:, 0, 0, 0].astype(np.float32) * 10)
    assert buf.rewards[1] == 60
    buf.save(tmp_path / "r.npz")
    again = ReplayBuffer.load(tmp_path / "r.npz", 4, (2, 2, 3), 1)
    np.testing.assert_array_equal(again.recent(3), buf.recent(3))
    with pytest.raises(CheckpointError, match="r.npz: replay holds"):
        ReplayBuffer.load(tmp_path / "r.npz", 4, (3, 3, 3), 1)


def test_config_names_bad_values() -> None:
    with pytest.raises(ValueError, match="task must be one of"):
        ViceRaqConfig(task="fold")
    with pytest.raises(ValueError, match="sac: batch_size: expected int"):
        ViceRaqConfig().replace(**{"sac.batch_size": "big"})
    with pytest.raises(ValueError, match="label_noise must be in"):
        ViceRaqConfig().replace(**{"classifier.label_noise": 0.7})
    with pytest.raises(ValueError, match="unknown setting group"):
        ViceRaqConfig().replace(**{"ppo.lr": 1})
    c = ViceRaqConfig().replace(**{"discor.enabled": True, "raq.query_frequency": 10})
    assert c.discor.enabled and c.raq.query_frequency == 10 and c.replay_capacity == 300_000
    assert ViceRaqConfig.from_dict(c.to_dict()) == c
