"""The Python package against the command line and the C library's own rules.

Run by tools/test.sh after the C build: $VITEXPLAIN_CLI names the `vitexplain` binary of that build (default
build/vitexplain), the package is installed with `pip install ./python`. The model is the bundled Fashion-MNIST
ViT (weights/fashion-vit) on the OpenCL CPU device."""

from __future__ import annotations

import gc
import os
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import vitexplain

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "weights" / "fashion-vit"
IMAGES = sorted((REPO / "images" / "fashion").glob("*.png"))


def cli_path() -> Path:
    path = Path(os.environ.get("VITEXPLAIN_CLI", REPO / "build" / "vitexplain"))
    if not path.exists():
        pytest.fail(f"the command line is not built at {path} (build it, or set $VITEXPLAIN_CLI)")
    return path


@pytest.fixture(scope="module")
def vx():
    explainer = vitexplain.Explainer(model=str(MODEL), device="cpu", batch=4)
    yield explainer
    explainer.close()


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_the_bundled_images_are_there():
    assert len(IMAGES) == 10, IMAGES


def test_maps_equal_the_command_lines_npy_bit_for_bit(vx, tmp_path):
    """The same images in the same batches through `vitexplain explain --save-raw` and Explainer.explain."""
    out = tmp_path / "cli"
    subprocess.run(
        [str(cli_path()), "explain", "--method", "all", "--topk", "2", "--save-raw", "--no-pictures", "--quiet",
         "--batch", "4", "--device", "cpu", "--model", str(MODEL), "--out", str(out)] + [str(p) for p in IMAGES],
        check=True,
    )
    result = vx.explain([str(p) for p in IMAGES], methods="all", topk=2, upsample=False)
    assert set(result.maps) == set(vitexplain.METHOD_NAMES)
    compared = 0
    for i, image in enumerate(IMAGES):
        for t in range(2):
            class_id = int(result.targets.class_ids[i, t])
            for method, maps in result.maps.items():
                family, _, variant = method.partition("_")
                stem = f"{image.stem}_c{class_id}"
                name = f"{variant}_{stem}_{family}.npy" if variant else f"{stem}_{family}.npy"
                want = np.load(out / family / name)
                got = maps[i, t]
                assert got.dtype == want.dtype == np.float32
                assert np.array_equal(got, want), f"{method} {image.name} class {class_id}"
                compared += 1
    assert compared == len(IMAGES) * 2 * 5


def test_upsampled_maps_have_the_model_input_size(vx):
    result = vx.explain(str(IMAGES[0]), methods=("legrad", "rollout"), topk=3)
    c = vx.config
    assert result.maps["legrad"].shape == (1, 3, c["image_height"], c["image_width"])
    assert result.grid_maps["legrad"].shape == (1, 3, c["grid_h"], c["grid_w"])
    assert result.targets.class_ids.shape == (1, 3)
    # the targets are the top 3 classes, best first
    assert list(result.targets.class_ids[0]) == list(result.predictions.class_ids[0, :3])
    assert np.all(np.diff(result.targets.probs[0]) <= 0)
    for maps in result.maps.values():
        assert maps.min() >= 0.0 and maps.max() <= 1.0


def test_images_as_paths_pil_and_numpy_give_the_same_numbers(vx):
    from PIL import Image

    path = IMAGES[1]
    pil = Image.open(path)
    array = np.asarray(pil.convert("RGB"))
    by_path = vx.explain(str(path), methods="gmar", upsample=False)
    for other in (pil, array, np.ascontiguousarray(array[:, :, :1].repeat(3, axis=2)) if pil.mode == "L" else array):
        got = vx.explain(other, methods="gmar", upsample=False)
        for method in ("gmar_l1", "gmar_l2"):
            assert np.array_equal(got.maps[method], by_path.maps[method]), (type(other).__name__, method)
    # a batch given as one 4-D array
    stacked = vx.classify(np.stack([array, array]), topk=2)
    assert stacked.class_ids.shape == (2, 2)
    assert np.array_equal(stacked.logits[0], stacked.logits[1])


def test_classes_by_id_and_label(vx):
    paths = [str(IMAGES[0]), str(IMAGES[2])]
    result = vx.explain(paths, methods="chefer", classes=[["Bag", 3], [0, "sneaker"]], upsample=False)
    assert result.targets.class_ids.tolist() == [[8, 3], [0, 7]]
    assert result.targets.labels == [["Bag", "Dress"], ["T-shirt/top", "Sneaker"]]
    one = vx.explain(paths, methods="chefer", classes="Coat", upsample=False)
    assert one.targets.class_ids.tolist() == [[4], [4]]
    # a target explained alone gives the map it gets among others (several targets share a backward pass)
    assert np.allclose(one.maps["chefer"][0, 0], vx.explain(paths[0], methods="chefer", classes=4, upsample=False).maps["chefer"][0, 0], atol=1e-6)


def test_classify_agrees_with_explain(vx):
    paths = [str(p) for p in IMAGES]
    classified = vx.classify(paths, topk=10)
    explained = vx.explain(paths, methods="rollout", upsample=False)
    assert classified.class_ids.shape == (len(IMAGES), 10)
    assert np.array_equal(classified.class_ids[:, 0], explained.targets.class_ids[:, 0])
    assert np.allclose(classified.probs.sum(axis=1), 1.0, atol=1e-5)
    assert classified.labels[0][0] == vx.labels[classified.class_ids[0, 0]]


def test_overlay_blends_the_jet_colours_over_the_image(vx):
    from PIL import Image

    image = np.asarray(Image.open(IMAGES[3]).convert("RGB"))
    grid = (vx.config["grid_h"], vx.config["grid_w"])
    # alpha 0: the image itself; alpha 1 on a map of zeros: jet's first colour, dark blue, everywhere
    assert np.array_equal(vx.overlay(image, np.zeros(grid, np.float32), alpha=0.0), image)
    blue = vx.overlay(image, np.zeros(grid, np.float32), alpha=1.0)
    assert blue.shape == image.shape and blue.dtype == np.uint8
    assert np.all(blue == np.array([0, 0, 128], np.uint8))
    red = vx.overlay(str(IMAGES[3]), np.ones(grid, np.float32), alpha=1.0)
    assert np.all(red == np.array([128, 0, 0], np.uint8))


def test_evaluate_curves_and_scores(vx):
    paths = [str(p) for p in IMAGES[:3]]
    masks = [np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(p).convert("RGB")) for p in paths]
    result = vx.evaluate(paths, methods=("rollout", "legrad"), masks=[masks[0], None, masks[2]], random_seeds=2)
    assert result.x[0] == 0.0 and result.x[-1] == 1.0
    assert set(result.scores) == {"rollout", "legrad", "random", "uniform"}
    for row in ("rollout", "legrad", "random"):
        deletion = result.curves[row]["deletion"]
        assert deletion.shape == (3, len(result.x))
        # every curve starts at the unperturbed input: the target's probability
        assert np.allclose(deletion[:, 0], result.targets.probs[:, 0], atol=1e-5)
        assert np.all((result.scores[row]["deletion_auc"] >= 0) & (result.scores[row]["deletion_auc"] <= 1))
    assert np.isnan(result.scores["legrad"]["pointing_game"][1])  # no mask
    assert result.scores["legrad"]["pointing_game"][0] in (0.0, 1.0)
    assert result.maps["legrad"].shape == (3, vx.config["grid_h"], vx.config["grid_w"])


def test_errors_are_exceptions_with_the_librarys_message(vx, tmp_path):
    missing = tmp_path / "no-such-image.png"
    with pytest.raises(vitexplain.VitexplainError) as caught:
        vx.classify(str(missing))
    assert str(missing) in str(caught.value) and caught.value.status == "VTE_ERR_IO"
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(vitexplain.VitexplainError) as caught:
        vx.explain(str(broken), methods="rollout")
    assert "broken.png" in str(caught.value)
    with pytest.raises(TypeError, match="uint8"):
        vx.classify(np.zeros((28, 28, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        vx.classify(np.zeros((28, 28, 2), np.uint8))
    with pytest.raises(ValueError, match="unknown method 'gradcam'"):
        vx.explain(str(IMAGES[0]), methods="gradcam")
    with pytest.raises(ValueError, match="class 10 is out of range"):
        vx.explain(str(IMAGES[0]), methods="chefer", classes=10)
    with pytest.raises(ValueError, match="'Zebra' is not a label"):
        vx.explain(str(IMAGES[0]), methods="chefer", classes="Zebra")
    with pytest.raises(ValueError, match="topk"):
        vx.classify(str(IMAGES[0]), topk=0)
    with pytest.raises(vitexplain.VitexplainError, match="discard ratio"):
        vx.explain(str(IMAGES[0]), methods="rollout", discard_ratio=1.5)
    with pytest.raises(vitexplain.VitexplainError) as caught:
        vitexplain.Explainer(model=str(tmp_path / "no-model"), device="cpu")
    assert "no-model" in str(caught.value)
    with pytest.raises(vitexplain.VitexplainError) as caught:
        vitexplain.Explainer(model=str(MODEL), device="no-such-device-name")
    assert caught.value.status == "VTE_ERR_NO_DEVICE"
    # the explainer still works after every failure
    assert vx.classify(str(IMAGES[0]), topk=1).class_ids.shape == (1, 1)


def test_no_leak_over_a_thousand_calls(vx):
    image = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(IMAGES[4]).convert("RGB"))
    for _ in range(50):  # warm-up: caches, allocator pools
        vx.classify(image, topk=3)
        vx.explain(image, methods="legrad", upsample=False)
    gc.collect()
    rss_before = rss_bytes()
    tracemalloc.start()
    python_before = tracemalloc.take_snapshot()
    for _ in range(1000):
        vx.classify(image, topk=3)
        vx.explain(image, methods="legrad", upsample=False)
    gc.collect()
    python_after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in python_after.compare_to(python_before, "filename"))
    assert grown < 256 * 1024, f"Python allocations grew by {grown} bytes over 1000 calls"
    rss_grown = rss_bytes() - rss_before
    assert rss_grown < 16 * 1024 * 1024, f"resident memory grew by {rss_grown} bytes over 1000 calls"


def test_a_transformers_model_object_is_accepted():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    config = transformers.ViTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
                                    num_attention_heads=2, intermediate_size=64, num_labels=5)
    torch.manual_seed(0)
    model = transformers.ViTForImageClassification(config).eval()
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    processor = transformers.ViTImageProcessor(size={"height": 32, "width": 32})
    with vitexplain.Explainer(model=model, processor=processor, device="cpu", batch=1) as vx:
        got = vx.classify(pixels, topk=5)
        inputs = processor(images=pixels, return_tensors="pt")
        with torch.no_grad():
            logits = model(**inputs).logits[0].numpy()
        order = np.argsort(-logits, kind="stable")
        assert got.class_ids[0].tolist() == order.tolist()
        assert np.allclose(got.logits[0], logits[order], atol=1e-4)
