"""One image, every method, one matplotlib figure (python/: `pip install ./python`, plus matplotlib).

    python examples/explain.py [IMAGE] [MODEL]

IMAGE defaults to the bundled Fashion-MNIST sneaker, MODEL to the bundled model (weights/fashion-vit); a hub id
such as google/vit-base-patch16-224 works once transformers has downloaded it. The figure is saved to
results/python/explain.png (and shown when there is a display).
"""

import sys
from pathlib import Path

import matplotlib

if not sys.stdout.isatty():
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

import vitexplain

repo = Path(__file__).resolve().parents[1]
image_path = sys.argv[1] if len(sys.argv) > 1 else str(repo / "images" / "fashion" / "sneaker.png")
model = sys.argv[2] if len(sys.argv) > 2 else str(repo / "weights" / "fashion-vit")

vx = vitexplain.Explainer(model=model, device="cpu")
result = vx.explain(image_path, methods="all")
image = np.asarray(Image.open(image_path).convert("RGB"))
target = f"{result.targets.labels[0][0]} ({result.targets.probs[0, 0]:.0%})"

figure, axes = plt.subplots(1, 1 + len(result.maps), figsize=(3 * (1 + len(result.maps)), 3.4))
axes[0].imshow(image)
axes[0].set_title(target)
for axis, (method, maps) in zip(axes[1:], result.maps.items()):
    axis.imshow(vx.overlay(image, result.grid_maps[method][0, 0]))
    axis.set_title(method)
for axis in axes:
    axis.axis("off")
figure.tight_layout()
out = repo / "results" / "python" / "explain.png"
out.parent.mkdir(parents=True, exist_ok=True)
figure.savefig(out, dpi=100)
print(f"{Path(image_path).name}: {target}; figure saved to {out}")
if matplotlib.get_backend().lower() != "agg":
    plt.show()
