"""Camera geometry: intrinsics and back-projection of predictions into semantic point clouds."""
