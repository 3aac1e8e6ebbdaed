"""From a seed to rendered frames: build the home, walk the camera through it, keep informative views."""

from __future__ import annotations

from dataclasses import dataclass

from m2h_ros.config import check
from m2h_ros.synth.camera import intrinsics, trajectory, view_score
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

    def __post_init__(self) -> None:
        check(16 <= self.width <= 4096 and 16 <= self.height <= 4096, "width", "and height must be within 16..4096")
        check(self.frames_per_scene >= 1, "frames_per_scene", "must be >= 1")
        check(self.step_m > 0, "step_m", "must be > 0")
        check(self.noise >= 0, "noise", "must be >= 0")


def render_scene(seed: int, config: SynthConfig, progress: bool = False) -> tuple[Scene, list[Frame]]:
    """The home of ``seed`` and up to ``frames_per_scene`` frames along its camera walk."""
    from tqdm import tqdm

    scene = Scene(seed).generate()
    renderer = Renderer(scene, n_lights=config.lights, noise=config.noise)
    K = intrinsics(config.width, config.height)
    frames = []
    bar = tqdm(total=config.frames_per_scene, unit="frame", desc=f"scene {seed}", disable=not progress)
    # Ask for twice the frames: a few views are skipped, and short walks end early.
    for i, (R, t, room) in enumerate(trajectory(scene, 2 * config.frames_per_scene, config.step_m, seed)):
        n_objects, median_depth = view_score(renderer.tracer, renderer.A, R, t)
        if n_objects < config.min_objects or median_depth <= config.min_median_depth_m:
            continue
        frames.append(renderer.render(K, config.width, config.height, R, t, room, frame_seed=seed * 100_003 + i))
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


def generate_dataset(root, seeds: list[int], config: SynthConfig, workers: int = 2, val_fraction: float = 0.25,
                     progress: bool = True) -> dict:  # fmt: skip
    """Render ``seeds`` into a dataset at ``root`` with worker processes; the last scenes form the
    validation split (split by scene). Returns a summary."""
    import multiprocessing as mp
    import time
    from pathlib import Path

    from tqdm import tqdm

    from m2h_ros.synth.writers import write_splits

    check(0 <= val_fraction < 1, "val_fraction", "must be within [0, 1)")
    n_val = max(1, round(len(seeds) * val_fraction)) if val_fraction > 0 and len(seeds) > 1 else 0
    val_seeds = set(seeds[len(seeds) - n_val :])
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
    train = [i for s, ids, _ in results if s not in val_seeds for i in ids]
    val = [i for s, ids, _ in results if s in val_seeds for i in ids]
    write_splits(root, train, val)
    seconds = time.perf_counter() - start
    frames = len(train) + len(val)
    size = sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file())
    return {"scenes": len(seeds), "frames": frames, "train_frames": len(train), "val_frames": len(val),
            "seconds": round(seconds, 1), "frames_per_s": round(frames / seconds, 2),
            "megabytes": round(size / 1e6, 1), "kb_per_frame": round(size / 1e3 / max(frames, 1), 1)}  # fmt: skip
