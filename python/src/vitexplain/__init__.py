"""vitexplain: what a Vision Transformer looks at, from Python.

    import vitexplain
    vx = vitexplain.Explainer(model="weights/fashion-vit", device="cpu")
    result = vx.explain("images/fashion/sneaker.png", methods=("rollout", "legrad"))
    result.maps["legrad"].shape          # (images, targets, height, width)

The package binds the C library (libvitexplain.so) with ctypes; see python/README.md.
"""

from ._native import VitexplainError, lib as _lib
from .explainer import DEFAULT_METHODS, METHOD_NAMES, Evaluation, Explainer, Explanation, Predictions

__version__ = _lib.vte_version().decode()

__all__ = [
    "DEFAULT_METHODS",
    "METHOD_NAMES",
    "Evaluation",
    "Explainer",
    "Explanation",
    "Predictions",
    "VitexplainError",
    "__version__",
]
