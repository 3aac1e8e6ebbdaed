"""From a seed to rendered frames: build the home, walk the camera through it, keep informative views."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from m2h_ros.config import check
from m2h_ros.synth.camera import intrinsics, trajectory, view_score
from m2h_ros.synth.randomize import Randomization, draw_look, draw_mount, intrinsics_fov, jitter_materials
from m2h_ros.synth.render import Frame, Renderer
from m2h_ros.synth.scene import Scene


@dataclass
class SynthConfig:
    width: int = 320
    height: int = 240
    frames_per_scene: int = 30
    step_m: float = 0.12  # camera travel between frames
    min_objects: int = 2  # views showing fewer non-structural objects are skipped ...
    min_median_depth_m: float = 1.0  # ... and so are views facing a wall
    noise: float = 0.0  # sensor noise σ baked into RGB (0: add it as a training augmentation instead)
    lights: int = 2
    randomization: Randomization | None = None  # domain randomisation (None: one fixed camera and look)

    def __post_init__(self) -> None:
        check(16 <= self.width <= 4096 and 16 <= self.height <= 4096, "width", "and height must be within 16..4096")
        check(self.frames_per_scene >= 1, "frames_per_scene", "must be >= 1")
        check(self.step_m > 0, "step_m", "must be > 0")
        check(self.noise >= 0, "noise", "must be >= 0")


def render_scene(seed: int, config: SynthConfig, progress: bool = False) -> tuple[Scene, list[Frame]]:
    """The home of ``seed`` and up to ``frames_per_scene`` frames along its camera walk."""
    from tqdm import tqdm

    scene = Scene(seed).generate()
    r = config.randomization
    # Its own stream: a randomised home has the same layout and camera path as a plain one.
    rng = np.random.default_rng([seed, 0x5EED])
    mount = draw_mount(rng, r) if r else None
    arrays = jitter_materials(scene.arrays(), rng, r.material_jitter) if r else None
    renderer = Renderer(scene, n_lights=config.lights, noise=config.noise, arrays=arrays)
    K = intrinsics(config.width, config.height)
    walk = trajectory(scene, 2 * config.frames_per_scene, config.step_m, seed,
                      **({"height_m": mount.height_m, "pitch_deg": mount.pitch_deg} if mount else {}))  # fmt: skip
    frames = []
    bar = tqdm(total=config.frames_per_scene, unit="frame", desc=f"scene {seed}", disable=not progress)
    # Ask for twice the frames: a few views are skipped, and short walks end early.
    for i, (R, t, room) in enumerate(walk):
        n_objects, median_depth = view_score(renderer.tracer, renderer.A, R, t)
        if n_objects < config.min_objects or median_depth <= config.min_median_depth_m:
            continue
        look = draw_look(rng, r) if r else None
        if look:
            K = intrinsics_fov(config.width, config.height, look.hfov_deg)
        frames.append(renderer.render(K, config.width, config.height, R, t, room, frame_seed=seed * 100_003 + i,
                                      look=look))  # fmt: skip
        bar.update()
        if len(frames) == config.frames_per_scene:
            break
    bar.close()
    return scene, frames


def _dataset_scene(job: tuple) -> tuple[int, list[str], float]:
    """Worker: render and write one scene; returns (seed, frame ids, seconds)."""
    import time

    from m2h_ros.synth.writers import write_dataset_scene

    root, seed, config = job
    start = time.perf_counter()
    scene, frames = render_scene(seed, config)
    ids = write_dataset_scene(root, seed, frames, scene.ground_truth(seed))
    return seed, ids, time.perf_counter() - start


def split_seeds(seeds: list[int], val_fraction: float, test_fraction: float = 0.0) -> dict[str, list[int]]:
    """Split by scene: the last scenes are the test split, those before them the val split; a
    non-zero fraction gets at least one scene while a training scene remains."""
    check(0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1, "val_fraction",
          "and test_fraction must be within [0, 1) and leave scenes for training")  # fmt: skip
    counts = []
    for fraction in (test_fraction, val_fraction):
        left = len(seeds) - sum(counts)
        counts.append(max(1, round(len(seeds) * fraction)) if fraction > 0 and left > 1 else 0)
    n_test, n_val = counts
    n_train = len(seeds) - n_test - n_val
    return {"train": seeds[:n_train], "val": seeds[n_train : n_train + n_val], "test": seeds[n_train + n_val :]}


def generate_dataset(root, seeds: list[int], config: SynthConfig, workers: int = 2, val_fraction: float = 0.25,
                     test_fraction: float = 0.0, progress: bool = True) -> dict:  # fmt: skip
    """Render ``seeds`` into a dataset at ``root`` with worker processes, split by scene into train,
    val and test (:func:`split_seeds`). Returns a summary."""
    import multiprocessing as mp
    import time
    from pathlib import Path

    from tqdm import tqdm

    from m2h_ros.synth.writers import write_splits

    splits = split_seeds(seeds, val_fraction, test_fraction)
    start = time.perf_counter()
    results = []
    jobs = [(str(root), s, config) for s in seeds]
    bar = tqdm(total=len(seeds), unit="scene", disable=not progress, desc="rendering")
    if workers > 1:
        # spawn: open3d and numba's thread pools do not survive fork
        with mp.get_context("spawn").Pool(workers) as pool:
            for r in pool.imap_unordered(_dataset_scene, jobs):
                results.append(r)
                bar.update()
                bar.set_postfix(frames=sum(len(x[1]) for x in results))
    else:
        for job in jobs:
            results.append(_dataset_scene(job))
            bar.update()
    bar.close()
    ids = {name: [i for s, frame_ids, _ in results if s in set(split) for i in frame_ids]
           for name, split in splits.items()}  # fmt: skip
    write_splits(root, ids)
    seconds = time.perf_counter() - start
    frames = sum(len(v) for v in ids.values())
    size = sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file())
    return {"scenes": len(seeds), "frames": frames, **{f"{k}_frames": len(v) for k, v in ids.items()},
            "seeds": {k: [v[0], v[-1]] if v else [] for k, v in splits.items()}, "seconds": round(seconds, 1), "frames_per_s": round(frames / seconds, 2),
            "megabytes": round(size / 1e6, 1), "kb_per_frame": round(size / 1e3 / max(frames, 1), 1)}  # fmt: skip
