"""Label spaces, remaps and Hydra's label files."""

import csv
import io
from pathlib import Path

import numpy as np
import pytest
import yaml

from m2h_ros import labels
from m2h_ros.errors import ConfigError
from m2h_ros.labels import NYU20, NYU40, SYNTHETIC, LabelSpace


@pytest.mark.parametrize("space", [NYU40, NYU20, SYNTHETIC], ids=lambda s: s.name)
def test_hydra_yaml_has_every_field_hydra_reads(space):
    doc = yaml.safe_load(labels.hydra_label_space_yaml(space))
    # the fields of Hydra's LabelSpaceConfig (all but the optional remap file), plus the names
    assert set(doc) == {
        "total_semantic_labels", "semantic_colormap_file", "dynamic_labels", "invalid_labels", "object_labels",
        "surface_places_labels", "ground_labels", "label_names",
    }  # fmt: skip
    n = doc["total_semantic_labels"]
    assert n == len(space) and doc["semantic_colormap_file"] == f"{space.name}_colormap.csv"
    for key in ("dynamic_labels", "invalid_labels", "object_labels", "surface_places_labels", "ground_labels"):
        assert all(isinstance(i, int) and 0 <= i < n for i in doc[key]), key
    assert [(e["label"], e["name"]) for e in doc["label_names"]] == list(enumerate(space.names))
    # As in every label space Hydra ships: objects are never ignored, nor surface places.
    assert not set(doc["object_labels"]) & (set(doc["invalid_labels"]) | set(doc["dynamic_labels"]))
    assert not set(doc["object_labels"]) & set(doc["surface_places_labels"])


@pytest.mark.parametrize("space", [NYU40, NYU20, SYNTHETIC], ids=lambda s: s.name)
def test_hydra_colormap_csv_round_trips(space):
    rows = list(csv.DictReader(io.StringIO(labels.hydra_colormap_csv(space))))
    assert list(rows[0]) == ["name", "red", "green", "blue", "alpha", "id"]
    valid = [i for i in range(len(space)) if i not in space.invalid_labels]
    assert [int(r["id"]) for r in rows] == valid and [r["name"] for r in rows] == [space.names[i] for i in valid]
    colors = np.array([[int(r["red"]), int(r["green"]), int(r["blue"])] for r in rows])
    np.testing.assert_array_equal(colors, space.palette[valid])
    # Hydra decodes colour label images through this table: colours distinct, and none its unknown black.
    assert len({tuple(c) for c in colors}) == len(valid) and (0, 0, 0) not in {tuple(c) for c in colors}


def test_nyu40_to_nyu20_matches_mono_hydra():
    table = labels.remap_table("nyu40", "nyu20")
    assert table.shape == (41,) and (table >= 0).all(), "every NYU-40 id has a 21-class counterpart"
    pairs = {
        "floor": "floor", "floor_mat": "floor", "ceiling": "ceiling", "door": "door", "chair": "chair",
        "sofa": "couch", "lamp": "light", "person": "human", "desk": "table", "books": "thing", "void": "unknown",
    }  # fmt: skip
    for nyu, twenty in pairs.items():
        assert NYU20.names[table[NYU40.id(nyu)]] == twenty, nyu


def test_synthetic_classes_are_nyu40_classes():
    to_nyu = labels.remap_table(SYNTHETIC, NYU40)
    back = labels.remap_table(NYU40, SYNTHETIC)
    assert (to_nyu >= 0).all()
    np.testing.assert_array_equal(back[to_nyu], np.arange(len(SYNTHETIC)))
    assert NYU40.names[to_nyu[SYNTHETIC.id("tv")]] == "television"
    assert (back == -1).sum() == len(NYU40) - len(SYNTHETIC)
    composed = labels.remap_table(SYNTHETIC, NYU20)
    assert NYU20.names[composed[SYNTHETIC.id("sofa")]] == "couch"


def test_remap_marks_out_of_range_ids_unknown():
    table = labels.remap_table("nyu40", "nyu20")
    image = np.array([[0, 5, 40], [41, -1, 6]])
    out = labels.remap(image, table)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[0, NYU20.id("chair"), NYU20.id("plant")], [-1, -1, NYU20.id("couch")]])


def test_colorize_uses_palette_and_unknown_colour():
    img = SYNTHETIC.colorize(np.array([[1, -1], [99, 0]]), unknown_color=(1, 2, 3))
    assert img.shape == (2, 2, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[0, 0], SYNTHETIC.colors[1])
    np.testing.assert_array_equal(img[0, 1], (1, 2, 3))
    np.testing.assert_array_equal(img[1, 0], (1, 2, 3))


def test_invalid_spaces_and_names_fail_clearly():
    with pytest.raises(ValueError, match="object_labels \\[5\\] outside"):
        LabelSpace("x", ("a", "b"), ((0, 0, 0), (1, 1, 1)), object_labels=frozenset({5}))
    with pytest.raises(ValueError, match="2 names but 1 colours"):
        LabelSpace("x", ("a", "b"), ((0, 0, 0),))
    with pytest.raises(ConfigError, match="not a class of label space 'nyu20'"):
        NYU20.id("spaceship")
    with pytest.raises(ConfigError, match="unknown label space 'coco'"):
        labels.get_label_space("coco")
    with pytest.raises(ConfigError, match="no remap"):
        labels.remap_table("nyu20", "synthetic")


def test_shipped_hydra_files_are_in_sync(tmp_path):
    """config/hydra/ holds what `m2h labels export` writes; regenerate it when a label space changes."""
    shipped = Path(__file__).resolve().parents[1] / "config" / "hydra"
    for space in labels.LABEL_SPACES.values():
        yaml_path, csv_path = labels.write_hydra_files(space, tmp_path)
        written = yaml.safe_load(yaml_path.read_text())
        assert written["semantic_colormap_file"] == str(csv_path.resolve())  # an absolute path Hydra can open
        stale = "is stale: run `m2h labels export --out config/hydra --relative`"
        assert (shipped / yaml_path.name).read_text() == labels.hydra_label_space_yaml(space), (
            f"{yaml_path.name} {stale}"
        )
        assert (shipped / csv_path.name).read_text() == csv_path.read_text(), f"{csv_path.name} {stale}"
