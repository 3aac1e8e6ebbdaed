"""Losses and task weighting."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from m2h_ros.data.nyud import IGNORE
from m2h_ros.train.losses import TASKS, TaskWeighting, depth_loss, edge_loss, normals_loss, semseg_loss


def test_semseg_loss_ignores_and_survives_an_all_ignore_batch():
    logits = torch.randn(1, 3, 2, 2, requires_grad=True)
    target = torch.tensor([[[0, 1], [IGNORE, 2]]])
    expected = F.cross_entropy(logits.flatten(2)[0].T[[0, 1, 3]], torch.tensor([0, 1, 2]))
    assert float(semseg_loss(logits, target).detach()) == pytest.approx(float(expected.detach()))
    empty = semseg_loss(logits, torch.full((1, 2, 2), IGNORE))
    empty.backward()
    assert empty == 0 and torch.isfinite(logits.grad).all()


def test_depth_loss_is_l1_over_valid_pixels():
    pred = torch.tensor([1.0, 5.0, 2.0]).view(1, 1, 1, 3)
    target = torch.tensor([2.0, 0.0, 2.5]).view(1, 1, 1, 3)  # 0: invalid
    assert depth_loss(pred, target) == pytest.approx((1.0 + 0.5) / 2)
    assert depth_loss(pred, torch.zeros_like(target)) == 0


def test_canonical_depth_is_scored_in_metres_through_each_frames_focal_length():
    from m2h_ros.data.nyud import Sample
    from m2h_ros.model.m2h import Outputs
    from m2h_ros.train.losses import task_losses

    canonical = torch.full((2, 1, 1, 2), 2.0)  # depth for a 250-pixel camera
    batch = Sample(image=torch.zeros(2, 3, 1, 2), semseg=torch.zeros(2, 1, 2, dtype=torch.long),
                   depth=torch.tensor([2.0, 2.0, 4.0, 4.0]).view(2, 1, 1, 2), normals=torch.ones(2, 3, 1, 2),
                   edges=torch.zeros(2, 1, 1, 2), focal_px=torch.tensor([250.0, 500.0]))  # fmt: skip
    out = Outputs(canonical, torch.zeros(2, 3, 1, 2), torch.ones(2, 3, 1, 2), torch.zeros(2, 1, 1, 2))
    assert task_losses(out, batch, depth_focal_px=250.0)["depth"] == 0  # 2 m and 2 × 500 / 250 = 4 m
    assert task_losses(out, batch)["depth"] == pytest.approx(1.0)  # read as metres: 0 and 2 m off
    with pytest.raises(ValueError, match="focal length"):
        task_losses(out, dataclasses.replace(batch, focal_px=torch.zeros(2)), depth_focal_px=250.0)


def test_normals_loss_normalises_the_prediction_and_counts_pixels():
    target = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]).T.reshape(1, 3, 1, 2)  # second pixel invalid
    pred = torch.tensor([[0.0, 0.0, 7.0], [1.0, 0.0, 0.0]]).T.reshape(1, 3, 1, 2)
    assert normals_loss(pred, target) == 0
    pred[0, :, 0, 0] = torch.tensor([1.0, 0.0, 0.0])
    assert normals_loss(pred, target) == pytest.approx(2.0)  # |1 - 0| + |0 - 1| summed over channels


def test_edge_loss_weights_positives_by_pos_weight():
    logits = torch.zeros(1, 1, 1, 3)
    target = torch.tensor([1.0, 0.0, IGNORE]).view(1, 1, 1, 3)
    assert edge_loss(logits, target, 0.95) == pytest.approx(math.log(2) * (0.95 + 0.05) / 2)
    assert edge_loss(logits, torch.full_like(target, IGNORE)) == 0


def _losses(**values):
    return {t: torch.tensor(values.get(t, 1.0)) for t in TASKS}


def test_fixed_and_log_weighting():
    fixed = TaskWeighting("fixed", {"edges": 50.0})
    assert fixed(_losses(edges=0.1, depth=2.0)) == pytest.approx(1 + 2 + 1 + 5)
    log = TaskWeighting("log", {})
    assert log(_losses(semseg=math.e, depth=1.0, normals=1.0, edges=1.0)) == pytest.approx(1.0, abs=1e-6)


def test_dwa_weights_tasks_whose_loss_falls_slowest():
    dwa = TaskWeighting("dwa", {}, temperature=2.0, window=2)
    for _ in range(2):
        dwa(_losses())
    assert dwa.lambdas() == dict.fromkeys(TASKS, 1.0)  # one window: not enough history
    for _ in range(2):
        dwa(_losses(semseg=0.5))  # semseg halved, the rest unchanged
    lam = dwa.lambdas()
    z = math.exp(0.25) + 3 * math.exp(0.5)
    assert lam["semseg"] == pytest.approx(4 * math.exp(0.25) / z) and lam["depth"] == pytest.approx(
        4 * math.exp(0.5) / z
    )
    assert sum(lam.values()) == pytest.approx(4.0)
    restored = TaskWeighting("dwa", {}, window=2)
    restored.load_state_dict(dwa.state_dict())
    assert restored.lambdas() == lam
