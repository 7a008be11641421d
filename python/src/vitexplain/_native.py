"""The C library through ctypes: its structures, its functions' signatures, and its errors as exceptions.

ctypes releases the GIL for every call into the library (a CDLL, not a PyDLL), so other Python threads run while
the device works. The library asks to be called from one thread at a time (include/vitexplain.h): every call
that may touch a device holds ``LIBRARY_LOCK``.
"""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path

LIBRARY_LOCK = threading.RLock()

ERROR_MESSAGE_SIZE = 1024
METHOD_COUNT = 5
EVALUATION_RANDOM = METHOD_COUNT
EVALUATION_UNIFORM = METHOD_COUNT + 1
EXPLANATION_MAX_PREDICTIONS = 10

c_float_p = ctypes.POINTER(ctypes.c_float)
c_int_p = ctypes.POINTER(ctypes.c_int)


class Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("message", ctypes.c_char * ERROR_MESSAGE_SIZE)]


class RuntimeParams(ctypes.Structure):
    _fields_ = [("device", ctypes.c_char_p), ("cache_dir", ctypes.c_char_p), ("kernel_dir", ctypes.c_char_p)]


class DeviceInfo(ctypes.Structure):
    _fields_ = [
        ("index", ctypes.c_int),
        ("platform_index", ctypes.c_int),
        ("platform_name", ctypes.c_char * 256),
        ("platform_version", ctypes.c_char * 256),
        ("name", ctypes.c_char * 256),
        ("vendor", ctypes.c_char * 256),
        ("driver_version", ctypes.c_char * 256),
        ("opencl_c_version", ctypes.c_char * 256),
        ("type", ctypes.c_int),
        ("compute_units", ctypes.c_uint32),
        ("global_mem_bytes", ctypes.c_uint64),
        ("max_alloc_bytes", ctypes.c_uint64),
        ("max_work_group_size", ctypes.c_size_t),
    ]


class ModelConfig(ctypes.Structure):
    _fields_ = [
        ("image_height", ctypes.c_int),
        ("image_width", ctypes.c_int),
        ("patch_size", ctypes.c_int),
        ("num_channels", ctypes.c_int),
        ("hidden_size", ctypes.c_int),
        ("num_layers", ctypes.c_int),
        ("num_heads", ctypes.c_int),
        ("intermediate_size", ctypes.c_int),
        ("num_labels", ctypes.c_int),
        ("qkv_bias", ctypes.c_int),
        ("layer_norm_eps", ctypes.c_float),
        ("grid_h", ctypes.c_int),
        ("grid_w", ctypes.c_int),
        ("num_tokens", ctypes.c_int),
    ]


class Image(ctypes.Structure):
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int), ("rgb", ctypes.POINTER(ctypes.c_ubyte))]


class ImageLoadOptions(ctypes.Structure):
    _fields_ = [
        ("max_pixels", ctypes.c_longlong),
        ("reduced_min_width", ctypes.c_int),
        ("reduced_min_height", ctypes.c_int),
    ]


class Prediction(ctypes.Structure):
    _fields_ = [("class_id", ctypes.c_int), ("logit", ctypes.c_float), ("prob", ctypes.c_float)]


class ExplainOptions(ctypes.Structure):
    _fields_ = [
        ("methods", ctypes.c_uint),
        ("rollout_fusion", ctypes.c_int),
        ("discard_ratio", ctypes.c_float),
        ("legrad_layers", ctypes.c_int),
        ("compat_seed", ctypes.c_int),
        ("upsample", ctypes.c_int),
    ]


class StageTimes(ctypes.Structure):
    _fields_ = [("forward_ms", ctypes.c_double), ("backward_ms", ctypes.c_double), ("explain_ms", ctypes.c_double)]


class EvaluateOptions(ctypes.Structure):
    _fields_ = [
        ("explain", ExplainOptions),
        ("step", ctypes.c_int),
        ("deletion_baseline", ctypes.c_int),
        ("insertion_baseline", ctypes.c_int),
        ("random_seeds", ctypes.c_int),
        ("batch", ctypes.c_int),
    ]


class EvaluationScores(ctypes.Structure):
    _fields_ = [
        ("deletion_auc", ctypes.c_double),
        ("insertion_auc", ctypes.c_double),
        ("pointing_game", ctypes.c_double),
        ("share", ctypes.c_double),
    ]


class EvaluationTimes(ctypes.Structure):
    _fields_ = [
        ("explain_forward_ms", ctypes.c_double),
        ("explain_backward_ms", ctypes.c_double),
        ("explain_ms", ctypes.c_double),
        ("curves_ms", ctypes.c_double),
        ("curve_inputs", ctypes.c_long),
    ]


P = ctypes.c_void_p
E = ctypes.POINTER(Error)
# name: (return type, argument types)
_SIGNATURES = {
    "vte_version": (ctypes.c_char_p, []),
    "vte_status_name": (ctypes.c_char_p, [ctypes.c_int]),
    "vte_devices_list": (ctypes.c_int, [ctypes.POINTER(ctypes.POINTER(DeviceInfo)), ctypes.POINTER(ctypes.c_size_t), E]),
    "vte_runtime_init": (P, [ctypes.POINTER(RuntimeParams), E]),
    "vte_runtime_free": (None, [P]),
    "vte_runtime_device": (ctypes.POINTER(DeviceInfo), [P]),
    "vte_model_load": (P, [P, ctypes.c_char_p, E]),
    "vte_model_free": (None, [P]),
    "vte_model_dir": (ctypes.c_char_p, [P]),
    "vte_model_get_config": (ctypes.POINTER(ModelConfig), [P]),
    "vte_model_get_preprocess": (P, [P]),
    "vte_model_label": (ctypes.c_char_p, [P, ctypes.c_int]),
    "vte_model_find_label": (ctypes.c_int, [P, ctypes.c_char_p]),
    "vte_image_load_with_options": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(ImageLoadOptions), ctypes.POINTER(Image), E]),
    "vte_image_free": (None, [ctypes.POINTER(Image)]),
    "vte_preprocess_size": (ctypes.c_size_t, [ctypes.POINTER(ModelConfig)]),
    "vte_preprocess": (ctypes.c_int, [P, ctypes.POINTER(ModelConfig), ctypes.POINTER(Image), c_float_p, E]),
    "vte_session_init_keeping": (P, [P, ctypes.c_int, ctypes.c_uint, E]),
    "vte_session_free": (None, [P]),
    "vte_session_forward": (ctypes.c_int, [P, c_float_p, ctypes.c_int, E]),
    "vte_session_read_logits": (ctypes.c_int, [P, c_float_p, E]),
    "vte_top_k": (ctypes.c_int, [c_float_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(Prediction)]),
    "vte_method_name": (ctypes.c_char_p, [ctypes.c_int]),
    "vte_methods_from_name": (ctypes.c_uint, [ctypes.c_char_p]),
    "vte_explain_options_default": (None, [ctypes.POINTER(ExplainOptions)]),
    "vte_session_explain": (P, [P, c_float_p, ctypes.c_int, c_int_p, ctypes.c_int, ctypes.POINTER(ExplainOptions), E]),
    "vte_explanation_free": (None, [P]),
    "vte_explanation_map": (c_float_p, [P, ctypes.c_int, ctypes.c_int, ctypes.c_int]),
    "vte_explanation_upsampled": (c_float_p, [P, ctypes.c_int, ctypes.c_int, ctypes.c_int]),
    "vte_explanation_predictions": (ctypes.c_int, [P, ctypes.c_int, ctypes.POINTER(Prediction), ctypes.c_int]),
    "vte_explanation_target": (Prediction, [P, ctypes.c_int, ctypes.c_int]),
    "vte_explanation_times": (StageTimes, [P]),
    "vte_render_overlay": (
        ctypes.c_int,
        [ctypes.POINTER(Image), c_float_p, ctypes.c_int, ctypes.c_int, ctypes.c_float, ctypes.c_char_p, ctypes.POINTER(Image), E],
    ),
    "vte_evaluate_options_default": (None, [ctypes.POINTER(EvaluateOptions)]),
    "vte_mask_coverage": (ctypes.c_int, [P, ctypes.POINTER(Image), c_float_p, E]),
    "vte_session_evaluate": (
        P,
        [P, c_float_p, ctypes.c_int, c_int_p, ctypes.POINTER(c_float_p), ctypes.POINTER(EvaluateOptions), E],
    ),
    "vte_evaluation_free": (None, [P]),
    "vte_evaluation_curve_points": (ctypes.c_int, [P]),
    "vte_evaluation_curve_x": (c_float_p, [P]),
    "vte_evaluation_target": (Prediction, [P, ctypes.c_int]),
    "vte_evaluation_map": (c_float_p, [P, ctypes.c_int, ctypes.c_int]),
    "vte_evaluation_curve": (c_float_p, [P, ctypes.c_int, ctypes.c_int, ctypes.c_int]),
    "vte_evaluation_scores_of": (EvaluationScores, [P, ctypes.c_int, ctypes.c_int]),
    "vte_evaluation_has_mask": (ctypes.c_int, [P, ctypes.c_int]),
    "vte_evaluation_times_of": (EvaluationTimes, [P]),
}


def _library_path() -> str:
    """$VITEXPLAIN_LIBRARY (a libvitexplain.so built elsewhere), else the one installed with the package."""
    override = os.environ.get("VITEXPLAIN_LIBRARY")
    if override:
        return override
    return str(Path(__file__).with_name("libvitexplain.so"))


def _load() -> ctypes.CDLL:
    path = _library_path()
    try:
        lib = ctypes.CDLL(path)
    except OSError as exc:
        raise ImportError(
            f"vitexplain: cannot load the C library {path}: {exc} "
            "(install the package with `pip install ./python`, or point $VITEXPLAIN_LIBRARY at libvitexplain.so)"
        ) from exc
    for name, (restype, argtypes) in _SIGNATURES.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib


lib = _load()


class VitexplainError(RuntimeError):
    """A failure reported by the C library: ``status`` is its code's name ("VTE_ERR_IO"), the message says
    which file, device call or argument failed."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


# vte_status, in the order of include/vitexplain.h
STATUS_NAMES = (
    "VTE_OK",
    "VTE_ERR_INVALID_ARGUMENT",
    "VTE_ERR_IO",
    "VTE_ERR_FORMAT",
    "VTE_ERR_OPENCL",
    "VTE_ERR_CLBLAST",
    "VTE_ERR_OUT_OF_MEMORY",
    "VTE_ERR_NO_DEVICE",
    "VTE_ERR_UNSUPPORTED",
    "VTE_ERR_SELF_CHECK",
)


def raise_for(err: Error) -> None:
    """Raises the library's error held in ``err``."""
    status = STATUS_NAMES[err.code] if 0 <= err.code < len(STATUS_NAMES) else f"status {err.code}"
    described = lib.vte_status_name(err.code)
    message = err.message.decode("utf-8", "replace") or (described.decode() if described else status)
    raise VitexplainError(status, message)


def check(status: int, err: Error) -> None:
    if status != 0:
        raise_for(err)
