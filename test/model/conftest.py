import pytest
import torch


@pytest.fixture
def meta_model():
    """Build a variant on the meta device: shapes and MAC counts without computing anything."""

    def build(variant, **overrides):
        from m2h_ros.model.build import build_model

        with torch.device("meta"):
            return build_model(variant, init_backbone=False, **overrides).eval()

    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # the fused kernel has no meta implementation
    yield build
    torch.backends.mha.set_fastpath_enabled(fastpath)
