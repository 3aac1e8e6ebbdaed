"""The NYUDv2-layout reader (both label conventions) and the ATRC augmentations."""

import random

import numpy as np
import pytest
import torch
from PIL import Image

from m2h_ros import labels
from m2h_ros.data.nyud import IGNORE, MultiTaskDataset, Sample, collate, num_outputs, scored_classes, target_table
from m2h_ros.data.transforms import (
    AugmentConfig,
    EvalTransform,
    TrainTransform,
    hflip,
    pad,
    photometric,
    random_crop,
    random_scale,
)  # fmt: skip
from m2h_ros.errors import DataError

H, W = 6, 8


@pytest.fixture
def layout(tmp_path):
    """One hand-made frame: known ids, a void pixel, an invalid normal and an invalid depth."""
    for d in ("images", "depth", "segmentation", "normals", "edge", "gt_sets"):
        (tmp_path / d).mkdir()
    rgb = np.arange(H * W * 3, dtype=np.uint8).reshape(H, W, 3)
    seg = np.full((H, W), labels.NYU40.id("floor"), np.uint8)
    seg[0, 0] = 0  # void
    seg[1, :] = labels.NYU40.id("chair")
    seg[2, 0] = labels.NYU40.id("shower_curtain")  # not a synthetic class
    normals = np.full((H, W, 3), (128, 128, 255), np.uint8)
    normals[0, 1] = 0  # invalid
    depth = np.full((H, W), 2.5, np.float32)
    depth[0, 2] = 0
    edge = np.zeros((H, W), np.uint8)
    edge[:, 3] = 255
    Image.fromarray(rgb).save(tmp_path / "images" / "a.png")
    Image.fromarray(seg).save(tmp_path / "segmentation" / "a.png")
    Image.fromarray(normals).save(tmp_path / "normals" / "a.png")
    Image.fromarray(edge).save(tmp_path / "edge" / "a.png")
    np.save(tmp_path / "depth" / "a.npy", depth)
    (tmp_path / "gt_sets" / "train.txt").write_text("a\n")
    return tmp_path


def test_reader_decodes_every_target(layout):
    s = MultiTaskDataset(layout, "train", label_space="nyu40")[0]
    assert s.image.shape == (3, H, W) and s.image[0, 0, 1] == 3.0
    assert s.depth.shape == (1, H, W) and s.depth[0, 0, 2] == 0 and s.depth[0, 3, 3] == pytest.approx(2.5)
    np.testing.assert_allclose(s.normals[:, 3, 3], [128 * 2 / 255 - 1, 128 * 2 / 255 - 1, 1.0], atol=1e-6)
    assert torch.equal(s.normals[:, 0, 1], torch.zeros(3))
    assert torch.equal(s.edges[0, :, 3], torch.ones(H)) and s.edges.sum() == H


def test_m2h_convention_keeps_ids_and_ignores_void(layout):
    ds = MultiTaskDataset(layout, "train", label_space="nyu40", convention="m2h")
    s = ds[0]
    assert ds.num_classes == 41
    assert s.semseg[0, 0] == IGNORE and s.semseg[1, 0] == labels.NYU40.id("chair")
    assert s.semseg[3, 3] == labels.NYU40.id("floor")
    assert list(scored_classes("nyu40", "m2h")) == list(range(1, 41))


def test_invpt_convention_shifts_ids_down(layout):
    ds = MultiTaskDataset(layout, "train", label_space="nyu40", convention="invpt")
    s = ds[0]
    assert ds.num_classes == 40 and num_outputs("nyu40", "invpt") == 40
    assert s.semseg[0, 0] == IGNORE and s.semseg[1, 0] == labels.NYU40.id("chair") - 1
    assert list(scored_classes("nyu40", "invpt")) == list(range(40))


def test_remap_into_a_smaller_label_space(layout):
    s = MultiTaskDataset(layout, "train", label_space="synthetic")[0]
    assert s.semseg[1, 0] == labels.SYNTHETIC.id("chair") and s.semseg[3, 3] == labels.SYNTHETIC.id("floor")
    assert s.semseg[2, 0] == IGNORE  # shower curtain has no synthetic class
    table = target_table("nyu40", "synthetic", "m2h")
    assert table.shape == (256,) and table[0] == IGNORE and table[200] == IGNORE


def test_focal_length_comes_from_cameras_and_a_canonical_network_refuses_a_dataset_without_them(layout):
    assert float(MultiTaskDataset(layout, "train")[0].focal_px) == 0.0  # unknown
    with pytest.raises(DataError, match=r"no cameras/ folder.*depth_focal_px"):
        MultiTaskDataset(layout, "train", need_focal=True)
    (layout / "cameras").mkdir()
    (layout / "cameras" / "a.json").write_text('{"K": [[300.0, 0, 4], [0, 300.0, 3], [0, 0, 1]]}')
    ds = MultiTaskDataset(layout, "train", need_focal=True)
    assert float(ds[0].focal_px) == 300.0
    assert float(random_scale(ds[0], (2.0, 2.0)).focal_px) == 300.0  # the scene comes closer, the camera stays
    assert collate([ds[0], ds[0]]).focal_px.tolist() == [300.0, 300.0]


def test_missing_split_names_the_layout(tmp_path):
    with pytest.raises(DataError, match=r"gt_sets/val.txt.*m2h synth dataset"):
        MultiTaskDataset(tmp_path, "val")


def _sample(layout):
    return MultiTaskDataset(layout, "train", label_space="nyu40")[0]


def test_hflip_mirrors_and_negates_normal_x(layout):
    s = _sample(layout)
    f = hflip(s)
    assert torch.equal(f.image, s.image.flip(-1)) and torch.equal(f.semseg, s.semseg.flip(-1))
    assert torch.equal(f.normals[0], -s.normals[0].flip(-1)) and torch.equal(f.normals[1:], s.normals[1:].flip(-1))
    twice = hflip(f)
    assert torch.equal(twice.normals, s.normals) and torch.equal(twice.depth, s.depth)


def test_random_scale_divides_depth_and_keeps_labels_exact(layout, monkeypatch):
    monkeypatch.setattr(random, "uniform", lambda a, b: 2.0)
    s = random_scale(_sample(layout), (0.5, 2.0))
    assert s.image.shape[-2:] == (2 * H, 2 * W)
    assert s.depth.max() == pytest.approx(2.5 / 2)
    assert set(s.semseg.unique().tolist()) <= set(_sample(layout).semseg.unique().tolist())  # nearest: no new ids
    assert set(s.edges.unique().tolist()) <= {0.0, 1.0}


def test_random_crop_avoids_crops_dominated_by_one_class():
    seg = torch.zeros(20, 40, dtype=torch.long)
    seg[:, 30:] = 1  # 5 of the 31 crop positions hold 25-75% of each class
    sample = Sample(torch.zeros(3, 20, 40), seg, torch.ones(1, 20, 40), torch.zeros(3, 20, 40), torch.zeros(1, 20, 40))
    random.seed(0)
    ok = 0
    for _ in range(50):
        c = random_crop(sample, (20, 10), max_class_ratio=0.75, tries=10)
        counts = torch.bincount(c.semseg.flatten(), minlength=2)
        ok += counts.max() <= 0.75 * counts.sum()
    assert ok >= 35  # 10 tries succeed with p = 1 - (26/31)^10 = 0.83; one try with p = 0.16


def test_pad_fills_ignore_in_every_target(layout):
    s = pad(_sample(layout), (H + 2, W + 3))
    assert s.image.shape[-2:] == (H + 2, W + 3)
    assert (s.semseg[H:] == IGNORE).all() and (s.edges[0, :, W:] == IGNORE).all()
    assert (s.depth[0, H:] == 0).all() and (s.normals[:, :, W:] == 0).all()


def test_photometric_stays_in_range_and_changes_colours():
    random.seed(3)
    image = torch.rand(3, 16, 16) * 255
    outs = [photometric(image) for _ in range(20)]
    assert all(o.min() >= 0 and o.max() <= 255.0 + 1e-3 for o in outs)
    assert any(not torch.allclose(o, image) for o in outs)


def test_train_and_eval_transforms_give_batches_of_one_size(layout):
    random.seed(0)
    ds = MultiTaskDataset(layout, "train", label_space="nyu40",
                          transform=TrainTransform(AugmentConfig(crop_size=(14, 28)), (0.5,) * 3, (0.25,) * 3))  # fmt: skip
    batch = collate([ds[0] for _ in range(4)])
    assert batch.image.shape == (4, 3, 14, 28) and batch.semseg.shape == (4, 14, 28)
    e = EvalTransform((0.5,) * 3, (0.25,) * 3)(_sample(layout))
    assert e.image.shape[-2:] == (14, 14) and (e.semseg[H:] == IGNORE).all()
    assert e.image[0, 0, 1] == pytest.approx((3 / 255 - 0.5) / 0.25)


def test_augment_config_rejects_bad_values():
    with pytest.raises(ValueError, match="scale"):
        AugmentConfig(scale=(2.0, 1.0))
    with pytest.raises(ValueError, match="crop_size"):
        AugmentConfig(crop_size=(4, 4))
