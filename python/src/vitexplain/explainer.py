"""Explainer: a model on a device, with NumPy in and out."""

from __future__ import annotations

import ctypes
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _native as native
from ._native import LIBRARY_LOCK, VitexplainError, lib

ImageLike = Union[str, "os.PathLike[str]", np.ndarray, Any]  # a file, an HWC uint8 array or a PIL image
MaskLike = Union[None, str, "os.PathLike[str]", np.ndarray, Any]

BASELINES = {"black": 0, "blur": 1, "mean": 2}
FUSIONS = {"mean": 0, "max": 1, "min": 2}
METHOD_NAMES = tuple(lib.vte_method_name(m).decode() for m in range(native.METHOD_COUNT))
DEFAULT_METHODS = ("rollout", "gmar_l1", "gmar_l2", "legrad", "chefer")


@dataclass
class Predictions:
    """Classes per image, best first: ``class_ids``, ``probs`` (softmax over every class) and ``logits`` are
    arrays [images, k]; ``labels`` the class names, a list per image."""

    class_ids: np.ndarray
    probs: np.ndarray
    logits: np.ndarray
    labels: List[List[str]]


@dataclass
class Explanation:
    """``maps[method]``: float32 [images, targets, h, w], each map min-max normalised to [0, 1], at the model's
    input size when explained with ``upsample=True``, else on the patch grid. ``grid_maps`` are always on the
    grid (what ``vitexplain explain --save-raw`` writes). ``targets`` the explained classes [images, targets],
    ``predictions`` the top classes of each image, ``times`` milliseconds per stage, summed over batches."""

    maps: Dict[str, np.ndarray]
    grid_maps: Dict[str, np.ndarray]
    targets: Predictions
    predictions: Predictions
    times: Dict[str, float] = field(default_factory=dict)


@dataclass
class Evaluation:
    """Faithfulness of the maps (docs/evaluation.md). ``scores[row]`` maps "deletion_auc", "insertion_auc",
    "pointing_game" and "share" to arrays [images] (NaN where not defined); rows are the methods, "random"
    (random patch orders) and "uniform" (a flat map). ``curves[row]["deletion"|"insertion"]``: [images, points],
    the target's probability at the fractions ``x`` of patches changed. ``maps[method]``: [images, grid_h,
    grid_w]. ``targets``: the evaluated class of each image."""

    x: np.ndarray
    scores: Dict[str, Dict[str, np.ndarray]]
    curves: Dict[str, Dict[str, np.ndarray]]
    maps: Dict[str, np.ndarray]
    targets: Predictions
    times: Dict[str, float] = field(default_factory=dict)


def _is_transformers_model(model: Any) -> bool:
    return hasattr(model, "save_pretrained") and hasattr(model, "config")


def _as_rgb_array(image: Any, what: str) -> np.ndarray:
    """An HWC uint8 RGB array of a NumPy array (HW, HWC with 1, 3 or 4 channels) or a PIL image."""
    if hasattr(image, "convert") and hasattr(image, "size") and not isinstance(image, np.ndarray):
        image = np.asarray(image.convert("RGB"))
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{what}: expected a file path, a PIL image or a NumPy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"{what}: a NumPy image must be uint8 (HWC, 0-255), got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"{what}: a NumPy image must be HxW or HxWxC with C = 1, 3 or 4, got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{what}: the image is empty (shape {image.shape})")
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif image.shape[2] == 4:
        image = image[:, :, :3]  # alpha dropped without compositing, as Pillow's convert("RGB")
    return np.ascontiguousarray(image)


class _LoadedImage:
    """A vte_image: decoded by the library from a file (freed with vte_image_free), or a view of an array."""

    def __init__(self, image: ImageLike, what: str, max_pixels: int = 0):
        self.image = native.Image()
        self._owned = False
        self._array: Optional[np.ndarray] = None
        if isinstance(image, (str, os.PathLike)):
            err = native.Error()
            options = native.ImageLoadOptions(max_pixels=max_pixels)
            native.check(
                lib.vte_image_load_with_options(os.fsencode(image), ctypes.byref(options), ctypes.byref(self.image), ctypes.byref(err)),
                err,
            )
            self._owned = True
        else:
            self._array = _as_rgb_array(image, what)
            self.image.height, self.image.width = self._array.shape[:2]
            self.image.rgb = self._array.ctypes.data_as(ctypes.POINTER(ctypes.c_ubyte))

    def close(self) -> None:
        if self._owned:
            lib.vte_image_free(ctypes.byref(self.image))
            self._owned = False

    def __enter__(self) -> "_LoadedImage":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _int_pointer(rows: Optional[np.ndarray]) -> Tuple[Optional[np.ndarray], Any]:
    """A contiguous int32 copy of rows and the pointer the library takes (None, None for no rows)."""
    if rows is None:
        return None, None
    values = np.ascontiguousarray(rows, dtype=np.int32)
    return values, values.ctypes.data_as(native.c_int_p)


def _image_array(image: native.Image) -> np.ndarray:
    """A copy of a vte_image's pixels as HWC uint8."""
    size = image.width * image.height * 3
    return np.ctypeslib.as_array(image.rgb, shape=(size,)).reshape(image.height, image.width, 3).copy()


class Explainer:
    """A ViT classifier on an OpenCL device, and its explanations.

    ``model``: a Hugging Face ``ViTForImageClassification`` folder (``config.json``, ``model.safetensors``,
    optionally ``preprocessor_config.json``), a hub id found in the local Hugging Face cache, or a
    ``transformers`` ``ViTForImageClassification`` object (saved to a temporary folder, with ``processor`` when
    given, and loaded from there). ``device``: "cpu", "gpu", an index or part of a device name (``vitexplain
    devices`` lists them); None: $VITEXPLAIN_DEVICE, else the first GPU, else the CPU. ``batch``: images per
    pass on the device. ``cache_dir``: compiled kernels and GEMM measurements (None: the library's default,
    "" none).

    Calls run one at a time (the library's rule); the GIL is released while the device works.
    """

    def __init__(
        self,
        model: Any = "weights/fashion-vit",
        device: Optional[str] = None,
        batch: int = 8,
        cache_dir: Optional[str] = None,
        processor: Any = None,
    ):
        if not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be a positive integer, got {batch!r}")
        self._runtime = self._model = self._session = None
        self.batch = batch
        err = native.Error()
        params = native.RuntimeParams(
            device=device.encode() if device is not None else None,
            cache_dir=cache_dir.encode() if cache_dir is not None else None,
            kernel_dir=None,
        )
        with LIBRARY_LOCK:
            self._runtime = lib.vte_runtime_init(ctypes.byref(params), ctypes.byref(err))
            if not self._runtime:
                native.raise_for(err)
            try:
                if _is_transformers_model(model):
                    with tempfile.TemporaryDirectory(prefix="vitexplain-model-") as folder:
                        model.save_pretrained(folder, safe_serialization=True)
                        if processor is not None:
                            processor.save_pretrained(folder)
                        self._load_model(folder, err)
                elif isinstance(model, (str, os.PathLike)):
                    self._load_model(os.fspath(model), err)
                else:
                    raise TypeError(
                        f"model: expected a folder, a hub id or a transformers ViTForImageClassification, got {type(model).__name__}"
                    )
                self._session = lib.vte_session_init_keeping(self._model, batch, 0, ctypes.byref(err))
                if not self._session:
                    native.raise_for(err)
            except BaseException:
                self.close()
                raise
        config = lib.vte_model_get_config(self._model).contents
        self._config = config
        self.config: Dict[str, Any] = {name: getattr(config, name) for name, _ in native.ModelConfig._fields_}
        self.labels: List[str] = [self._label(i) for i in range(config.num_labels)]
        self.model_dir: str = lib.vte_model_dir(self._model).decode()
        device_info = lib.vte_runtime_device(self._runtime).contents
        self.device: str = device_info.name.decode(errors="replace")
        self._values = lib.vte_preprocess_size(ctypes.byref(config))

    def _load_model(self, folder: str, err: native.Error) -> None:
        self._model = lib.vte_model_load(self._runtime, folder.encode(), ctypes.byref(err))
        if not self._model:
            native.raise_for(err)

    def _label(self, class_id: int) -> str:
        name = lib.vte_model_label(self._model, class_id)
        return name.decode("utf-8", "replace") if name else str(class_id)

    def close(self) -> None:
        """Frees the device memory now (also done when the object is collected)."""
        with LIBRARY_LOCK:
            if self._session:
                lib.vte_session_free(self._session)
            if self._model:
                lib.vte_model_free(self._model)
            if self._runtime:
                lib.vte_runtime_free(self._runtime)
            self._session = self._model = self._runtime = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self) -> "Explainer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _require_open(self) -> None:
        if not self._session:
            raise ValueError("this Explainer is closed")

    # ------------------------------------------------------------ inputs

    def _images(self, images: Any) -> List[Any]:
        if isinstance(images, (str, os.PathLike)) or isinstance(images, np.ndarray) and images.ndim in (2, 3):
            return [images]
        if hasattr(images, "convert") and hasattr(images, "size"):
            return [images]
        if isinstance(images, np.ndarray) and images.ndim == 4:
            return list(images)
        try:
            items = list(images)
        except TypeError:
            raise TypeError(f"images: expected an image or a list of images, got {type(images).__name__}") from None
        if not items:
            raise ValueError("images: the list is empty")
        return items

    def _preprocess(self, images: Sequence[Any], first: int) -> np.ndarray:
        pixels = np.empty((len(images), self._values), dtype=np.float32)
        preprocess = lib.vte_model_get_preprocess(self._model)
        err = native.Error()
        for i, image in enumerate(images):
            what = f"image {first + i}" + (f" ({os.fspath(image)})" if isinstance(image, (str, os.PathLike)) else "")
            with _LoadedImage(image, what) as loaded:
                status = lib.vte_preprocess(
                    preprocess, ctypes.byref(self._config), ctypes.byref(loaded.image),
                    pixels[i].ctypes.data_as(native.c_float_p), ctypes.byref(err),
                )
                native.check(status, err)
        return pixels

    def _batches(self, items: Sequence[Any]) -> Iterator[Tuple[int, Sequence[Any], np.ndarray]]:
        """(index of the first image, the images, their preprocessed pixels) for each batch of the session."""
        for first in range(0, len(items), self.batch):
            chunk = items[first : first + self.batch]
            yield first, chunk, self._preprocess(chunk, first)

    def _class_id(self, value: Any) -> int:
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            class_id = int(value)
            if not 0 <= class_id < len(self.labels):
                raise ValueError(f"class {class_id} is out of range (the model has {len(self.labels)} classes)")
            return class_id
        if isinstance(value, str):
            class_id = lib.vte_model_find_label(self._model, value.encode())
            if class_id < 0:
                raise ValueError(f"class {value!r} is not a label of this model")
            return class_id
        raise TypeError(f"a class is an id or a label, got {type(value).__name__}")

    def _classes(self, classes: Any, count: int) -> Optional[np.ndarray]:
        """[count, targets] class ids from None, one class for all, one per image, or a list per image."""
        if classes is None:
            return None
        if isinstance(classes, (int, np.integer, str)):
            return np.full((count, 1), self._class_id(classes), dtype=np.int32)
        rows = list(classes)
        if len(rows) != count:
            raise ValueError(f"classes: {len(rows)} entries for {count} images (give one class, or one entry per image)")
        table = [[self._class_id(c)] if isinstance(c, (int, np.integer, str)) else [self._class_id(x) for x in c] for c in rows]
        widths = {len(row) for row in table}
        if len(widths) != 1 or 0 in widths:
            raise ValueError("classes: every image needs the same number of classes (at least one)")
        return np.array(table, dtype=np.int32)

    def _methods(self, methods: Union[str, Iterable[str]]) -> int:
        names = [methods] if isinstance(methods, str) else list(methods)
        if not names:
            raise ValueError("methods: none given")
        bits = 0
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"methods: a method is a name, got {type(name).__name__}")
            found = lib.vte_methods_from_name(name.encode())
            if not found:
                raise ValueError(f"unknown method {name!r} (known: {', '.join(METHOD_NAMES)}, gmar, all)")
            bits |= found
        return bits

    def _predictions(self, table: List[List[native.Prediction]]) -> Predictions:
        return Predictions(
            class_ids=np.array([[p.class_id for p in row] for row in table], dtype=np.int64),
            probs=np.array([[p.prob for p in row] for row in table], dtype=np.float32),
            logits=np.array([[p.logit for p in row] for row in table], dtype=np.float32),
            labels=[[self._label(p.class_id) for p in row] for row in table],
        )

    # ------------------------------------------------------------ classify

    def classify(self, images: Any, topk: int = 5) -> Predictions:
        """The ``topk`` best classes of each image (paths, PIL images or HWC uint8 arrays)."""
        self._require_open()
        if not isinstance(topk, int) or topk < 1:
            raise ValueError(f"topk must be a positive integer, got {topk!r}")
        items = self._images(images)
        labels = len(self.labels)
        k = min(topk, labels)
        table: List[List[native.Prediction]] = []
        err = native.Error()
        logits = np.empty((self.batch, labels), dtype=np.float32)
        ranked = (native.Prediction * k)()
        with LIBRARY_LOCK:
            for _, chunk, pixels in self._batches(items):
                native.check(lib.vte_session_forward(self._session, pixels.ctypes.data_as(native.c_float_p), len(chunk), ctypes.byref(err)), err)
                native.check(lib.vte_session_read_logits(self._session, logits.ctypes.data_as(native.c_float_p), ctypes.byref(err)), err)
                for i in range(len(chunk)):
                    lib.vte_top_k(logits[i].ctypes.data_as(native.c_float_p), labels, k, ranked)
                    table.append([native.Prediction(r.class_id, r.logit, r.prob) for r in ranked])
        return self._predictions(table)

    # ------------------------------------------------------------ explain

    def explain(
        self,
        images: Any,
        methods: Union[str, Iterable[str]] = DEFAULT_METHODS,
        classes: Any = None,
        topk: int = 1,
        upsample: bool = True,
        head_fusion: str = "mean",
        discard_ratio: float = 0.0,
        legrad_layers: int = 0,
        compat_seed: bool = False,
    ) -> Explanation:
        """Heat maps of what the model looks at, per image and target class.

        ``methods``: names among rollout, gmar_l1, gmar_l2, legrad, chefer, or "gmar" (both) or "all".
        ``classes``: None (the ``topk`` best classes of each image), one class (id or label) for every image,
        or per image a class or a list of classes (the same count for all). The options are those of
        ``vitexplain explain`` (docs/methods.md)."""
        self._require_open()
        bits = self._methods(methods)
        if classes is None and (not isinstance(topk, int) or topk < 1):
            raise ValueError(f"topk must be a positive integer, got {topk!r}")
        if head_fusion not in FUSIONS:
            raise ValueError(f"head_fusion must be one of {', '.join(FUSIONS)}, got {head_fusion!r}")
        items = self._images(images)
        table = self._classes(classes, len(items))
        targets = table.shape[1] if table is not None else min(topk, len(self.labels))
        options = native.ExplainOptions()
        lib.vte_explain_options_default(ctypes.byref(options))
        options.methods = bits
        options.rollout_fusion = FUSIONS[head_fusion]
        options.discard_ratio = float(discard_ratio)
        options.legrad_layers = int(legrad_layers)
        options.compat_seed = int(bool(compat_seed))
        options.upsample = int(bool(upsample))
        chosen = [m for m in range(native.METHOD_COUNT) if bits >> m & 1]
        c = self._config
        grid = (c.grid_h, c.grid_w)
        size = (c.image_height, c.image_width) if upsample else grid
        n = len(items)
        maps = {METHOD_NAMES[m]: np.empty((n, targets) + size, dtype=np.float32) for m in chosen}
        grid_maps = {METHOD_NAMES[m]: np.empty((n, targets) + grid, dtype=np.float32) for m in chosen}
        target_rows: List[List[native.Prediction]] = []
        top_rows: List[List[native.Prediction]] = []
        times = {"forward_ms": 0.0, "backward_ms": 0.0, "explain_ms": 0.0}
        top_count = min(native.EXPLANATION_MAX_PREDICTIONS, len(self.labels))
        top = (native.Prediction * top_count)()
        err = native.Error()
        with LIBRARY_LOCK:
            for first, chunk, pixels in self._batches(items):
                chunk_classes, class_ptr = _int_pointer(None if table is None else table[first : first + len(chunk)])
                e = lib.vte_session_explain(
                    self._session, pixels.ctypes.data_as(native.c_float_p), len(chunk), class_ptr, targets,
                    ctypes.byref(options), ctypes.byref(err),
                )
                if not e:
                    native.raise_for(err)
                try:
                    for i in range(len(chunk)):
                        for t in range(targets):
                            for m in chosen:
                                name = METHOD_NAMES[m]
                                source = lib.vte_explanation_map(e, i, t, m)
                                grid_maps[name][first + i, t] = np.ctypeslib.as_array(source, shape=grid)
                                if upsample:
                                    source = lib.vte_explanation_upsampled(e, i, t, m)
                                    maps[name][first + i, t] = np.ctypeslib.as_array(source, shape=size)
                        target_rows.append([lib.vte_explanation_target(e, i, t) for t in range(targets)])
                        got = lib.vte_explanation_predictions(e, i, top, top_count)
                        top_rows.append([native.Prediction(p.class_id, p.logit, p.prob) for p in top[:got]])
                    stage = lib.vte_explanation_times(e)
                    for key in times:
                        times[key] += getattr(stage, key)
                finally:
                    lib.vte_explanation_free(e)
        if not upsample:
            maps = grid_maps
        return Explanation(maps=maps, grid_maps=grid_maps, targets=self._predictions(target_rows),
                           predictions=self._predictions(top_rows), times=times)

    # ------------------------------------------------------------ pictures

    def overlay(self, image: ImageLike, map: np.ndarray, alpha: float = 0.5, title: Optional[str] = None) -> np.ndarray:
        """The jet-coloured heat map blended over the image, as the command line draws it: HWC uint8 RGB at the
        image's size. ``map``: 2-D, on the patch grid or upsampled, values in [0, 1]."""
        values = np.ascontiguousarray(map, dtype=np.float32)
        if values.ndim != 2 or values.size == 0:
            raise ValueError(f"map: expected a 2-D array (grid_h x grid_w), got shape {np.shape(map)}")
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"alpha {alpha} is not in [0, 1]")
        err = native.Error()
        out = native.Image()
        with _LoadedImage(image, "image") as loaded:
            native.check(
                lib.vte_render_overlay(
                    ctypes.byref(loaded.image), values.ctypes.data_as(native.c_float_p), values.shape[0], values.shape[1],
                    float(alpha), title.encode() if title else None, ctypes.byref(out), ctypes.byref(err),
                ),
                err,
            )
        try:
            return _image_array(out)
        finally:
            lib.vte_image_free(ctypes.byref(out))

    # ------------------------------------------------------------ evaluate

    def evaluate(
        self,
        images: Any,
        methods: Union[str, Iterable[str]] = DEFAULT_METHODS,
        classes: Any = None,
        masks: Optional[Sequence[MaskLike]] = None,
        step: int = 0,
        deletion_baseline: str = "black",
        insertion_baseline: str = "blur",
        random_seeds: int = 3,
    ) -> Evaluation:
        """Deletion and insertion curves with their AUCs for each method's map, random patch orders as a
        reference, and with object masks (nonzero = object, the image's size) the pointing game and the share of
        the map on the object (docs/evaluation.md). ``classes``: None (each image's top class), one class for
        all, or one per image."""
        self._require_open()
        bits = self._methods(methods)
        for name, value in (("deletion_baseline", deletion_baseline), ("insertion_baseline", insertion_baseline)):
            if value not in BASELINES:
                raise ValueError(f"{name} must be one of {', '.join(BASELINES)}, got {value!r}")
        if not isinstance(step, int) or step < 0:
            raise ValueError(f"step must be a non-negative integer, got {step!r}")
        if not isinstance(random_seeds, int) or random_seeds < 0:
            raise ValueError(f"random_seeds must be a non-negative integer, got {random_seeds!r}")
        items = self._images(images)
        n = len(items)
        table = self._classes(classes, n)
        if table is not None and table.shape[1] != 1:
            raise ValueError("classes: evaluate takes one class per image")
        if masks is not None and len(masks) != n:
            raise ValueError(f"masks: {len(masks)} masks for {n} images (None for an image without one)")
        options = native.EvaluateOptions()
        lib.vte_evaluate_options_default(ctypes.byref(options))
        options.explain.methods = bits
        options.step = step
        options.deletion_baseline = BASELINES[deletion_baseline]
        options.insertion_baseline = BASELINES[insertion_baseline]
        options.random_seeds = random_seeds
        chosen = [m for m in range(native.METHOD_COUNT) if bits >> m & 1]
        rows = {METHOD_NAMES[m]: m for m in chosen}
        rows["random"] = native.EVALUATION_RANDOM
        rows["uniform"] = native.EVALUATION_UNIFORM
        c = self._config
        patches = c.grid_h * c.grid_w
        scores = {row: {k: np.full(n, np.nan) for k, _ in native.EvaluationScores._fields_} for row in rows}
        curves: Dict[str, Dict[str, np.ndarray]] = {}
        maps = {METHOD_NAMES[m]: np.empty((n, c.grid_h, c.grid_w), dtype=np.float32) for m in chosen}
        target_rows: List[List[native.Prediction]] = []
        x = np.empty(0, dtype=np.float32)
        times = {"explain_forward_ms": 0.0, "explain_backward_ms": 0.0, "explain_ms": 0.0, "curves_ms": 0.0}
        err = native.Error()
        with LIBRARY_LOCK:
            for first, chunk, pixels in self._batches(items):
                coverage = None
                keep_alive = []
                if masks is not None:
                    coverage = (native.c_float_p * len(chunk))()
                    for i, mask in enumerate(masks[first : first + len(chunk)]):
                        if mask is None:
                            continue
                        values = np.empty(patches, dtype=np.float32)
                        with _LoadedImage(mask, f"mask {first + i}") as loaded:
                            native.check(
                                lib.vte_mask_coverage(self._model, ctypes.byref(loaded.image), values.ctypes.data_as(native.c_float_p), ctypes.byref(err)),
                                err,
                            )
                        keep_alive.append(values)
                        coverage[i] = values.ctypes.data_as(native.c_float_p)
                chunk_classes, class_ptr = _int_pointer(None if table is None else table[first : first + len(chunk), 0])
                ev = lib.vte_session_evaluate(
                    self._session, pixels.ctypes.data_as(native.c_float_p), len(chunk), class_ptr, coverage,
                    ctypes.byref(options), ctypes.byref(err),
                )
                if not ev:
                    native.raise_for(err)
                try:
                    points = lib.vte_evaluation_curve_points(ev)
                    x = np.ctypeslib.as_array(lib.vte_evaluation_curve_x(ev), shape=(points,)).copy()
                    for row, index in rows.items():
                        if index == native.EVALUATION_UNIFORM:
                            continue
                        for kind, name in ((0, "deletion"), (1, "insertion")):
                            curves.setdefault(row, {}).setdefault(name, np.full((n, points), np.nan, dtype=np.float32))
                    for i in range(len(chunk)):
                        for row, index in rows.items():
                            s = lib.vte_evaluation_scores_of(ev, i, index)
                            for key, _ in native.EvaluationScores._fields_:
                                scores[row][key][first + i] = getattr(s, key)
                            if index == native.EVALUATION_UNIFORM:
                                continue
                            for kind, name in ((0, "deletion"), (1, "insertion")):
                                curve = lib.vte_evaluation_curve(ev, i, index, kind)
                                if curve:
                                    curves[row][name][first + i] = np.ctypeslib.as_array(curve, shape=(points,))
                        for m in chosen:
                            source = lib.vte_evaluation_map(ev, i, m)
                            maps[METHOD_NAMES[m]][first + i] = np.ctypeslib.as_array(source, shape=(c.grid_h, c.grid_w))
                        target_rows.append([lib.vte_evaluation_target(ev, i)])
                    stage = lib.vte_evaluation_times_of(ev)
                    for key in times:
                        times[key] += getattr(stage, key)
                finally:
                    lib.vte_evaluation_free(ev)
        if random_seeds == 0:
            curves.pop("random", None)
        return Evaluation(x=x, scores=scores, curves=curves, maps=maps, targets=self._predictions(target_rows), times=times)
