#!/usr/bin/env python3
"""Sample images, test fixtures and PyTorch references for the bundled Fashion-MNIST model.

    .venv/bin/python tools/make_fashion_fixtures.py [--model weights/fashion-vit] [--per-class 100]

Reads the Fashion-MNIST test set from Debian's dataset-fashion-mnist package (Zalando Research, MIT licence) and
writes:
  images/fashion/<class>.png            the first test image of each class (28x28 grey PNG): the sample images
                                        the bundled model explains by default
  tests/fixtures/fashion/images/        --per-class test images of each class drawn at random (--seed), named
                                        <test index>_<class id>.png
  tests/fixtures/fashion/masks/         their garment masks (255 where the pixel is not 0, else 0), same names
  tests/fixtures/fashion/labels.csv     image,class (the true label)
  tests/fixtures/reference/fashion-vit/logits.npy
                                        float32 [N, 10]: transformers' ViTForImageClassification on the model
                                        folder, images read with Pillow and converted to RGB, preprocessed by the
                                        folder's ViTImageProcessor, in the order of labels.csv
The C tests compare vitexplain's classifications of the same files with these logits and its accuracy with the
one the training reported.
"""

import argparse
import csv
import shutil
import gzip
import struct
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import ViTForImageClassification, ViTImageProcessor

DATA_DIR = Path("/usr/share/datasets/fashion-mnist")
ROOT = Path(__file__).resolve().parent.parent


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    _, _, rank = struct.unpack(">HBB", data[:4])
    shape = struct.unpack(">" + "I" * rank, data[4 : 4 + 4 * rank])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(shape)


def file_name(label: str) -> str:
    """'T-shirt/top' -> 't-shirt_top', 'Ankle boot' -> 'ankle_boot'."""
    return label.lower().replace("/", "_").replace(" ", "_")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "weights/fashion-vit"))
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0, help="of the random sample of each class")
    args = parser.parse_args()
    images = read_idx(DATA_DIR / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(DATA_DIR / "t10k-labels-idx1-ubyte.gz")
    model = ViTForImageClassification.from_pretrained(args.model, attn_implementation="eager").eval()
    processor = ViTImageProcessor.from_pretrained(args.model)
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]

    samples = ROOT / "images/fashion"
    samples.mkdir(parents=True, exist_ok=True)
    for class_id, name in enumerate(names):
        index = int(np.flatnonzero(labels == class_id)[0])
        Image.fromarray(images[index], mode="L").save(samples / f"{file_name(name)}.png", optimize=True)

    fixtures = ROOT / "tests/fixtures/fashion"
    for folder in ("images", "masks"):
        if (fixtures / folder).is_dir():
            shutil.rmtree(fixtures / folder)
        (fixtures / folder).mkdir(parents=True)
    # A random sample of each class (seeded): the first images of each class are easier than the rest (the first
    # 100 per class: 92.0% for a model 90.2% accurate on all 10,000), so they would not represent the test set.
    generator = np.random.default_rng(args.seed)
    chosen = sorted(int(i) for c in range(len(names))
                    for i in generator.choice(np.flatnonzero(labels == c), args.per_class, replace=False))
    rows, pixels = [], []
    for index in chosen:
        stem = f"{index:04d}_{int(labels[index])}"
        image_path = fixtures / "images" / f"{stem}.png"
        Image.fromarray(images[index], mode="L").save(image_path, optimize=True)
        Image.fromarray(np.where(images[index] > 0, 255, 0).astype(np.uint8), mode="L").save(
            fixtures / "masks" / f"{stem}.png", optimize=True)
        rows.append((f"{stem}.png", int(labels[index])))
        rgb = Image.open(image_path).convert("RGB")
        pixels.append(processor(images=rgb, return_tensors="pt")["pixel_values"][0])
    with open(fixtures / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["image", "class"])
        writer.writerows(rows)
    with torch.no_grad():
        logits = model(pixel_values=torch.stack(pixels)).logits.numpy().astype(np.float32)
    reference = ROOT / "tests/fixtures/reference/fashion-vit"
    reference.mkdir(parents=True, exist_ok=True)
    np.save(reference / "logits.npy", logits)
    accuracy = float((logits.argmax(1) == np.array([r[1] for r in rows])).mean())
    print(f"{len(rows)} fixture images, PyTorch accuracy on them {accuracy:.4f}; samples in {samples}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
