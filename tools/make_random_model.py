#!/usr/bin/env python3
"""Write a random-weight ViT-B/16 checkpoint for benchmarks (NOT for correctness tests, not committed).

    .venv/bin/python tools/make_random_model.py OUT_DIR [--dtype f32|f16|bf16] [--seed N]

OUT_DIR receives config.json + model.safetensors (ViTForImageClassification.save_pretrained with
safe_serialization=True) and google/vit-base-patch16-224's preprocessor_config.json.  The config is
google/vit-base-patch16-224's (224x224, patch 16, hidden 768, 12 layers, 12 heads, MLP 3072,
layer_norm_eps 1e-12, qkv_bias, erf GELU) with 1000 placeholder labels "class 0" .. "class 999".
Weights use Hugging Face's default initialisation (std 0.02) with a fixed seed.  The file is about
346 MB in f32 (173 MB in f16/bf16).  Suggested location: weights/vit-base-random (git-ignored).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import transformers
from transformers import ViTConfig, ViTForImageClassification

DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}

GOOGLE_PREPROCESSOR = {  # google/vit-base-patch16-224/preprocessor_config.json (+ explicit type/resample)
    "do_normalize": True,
    "do_resize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_processor_type": "ViTImageProcessor",
    "image_std": [0.5, 0.5, 0.5],
    "resample": 2,
    "size": 224,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="f32")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    t0 = time.time()
    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(args.seed)
    cfg = ViTConfig(
        image_size=224, patch_size=16, num_channels=3, hidden_size=768, num_hidden_layers=12,
        num_attention_heads=12, intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, layer_norm_eps=1e-12, qkv_bias=True, encoder_stride=16,
        initializer_range=0.02,
        id2label={i: f"class {i}" for i in range(1000)},
        label2id={f"class {i}": i for i in range(1000)},
        architectures=["ViTForImageClassification"],
    )
    model = ViTForImageClassification(cfg).eval().to(DTYPES[args.dtype])
    args.out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out_dir, safe_serialization=True)
    (args.out_dir / "model.safetensors").chmod(0o644)  # save_pretrained leaves it 0600
    with open(args.out_dir / "preprocessor_config.json", "w") as f:
        json.dump(GOOGLE_PREPROCESSOR, f, indent=2, sort_keys=True)
        f.write("\n")
    n = sum(p.numel() for p in model.parameters())
    size = (args.out_dir / "model.safetensors").stat().st_size
    print(f"wrote {args.out_dir}: {n} parameters, model.safetensors {size} bytes ({args.dtype}), "
          f"{time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
