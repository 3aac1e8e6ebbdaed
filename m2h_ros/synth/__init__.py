"""A procedural indoor world with exact ground truth: homes of 2–4 rooms, furniture, lights, camera
walks through every room, rendered with open3d's CPU ray casting.

World frame: metres, z up. Camera frame: the optical frame of REP 103 (x right, y down, z forward).
Every scene and frame is reproducible from its seed.
"""
