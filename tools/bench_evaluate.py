#!/usr/bin/env python3
"""PyTorch half of tools/bench-evaluate.sh: the deletion/insertion protocol of docs/evaluation.md on one image,
with the inputs of each curve sent through the model one at a time (the per-image loop a PyTorch user writes
first) or a whole curve per batch (what `vitexplain evaluate` does).

    .venv/bin/python tools/bench_evaluate.py MODEL_DIR IMAGE MAP.npy [--threads 2] [--batches 1,0] [--seeds 1]

MAP.npy is the map whose order the method's curves follow (`vitexplain evaluate --save-maps` writes it), so that
both sides perturb the same patches; the random orders come from the same generator. Curves: deletion to black and
insertion from blur for the map, and the same for each random seed. The protocol's code is
tools/make_evaluate_reference.py's (orders, baselines, steps); only the batching differs. Batch 0 means the whole
curve. Prints milliseconds per perturbed input and per image.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_evaluate_reference as ev  # noqa: E402  (the protocol; importing it has no side effects)
import make_reference as mr  # noqa: E402


def inputs_of(pix, base, order, kind, step, patch):
    """Every input of one curve, [points, C, H, W]."""
    P = len(order)
    gw = pix.shape[2] // patch
    points = -(-P // step) + 1
    start, source = (pix, base) if kind == "deletion" else (base, pix)
    batch = np.repeat(start[None], points, axis=0)
    for k in range(points):
        for q in order[:ev.changed(k, P, step)]:
            r, c = divmod(q, gw)
            batch[k, :, r * patch:(r + 1) * patch, c * patch:(c + 1) * patch] = \
                source[:, r * patch:(r + 1) * patch, c * patch:(c + 1) * patch]
    return batch


def run_protocol(model, pix, prep, orders, step, batch):
    """All curves of the protocol; returns the number of inputs."""
    patch = model.config.patch_size
    bases = dict(deletion=ev.baseline(pix, "black", prep), insertion=ev.baseline(pix, "blur", prep))
    cls = None
    count = 0
    for order in orders:
        for kind in ("deletion", "insertion"):
            x = torch.from_numpy(inputs_of(pix, bases[kind], order, kind, step, patch))
            size = batch or len(x)
            with torch.no_grad():
                logits = torch.cat([model(pixel_values=x[i:i + size]).logits for i in range(0, len(x), size)])
            if cls is None:
                cls = int(torch.argmax(logits[0]))
            torch.softmax(logits.double(), -1)[:, cls]
            count += len(x)
    return count


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("image")
    ap.add_argument("map")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="1,0", help="inputs per forward pass; 0: a whole curve")
    ap.add_argument("--seeds", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = mr.load_model(args.model)
    prep = json.loads((Path(args.model) / "preprocessor_config.json").read_text())
    processor = mr.VitPilProcessor.from_pretrained(args.model)
    pix = processor(images=mr.load_rgb(args.image), return_tensors="np")["pixel_values"][0].astype(np.float32)
    m = np.load(args.map).reshape(-1)
    P = m.size
    step = ev.curve_step(P, 0)
    orders = [ev.patch_order(m)] + [ev.random_order(P, s) for s in range(args.seeds)]
    run_protocol(model, pix, prep, orders[:1], step, 0)  # warm-up
    print(f"torch {torch.__version__}, {args.threads} threads, {P} patches, {step} per step, "
          f"{len(orders) * 2} curves of {-(-P // step) + 1} inputs")
    for batch in [int(b) for b in args.batches.split(",")]:
        start = time.perf_counter()
        count = run_protocol(model, pix, prep, orders, step, batch)
        ms = (time.perf_counter() - start) * 1000
        label = "a whole curve" if batch == 0 else f"{batch}"
        print(f"PyTorch, batch {label:>13}: {ms / count:7.1f} ms per input, {ms / 1000:7.1f} s for the image "
              f"({count} inputs)")


if __name__ == "__main__":
    main()
