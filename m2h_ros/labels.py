"""Semantic label spaces as data: names, colours, Hydra's categories, remaps, and Hydra's file formats.

Three spaces ship with the package:

- ``nyu40``: the 40 NYUDv2 classes with 0 = void (M2H's 41-way output, and the ids the datasets store).
- ``nyu20``: the 21-class space (0 = unknown) through which mono_hydra feeds M2H's output to Hydra.
- ``synthetic``: the 19 classes of the synthetic world plus void; every one is an NYU-40 class.

Remaps are lookup tables from the ids of one space to the ids of another (``-1`` where an id has no
counterpart), so remapping a label image is one indexing operation.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from m2h_ros.errors import ConfigError

UNKNOWN = -1  # the label id published for pixels without a class (Hydra ignores -1)


@dataclass(frozen=True)
class LabelSpace:
    """A closed set of semantic classes with ids ``0..len(names)-1``.

    The category sets follow Hydra's label-space YAML: ``object_labels`` become object nodes,
    ``surface_places_labels`` carry Hydra's 2D places, ``ground_labels`` are what a robot walks on (the
    scene-graph builder's floor: floor height and free space), ``dynamic_labels`` and ``invalid_labels``
    are never integrated. ``structure_labels`` (walls, floors, ...) form the background of the scene
    graph. As in every label space Hydra ships, no object label is also a surface-places label.
    """

    name: str
    names: tuple[str, ...]
    colors: tuple[tuple[int, int, int], ...]
    object_labels: frozenset[int] = field(default_factory=frozenset)
    structure_labels: frozenset[int] = field(default_factory=frozenset)
    surface_places_labels: frozenset[int] = field(default_factory=frozenset)
    ground_labels: frozenset[int] = field(default_factory=frozenset)
    dynamic_labels: frozenset[int] = field(default_factory=frozenset)
    invalid_labels: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if len(self.names) != len(self.colors):
            raise ValueError(f"label space {self.name!r}: {len(self.names)} names but {len(self.colors)} colours")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"label space {self.name!r}: duplicate class names")
        if self.object_labels & self.surface_places_labels:
            raise ValueError(f"label space {self.name!r}: object labels also in surface_places_labels")
        for kind in ("object", "structure", "surface_places", "ground", "dynamic", "invalid"):
            ids = getattr(self, f"{kind}_labels")
            bad = sorted(i for i in ids if not 0 <= i < len(self.names))
            if bad:
                raise ValueError(f"label space {self.name!r}: {kind}_labels {bad} outside 0..{len(self.names) - 1}")

    def __len__(self) -> int:
        return len(self.names)

    def id(self, name: str) -> int:
        """The id of class ``name``; ConfigError names the known classes."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ConfigError(
                f"{name!r} is not a class of label space {self.name!r}; known: {', '.join(self.names)}"
            ) from None

    @property
    def palette(self) -> np.ndarray:
        """(N, 3) uint8 colours, row i for class i."""
        return np.asarray(self.colors, dtype=np.uint8)

    def colorize(self, labels: np.ndarray, unknown_color: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
        """(H, W) integer ids -> (H, W, 3) uint8 RGB; ids outside the space get ``unknown_color``."""
        # Row 0 and row N + 1 hold the unknown colour: a clipped take (several times faster than
        # fancy indexing) sends every id below 0 or above N - 1 there.
        table = np.empty((len(self) + 2, 3), np.uint8)
        table[1:-1], table[0], table[-1] = self.palette, unknown_color, unknown_color
        return table.take(np.add(labels, 1, dtype=np.int32), axis=0, mode="clip")


def _nyu40() -> LabelSpace:
    names = (
        "void", "wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window", "bookshelf",
        "picture", "counter", "blinds", "desk", "shelves", "curtain", "dresser", "pillow", "mirror",
        "floor_mat", "clothes", "ceiling", "books", "refrigerator", "television", "paper", "towel",
        "shower_curtain", "box", "whiteboard", "person", "night_stand", "toilet", "sink", "lamp", "bathtub",
        "bag", "otherstructure", "otherfurniture", "otherprop",
    )  # fmt: skip
    colors = (
        (0, 0, 0), (174, 199, 232), (152, 223, 138), (31, 119, 180), (255, 187, 120), (188, 189, 34),
        (140, 86, 75), (255, 152, 150), (214, 39, 40), (197, 176, 213), (148, 103, 189), (196, 156, 148),
        (23, 190, 207), (178, 76, 76), (247, 182, 210), (66, 188, 102), (219, 219, 141), (140, 57, 197),
        (202, 185, 52), (51, 176, 203), (200, 54, 131), (92, 193, 61), (78, 71, 183), (172, 114, 82),
        (255, 127, 14), (91, 163, 138), (153, 98, 156), (140, 153, 101), (158, 218, 229), (100, 125, 154),
        (178, 127, 135), (120, 185, 128), (146, 111, 194), (44, 160, 44), (112, 128, 144), (96, 207, 209),
        (227, 119, 194), (213, 92, 176), (94, 106, 211), (82, 84, 163), (100, 85, 144),
    )  # fmt: skip
    structure = {"wall", "floor", "ceiling", "window", "blinds", "curtain", "otherstructure", "door"}
    ids = {n: i for i, n in enumerate(names)}
    return LabelSpace(
        name="nyu40",
        names=names,
        colors=colors,
        object_labels=frozenset(i for n, i in ids.items() if n not in structure | {"void", "person"}),
        structure_labels=frozenset(ids[n] for n in structure),
        surface_places_labels=frozenset({ids["floor"]}),
        ground_labels=frozenset({ids["floor"], ids["floor_mat"]}),
        dynamic_labels=frozenset({ids["person"]}),
        invalid_labels=frozenset({ids["void"]}),
    )


def _nyu20() -> LabelSpace:
    # mono_hydra's 21 classes and colours (nyud20_config); the categories of Hydra's ade20k_indoor label
    # space, which has the same 21 classes (mono_hydra's made wall, ceiling and door surface places and
    # door both an object and a surface, which none of Hydra's label spaces does).
    names = (
        "unknown", "wall", "floor", "ceiling", "door", "stairs", "structure", "shelf", "plant", "bed",
        "storage", "table", "chair", "wall_decoration", "couch", "light", "appliance", "thing",
        "deformable", "dynamic-nonhuman", "human",
    )  # fmt: skip
    colors = (
        (53, 173, 156), (0, 102, 51), (191, 191, 181), (59, 163, 236), (246, 112, 136), (244, 93, 235),
        (54, 171, 171), (222, 135, 49), (197, 147, 49), (52, 175, 137), (156, 162, 49), (204, 0, 102),
        (177, 155, 49), (246, 107, 171), (204, 0, 0), (128, 150, 244), (173, 136, 244), (50, 177, 107),
        (247, 117, 83), (56, 167, 205), (55, 170, 186),
    )  # fmt: skip
    return LabelSpace(
        name="nyu20",
        names=names,
        colors=colors,
        object_labels=frozenset({4, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}),
        structure_labels=frozenset({1, 2, 3, 5, 6}),
        surface_places_labels=frozenset({2, 5}),
        ground_labels=frozenset({2, 5}),
        dynamic_labels=frozenset({19, 20}),
        invalid_labels=frozenset({0}),
    )


# The synthetic world's classes and the NYU-40 class each one is.
SYNTHETIC_TO_NYU40 = {
    "void": "void", "wall": "wall", "floor": "floor", "ceiling": "ceiling", "door": "door",
    "window": "window", "table": "table", "chair": "chair", "bed": "bed", "shelf": "bookshelf",
    "sofa": "sofa", "lamp": "lamp", "cabinet": "cabinet", "tv": "television", "plant": "otherprop",
    "picture": "picture", "rug": "floor_mat", "box": "box", "pillow": "pillow", "books": "books",
}  # fmt: skip


def _synthetic() -> LabelSpace:
    nyu = _nyu40()
    names = tuple(SYNTHETIC_TO_NYU40)
    colors = tuple(nyu.colors[nyu.id(SYNTHETIC_TO_NYU40[n])] for n in names)
    structure = {"wall", "floor", "ceiling", "door", "window"}
    return LabelSpace(
        name="synthetic",
        names=names,
        colors=colors,
        object_labels=frozenset(i for i, n in enumerate(names) if n not in structure | {"void"}),
        structure_labels=frozenset(names.index(n) for n in structure),
        surface_places_labels=frozenset({names.index("floor")}),
        ground_labels=frozenset({names.index("floor"), names.index("rug")}),
        invalid_labels=frozenset({0}),
    )


NYU40 = _nyu40()
NYU20 = _nyu20()
SYNTHETIC = _synthetic()
LABEL_SPACES = {s.name: s for s in (NYU40, NYU20, SYNTHETIC)}

# NYU-40 id -> 21-class id, as mono_hydra's remap file gives it.
_NYU40_TO_NYU20 = {
    0: 0, 1: 1, 2: 2, 20: 2, 22: 3, 8: 4, 9: 5, 13: 5, 16: 5, 12: 6, 15: 7, 10: 7, 40: 8, 4: 9, 18: 9,
    3: 10, 17: 10, 29: 10, 37: 10, 24: 10, 32: 10, 7: 11, 14: 11, 5: 12, 11: 13, 19: 13, 30: 13, 6: 14,
    35: 15, 28: 16, 33: 16, 34: 16, 36: 16, 23: 17, 25: 17, 26: 17, 27: 18, 21: 18, 38: 19, 39: 19, 31: 20,
}  # fmt: skip


def get_label_space(name: str) -> LabelSpace:
    try:
        return LABEL_SPACES[name]
    except KeyError:
        raise ConfigError(f"unknown label space {name!r}; known: {', '.join(LABEL_SPACES)}") from None


def _lut(src: LabelSpace, dst: LabelSpace, pairs: dict[int, int]) -> np.ndarray:
    lut = np.full(len(src), UNKNOWN, dtype=np.int32)
    for a, b in pairs.items():
        lut[a] = b
    return lut


def remap_table(src: LabelSpace | str, dst: LabelSpace | str) -> np.ndarray:
    """(len(src),) int32 table: ``table[i]`` is the id in ``dst`` of class ``i`` of ``src``, or -1."""
    src = get_label_space(src) if isinstance(src, str) else src
    dst = get_label_space(dst) if isinstance(dst, str) else dst
    if src.name == dst.name:
        return np.arange(len(src), dtype=np.int32)
    if (src.name, dst.name) == ("nyu40", "nyu20"):
        return _lut(src, dst, _NYU40_TO_NYU20)
    if (src.name, dst.name) == ("synthetic", "nyu40"):
        return _lut(src, dst, {i: NYU40.id(SYNTHETIC_TO_NYU40[n]) for i, n in enumerate(src.names)})
    if (src.name, dst.name) == ("nyu40", "synthetic"):
        return _lut(src, dst, {NYU40.id(SYNTHETIC_TO_NYU40[n]): i for i, n in enumerate(dst.names)})
    if (src.name, dst.name) == ("synthetic", "nyu20"):
        return remap_table(NYU40, NYU20)[remap_table(SYNTHETIC, NYU40)]
    raise ConfigError(f"no remap from label space {src.name!r} to {dst.name!r}")


def remap(labels: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Apply a remap table to an integer label array; ids outside the table (and -1) become -1."""
    labels = np.asarray(labels)
    ok = (labels >= 0) & (labels < len(table))
    return np.where(ok, table[np.where(ok, labels, 0)], UNKNOWN).astype(np.int32)


def hydra_label_space_yaml(space: LabelSpace, colormap: str | Path | None = None) -> str:
    """Hydra's label-space YAML (``config/label_spaces/*_label_space.yaml``) for ``space``, with every
    field Hydra's LabelSpaceConfig reads but the remap file; ``semantic_colormap_file`` is ``colormap``
    (default: the CSV's file name beside the YAML)."""
    doc = {
        "total_semantic_labels": len(space),
        "semantic_colormap_file": str(colormap or f"{space.name}_colormap.csv"),
        "dynamic_labels": sorted(space.dynamic_labels),
        "invalid_labels": sorted(space.invalid_labels),
        "object_labels": sorted(space.object_labels),
        "surface_places_labels": sorted(space.surface_places_labels),
        "ground_labels": sorted(space.ground_labels),
        "label_names": [{"label": i, "name": n} for i, n in enumerate(space.names)],
    }
    out = io.StringIO()
    out.write(f"# Hydra label space {space.name!r}, generated by m2h_ros (m2h labels export).\n")
    yaml.safe_dump(doc, out, sort_keys=False, default_flow_style=None, width=100)
    return out.getvalue()


def hydra_colormap_csv(space: LabelSpace) -> str:
    """Hydra's colour CSV (``name,red,green,blue,alpha,id``) for ``space``. Invalid labels have no row:
    Hydra reads a colour it does not know as no label, as it treats an invalid one, and void's black
    would duplicate Hydra's own colour for unknown pixels."""
    rows = ["name,red,green,blue,alpha,id"]
    rows += [f"{n},{r},{g},{b},255,{i}" for i, (n, (r, g, b)) in enumerate(zip(space.names, space.colors))
             if i not in space.invalid_labels]  # fmt: skip
    return "\n".join(rows) + "\n"


def write_hydra_files(space: LabelSpace, out_dir: str | Path, relative: bool = False) -> tuple[Path, Path]:
    """Write ``<name>_label_space.yaml`` and ``<name>_colormap.csv`` into ``out_dir``, the YAML naming
    the CSV by its absolute path (Hydra reads it from its own working directory), or by its file name
    with ``relative`` (the package's config/hydra, whose install writes the installed path); returns both."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    yaml_path = out_dir / f"{space.name}_label_space.yaml"
    csv_path = out_dir / f"{space.name}_colormap.csv"
    yaml_path.write_text(hydra_label_space_yaml(space, None if relative else csv_path.resolve()))
    csv_path.write_text(hydra_colormap_csv(space))
    return yaml_path, csv_path
