"""The bundled weights: the default of the nodes, `m2h predict` and `make demo` (model card beside the file)."""

from pathlib import Path

BUNDLED_WEIGHTS = Path(__file__).resolve().parent / "m2h_lite_synthetic.safetensors"
BUNDLED_INPUT_SIZE = (224, 298)  # (height, width) they run at: 4:3 at their training scale
