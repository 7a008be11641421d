#!/usr/bin/env python3
"""Generate the evaluation reference fixtures (tests/fixtures/masks/ and tests/fixtures/reference/<model>/evaluate/).

Run from the repository, after building vitexplain (tools/build.sh) and AFTER tools/make_reference.py (it reads
the committed pixel fixtures):

    .venv/bin/python tools/make_evaluate_reference.py [--vitexplain build/vitexplain]

A PyTorch statement of the protocol of docs/evaluation.md -- the same patch orders, steps, baselines, random
generator and AUC -- with transformers' ViTForImageClassification on the fixture models vit-tiny and vit-odd, and
on the bundled model weights/fashion-vit with five of its test images and their garment masks (tests/fixtures/
fashion, from tools/make_fashion_fixtures.py; the pixels through the folder's processor, Pillow path).
The maps are NOT recomputed here: `vitexplain evaluate --save-maps` writes the maps its curves followed and this
script reads them, so that the reference checks the protocol alone (the maps themselves are checked against
PyTorch by tools/make_explain_reference.py and tests/test_explain.c).

What it writes:

  tests/fixtures/masks/{chelsea,rocket,horse}.png     object masks (an ellipse, a rectangle, an ellipse), each the
                                                      size of its image, in three encodings: 8-bit gray (0/255),
                                                      1-bit, and RGB with the object in pure red (a pixel is on
                                                      the object when any channel is nonzero)
  tests/fixtures/reference/<model>/evaluate/
    maps/<stem>_<method>.npy      the maps vitexplain's curves followed (float32 [grid_h, grid_w])
    chelsea_blur.npy              the blur baseline of chelsea's model input (float32 [3, H, W]; not for fashion-vit)
    reference.json                per image: the class (the model's top class), its probability, the patch coverage
                                  of the mask, the pointing game and share of each map and of a uniform map, each
                                  map's patch order, and per protocol configuration ("default": the default step,
                                  deletion to black, insertion from blur, 3 random seeds; "step3_mean": step 3,
                                  mean baseline for both, 2 seeds) every curve and its AUC, the random row
                                  included; the random orders of seeds 0..2 for this model's patch count and for 196

Checks (printed): the top class of every image agrees with vitexplain's; the AUCs, pointing game and share of
vitexplain's summary against this script's (maximum difference); the smallest gap between two distinct values of a
map (an order is only reproducible when that gap is far above float noise); the random generator against
hand-computed first values.

Deterministic: single-threaded torch, no timestamps.
"""

import argparse
import hashlib
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

import transformers

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_reference as mr  # noqa: E402  (fixture helpers; importing it has no side effects)

ROOT, FIX, REF, IMAGES = mr.ROOT, mr.FIX, mr.REF, mr.IMAGES
MASKS = FIX / "masks"
log = mr.log

MODELS = ["vit-tiny", "vit-odd"]
STEMS = {"chelsea": "chelsea.png", "rocket": "rocket.jpg", "horse": "horse.png"}
# The bundled model (weights/fashion-vit) on five of its committed test images (tools/make_fashion_fixtures.py): the
# first of classes T-shirt/top, Dress, Sandal, Bag and Ankle boot, with their garment masks.
BUNDLED = "fashion-vit"
BUNDLED_DIR = ROOT / "weights" / BUNDLED
FASHION = FIX / "fashion"
BUNDLED_CLASSES = [0, 3, 5, 8, 9]


class Subject:
    """A model and the images (with masks) its reference covers."""

    def __init__(self, name):
        self.name = name
        if name == BUNDLED:
            self.model_dir, self.masks = BUNDLED_DIR, FASHION / "masks"
            rows = [line.split(",") for line in (FASHION / "labels.csv").read_text().split()[1:]]
            firsts = {}
            for file, cls in rows:
                firsts.setdefault(int(cls), file)
            self.images = {Path(firsts[c]).stem: FASHION / "images" / firsts[c] for c in BUNDLED_CLASSES}
            self.processor = mr.VitPilProcessor.from_pretrained(self.model_dir)
        else:
            self.model_dir, self.masks = FIX / "models" / name, MASKS
            self.images = {stem: IMAGES / file for stem, file in STEMS.items()}

    def pixels(self, stem):
        """The committed pixel fixture; for the bundled model, its processor's Pillow path on the PNG."""
        if self.name != BUNDLED:
            return np.load(REF / self.name / f"{stem}_pixels.npy")
        image = Image.open(self.images[stem]).convert("RGB")
        return self.processor(images=image, return_tensors="np")["pixel_values"][0].astype(np.float32)
METHODS = ["rollout", "gmar_l1", "gmar_l2", "legrad", "chefer"]
# Protocol configurations: (name, step (0: default), deletion baseline, insertion baseline, random seeds)
CONFIGS = [("default", 0, "black", "blur", 3), ("step3_mean", 3, "mean", "mean", 2)]


# --------------------------------------------------------------------------- masks

def make_masks():
    """Three masks, one per encoding a user may hand in (docs/evaluation.md, "Masks")."""
    MASKS.mkdir(parents=True, exist_ok=True)
    # chelsea (451x300): the cat's face, an ellipse; 8-bit gray, 255 on the object
    im = Image.new("L", (451, 300), 0)
    ImageDraw.Draw(im).ellipse((60, 10, 400, 290), fill=255)
    im.save(MASKS / "chelsea.png", optimize=True)
    # rocket (640x427): a tall rectangle in the middle; 1-bit
    im = Image.new("1", (640, 427), 0)
    ImageDraw.Draw(im).rectangle((280, 30, 380, 426), fill=1)
    im.save(MASKS / "rocket.png", optimize=True)
    # horse (400x328): an ellipse on the left half, the object in pure red on black, RGB
    im = Image.new("RGB", (400, 328), (0, 0, 0))
    ImageDraw.Draw(im).ellipse((20, 60, 230, 300), fill=(255, 0, 0))
    im.save(MASKS / "horse.png", optimize=True)


def resize_crop_geometry(prep, w, h):
    """transformers' resize size and center-crop offsets for an image of w x h (height/width or a bare size)."""
    size = prep.get("size", 224)
    if isinstance(size, int):
        rw = rh = size
    elif "height" in size:
        rw, rh = size["width"], size["height"]
    else:
        raise NotImplementedError("shortest_edge resize: not used by the fixture models")
    if not prep.get("do_resize", True):
        rw, rh = w, h
    cw, ch = rw, rh
    top = left = 0
    if prep.get("do_center_crop", False):
        crop = prep["crop_size"]
        cw, ch = (crop, crop) if isinstance(crop, int) else (crop["width"], crop["height"])
        top, left = (rh - ch) // 2, (rw - cw) // 2
    return rw, rh, left, top, cw, ch


def coverage_of(mask_path, prep, cfg):
    """Fraction of each patch on the object: any RGB channel nonzero, Pillow NEAREST resize, center crop."""
    with Image.open(mask_path) as im:
        rgb = np.asarray(im.convert("RGB"))
    on = (rgb != 0).any(axis=2).astype(np.uint8)
    h, w = on.shape
    rw, rh, left, top, cw, ch = resize_crop_geometry(prep, w, h)
    resized = np.asarray(Image.fromarray(on, mode="L").resize((rw, rh), Image.NEAREST)) if (rw, rh) != (w, h) else on
    out = np.zeros((ch, cw), np.uint8)  # zero padding where the crop reaches outside
    for y in range(ch):
        for x in range(cw):
            sy, sx = y + top, x + left
            if 0 <= sy < rh and 0 <= sx < rw:
                out[y, x] = resized[sy, sx]
    p = cfg.patch_size
    gh, gw = ch // p, cw // p
    return np.array([out[r * p:(r + 1) * p, q * p:(q + 1) * p].mean() for r in range(gh) for q in range(gw)])


# --------------------------------------------------------------------------- the protocol

def patch_order(m):
    """Descending value, ties by the lower index, NaN last."""
    return sorted(range(len(m)), key=lambda p: (math.isnan(m[p]), -float(m[p]) if not math.isnan(m[p]) else 0.0, p))


def xorshift32(state):
    state ^= (state << 13) & 0xFFFFFFFF
    state ^= state >> 17
    state ^= (state << 5) & 0xFFFFFFFF
    return state


def random_order(patches, seed):
    """Fisher-Yates from the last position down, xorshift32 started at 0x9E3779B9 * (seed + 1) mod 2^32."""
    state = (0x9E3779B9 * (seed + 1)) & 0xFFFFFFFF or 1
    order = list(range(patches))
    for i in range(patches - 1, 0, -1):
        state = xorshift32(state)
        j = state % (i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def curve_step(patches, step):
    return step if step > 0 else -(-patches // 49)


def changed(k, patches, step):
    return min(k * step, patches)


def blur(pix):
    """RISE's Gaussian: 11 taps, sigma 5, normalised; rows then columns, per channel, edges replicated; float64."""
    w = np.exp(-np.arange(-5, 6) ** 2 / (2 * 5.0 ** 2))
    w /= w.sum()
    x = pix.astype(np.float64)
    C, H, W = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (5, 5)), mode="edge")
    rows = sum(w[i] * padded[:, :, i:i + W] for i in range(11))
    padded = np.pad(rows, ((0, 0), (5, 5), (0, 0)), mode="edge")
    return sum(w[i] * padded[:, i:i + H, :] for i in range(11)).astype(np.float32)


def baseline(pix, kind, prep):
    if kind == "mean":
        return np.zeros_like(pix)
    if kind == "blur":
        return blur(pix)
    # black: the preprocessor's value of a 0 byte, in its own float32 arithmetic
    rescale = prep.get("rescale_factor", 1 / 255) if prep.get("do_rescale", True) else 1.0
    v = np.float32(np.float64(0) * rescale)
    if prep.get("do_normalize", True):
        mean = np.float32(np.array(prep["image_mean"], np.float32))
        std = np.float32(np.array(prep["image_std"], np.float32))
        v = (v - mean) / std
    return np.broadcast_to(np.asarray(v, np.float32)[:, None, None], pix.shape).copy()


def curve(model, pix, base, order, kind, step, cls, cfg):
    """One curve: every input of it in one batch through the model, the class's softmax probability (float64)."""
    P = len(order)
    p = cfg.patch_size
    gw = pix.shape[2] // p
    points = -(-P // step) + 1
    start, source = (pix, base) if kind == "deletion" else (base, pix)
    batch = np.repeat(start[None], points, axis=0)
    for k in range(points):
        for q in order[:changed(k, P, step)]:
            r, c = divmod(q, gw)
            batch[k, :, r * p:(r + 1) * p, c * p:(c + 1) * p] = source[:, r * p:(r + 1) * p, c * p:(c + 1) * p]
    with torch.no_grad():
        logits = model(pixel_values=torch.from_numpy(batch)).logits
    return torch.softmax(logits.double(), -1)[:, cls].numpy()


def auc(probs, P, step):
    return float(sum((changed(k + 1, P, step) - changed(k, P, step)) / P * (probs[k] + probs[k + 1]) / 2
                     for k in range(len(probs) - 1)))


def pointing_game(m, cov):
    return float(cov[patch_order(m)[0]] >= 0.5)


def share(m, cov):
    total = float(np.sum(m.astype(np.float64)))
    return 0.0 if total == 0 else float(np.sum(m.astype(np.float64) * cov) / total)


# --------------------------------------------------------------------------- per model

def run_vitexplain(binary, subject, out_dir, tmp):
    """vitexplain evaluate with the default protocol: the maps (--save-maps) and its summary, for comparison."""
    summary = Path(tmp) / f"{subject.name}.json"
    args = [str(binary), "evaluate", "--model", str(subject.model_dir), "--method", "all", "--masks",
            str(subject.masks), "--save-maps", str(out_dir / "maps"), "--summary", str(summary), "--quiet",
            "--device", "cpu"]
    args += [str(f) for f in subject.images.values()]
    subprocess.run(args, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return json.loads(summary.read_text())


def make_model(subject, binary, report):
    name = subject.name
    out = REF / name / "evaluate"
    if out.exists():
        for f in sorted(out.rglob("*"), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        c_summary = run_vitexplain(binary, subject, out, tmp)
    model = mr.load_model(subject.model_dir)
    cfg = model.config
    prep = json.loads((subject.model_dir / "preprocessor_config.json").read_text())
    size = cfg.image_size if isinstance(cfg.image_size, (list, tuple)) else (cfg.image_size, cfg.image_size)
    gh, gw = size[0] // cfg.patch_size, size[1] // cfg.patch_size
    P = gh * gw
    ref = dict(model=name, patches=P, grid=[gh, gw], methods=METHODS, images={},
               random_orders={str(n): [random_order(n, s) for s in range(3)] for n in sorted({P, 196})})
    c_images = {Path(i["image"]).stem: i for i in c_summary["images"]}
    worst = 0.0
    for stem in subject.images:
        pix = subject.pixels(stem)
        with torch.no_grad():
            logits = model(pixel_values=torch.from_numpy(pix[None])).logits[0]
        probs = torch.softmax(logits.double(), -1)
        cls = int(torch.argmax(logits))
        c_img = c_images[stem]
        if c_img["class"]["id"] != cls:
            raise SystemExit(f"{name}/{stem}: vitexplain's top class {c_img['class']['id']}, PyTorch's {cls}")
        maps = {m: np.load(out / "maps" / f"{stem}_{m}.npy").reshape(-1) for m in METHODS}
        for m, v in maps.items():
            distinct = np.unique(v)
            gap = float(np.min(np.diff(distinct))) if len(distinct) > 1 else float("inf")
            report["gaps"].append((gap, f"{name}/{stem}/{m}: {len(v) - len(distinct)} tied values, smallest gap {gap:.2e}"))
        cov = coverage_of(subject.masks / f"{stem}.png", prep, cfg)
        entry = dict(**{"class": cls}, prob=float(probs[cls]), coverage=[float(c) for c in cov],
                     orders={m: patch_order(v) for m, v in maps.items()},
                     mask_scores={m: dict(pointing_game=pointing_game(v, cov), share=share(v, cov)) for m, v in maps.items()},
                     uniform=dict(pointing_game=float(np.mean(cov >= 0.5)), share=float(np.mean(cov))), configs={})
        for config, step0, del_base, ins_base, seeds in CONFIGS:
            step = curve_step(P, step0)
            bases = dict(deletion=baseline(pix, del_base, prep), insertion=baseline(pix, ins_base, prep))
            rows = {}
            for m, v in maps.items():
                rows[m] = {}
                for kind in ("deletion", "insertion"):
                    c = curve(model, pix, bases[kind], patch_order(v), kind, step, cls, cfg)
                    rows[m][kind] = [float(x) for x in c]
                    rows[m][f"{kind}_auc"] = auc(c, P, step)
            rows["random"] = {}
            for kind in ("deletion", "insertion"):
                c = np.mean([curve(model, pix, bases[kind], random_order(P, s), kind, step, cls, cfg)
                             for s in range(seeds)], axis=0)
                rows["random"][kind] = [float(x) for x in c]
                rows["random"][f"{kind}_auc"] = auc(c, P, step)
            entry["configs"][config] = dict(step=step, deletion_baseline=del_base, insertion_baseline=ins_base,
                                            random_seeds=seeds, points=-(-P // step) + 1, rows=rows)
        if stem == "chelsea":
            mr.save_npy(out / "chelsea_blur.npy", blur(pix), "<f4")
        ref["images"][stem] = entry
        # vitexplain's own run (default configuration) against this one
        default = entry["configs"]["default"]["rows"]
        for row, c_row in c_img["rows"].items():
            for key in ("deletion_auc", "insertion_auc", "pointing_game", "share"):
                mine = (default.get(row, {}).get(key) if key.endswith("auc")
                        else (entry["uniform"] if row == "uniform" else entry["mask_scores"].get(row, {})).get(key))
                if mine is not None and c_row[key] is not None:
                    worst = max(worst, abs(mine - c_row[key]))
    (out / "reference.json").write_text(json.dumps(ref, indent=1, sort_keys=True) + "\n")
    report["checks"].append(f"{name}: vitexplain's summary vs this script: max |difference| {worst:.2e} "
                            "(AUCs, pointing game, share)")


def check_generator():
    """The test vector docs/evaluation.md gives for other implementations: the first outputs of seed 0."""
    s = 0x9E3779B9
    first = []
    for _ in range(3):
        s = xorshift32(s)
        first.append(s)
    assert all(0 < v < 2 ** 32 for v in first)
    assert sorted(random_order(196, 0)) == list(range(196))
    return f"xorshift32 from 0x9E3779B9: {', '.join(hex(v) for v in first)}; seed 0, 16 patches: {random_order(16, 0)}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vitexplain", default=str(ROOT / "build" / "vitexplain"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    log(f"transformers {transformers.__version__}, torch {torch.__version__}, numpy {np.__version__}")
    make_masks()
    report = dict(checks=[check_generator()], gaps=[])
    subjects = MODELS + ([BUNDLED] if BUNDLED_DIR.is_dir() else [])
    if BUNDLED not in subjects:
        log(f"{BUNDLED_DIR} not found: no reference for the bundled model")
    for name in subjects:
        make_model(Subject(name), Path(args.vitexplain), report)
    gaps = sorted(report["gaps"])
    log("\nchecks:")
    for s in report["checks"]:
        log("  " + s)
    log(f"  smallest gaps between distinct map values: {'; '.join(s for _, s in gaps[:3])}")
    files = sorted(p for p in [*MASKS.rglob("*"), *[q for m in subjects for q in (REF / m / "evaluate").rglob("*")]]
                   if p.is_file())
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()[:16]
    log(f"\n{len(files)} files, {sum(p.stat().st_size for p in files)} bytes; sha256 {digest}")


if __name__ == "__main__":
    sys.exit(main())
