"""m2h_ros: monocular spatial perception for ROS 2 (M2H / MTMamba multi-task network, Hydra-style scene graph)."""

import os
import pkgutil

# open3d bundles an older TBB than numba wants; OpenMP avoids the clash (set before numba loads).
os.environ.setdefault("NUMBA_THREADING_LAYER", "omp")

# The generated message modules (m2h_ros.msg) are installed by the ROS build into a second
# directory of the same package; merge both so the sources and the messages import together.
__path__ = pkgutil.extend_path(__path__, __name__)

__version__ = "0.1.0"
