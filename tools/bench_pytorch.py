#!/usr/bin/env python3
"""PyTorch baseline on the same CPU: the forward pass and each explanation method, per image, at batch 1 and 8.

    .venv/bin/python tools/bench_pytorch.py MODEL_DIR [--threads 2] [--iterations 3] [--device cpu|cuda]

What a PyTorch user of the peers runs: transformers' ViTForImageClassification in float32 with eager attention
(needed for the attention maps), autograd for the gradients, the reductions in torch:
  forward  : model(x, output_attentions=True) under no_grad
  rollout  : that forward, then the CLS-row rollout (head mean, 0.5 A + 0.5 I)
  gmar     : forward with grad, d(target logit)/dA for every layer by one autograd.grad, L1 and L2 head weights,
             weighted rollout (both norms, as `vitexplain explain --method gmar` computes)
  legrad   : forward with grad and hidden states, one autograd.grad per layer of that layer's readout
  chefer   : forward with grad, d(target logit)/dA, R <- R + mean_h(relu(G*A)) R
  all      : forward with grad, one backward for gmar+chefer, the per-layer LeGrad gradients, rollout
Prints milliseconds per image (median of the iterations, after one warm-up).
"""
import argparse
import statistics
import time

import torch
from transformers import ViTForImageClassification


def cls_rollout(mats):
    """r = e0; r <- r M for the later layers first; mats: list over layers of [B,T,T]."""
    B, T, _ = mats[0].shape
    r = torch.zeros(B, 1, T, device=mats[0].device)
    r[:, 0, 0] = 1
    for m in reversed(mats):
        r = r @ m
    return r[:, 0, 1:]


def residual(abar):
    T = abar.shape[-1]
    a = abar + torch.eye(T, device=abar.device)
    return a / a.sum(-1, keepdim=True)


def targets_of(logits):
    return logits.argmax(-1)


def run(model, x, method):
    L = model.config.num_hidden_layers
    if method in ("forward", "rollout"):
        with torch.no_grad():
            out = model(pixel_values=x, output_attentions=True)
            if method == "rollout":
                cls_rollout([residual(a.mean(1)) for a in out.attentions])
        return
    need_hidden = method in ("legrad", "all")
    out = model(pixel_values=x, output_attentions=True, output_hidden_states=need_hidden)
    atts = out.attentions
    c = targets_of(out.logits.detach())
    picked = out.logits.gather(1, c[:, None]).sum()
    if method in ("gmar", "chefer", "all"):
        grads = torch.autograd.grad(picked, atts, retain_graph=need_hidden)
        with torch.no_grad():
            if method in ("gmar", "all"):
                for p in (1, 2):
                    mats = []
                    for a, g in zip(atts, grads):
                        n = g.abs().sum((2, 3)) if p == 1 else g.pow(2).sum((2, 3)).sqrt()
                        w = n / n.sum(1, keepdim=True)
                        mats.append(residual((w[:, :, None, None] * a).sum(1)))
                    cls_rollout(mats)
            if method in ("chefer", "all"):
                T = atts[0].shape[-1]
                R = torch.eye(T, device=x.device).expand(x.shape[0], T, T).clone()
                for a, g in zip(atts, grads):
                    R = R + (g * a).clamp(min=0).mean(1) @ R
    if need_hidden:
        hs = out.hidden_states
        for l in range(L):
            s = model.classifier(model.vit.layernorm(hs[l + 1][:, 0])).gather(1, c[:, None]).sum()
            g = torch.autograd.grad(s, atts[l], retain_graph=True)[0]
            with torch.no_grad():
                g.clamp(min=0).mean((1, 2))
    if method == "all":
        with torch.no_grad():
            cls_rollout([residual(a.detach().mean(1)) for a in atts])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = ViTForImageClassification.from_pretrained(args.model, attn_implementation="eager").eval().to(args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    size = model.config.image_size
    h, w = (size, size) if isinstance(size, int) else size
    print(f"torch {torch.__version__}, device {args.device}, {args.threads} threads, model {args.model}; ms per image "
          f"(median of {args.iterations})")
    for batch in [int(b) for b in args.batches.split(",")]:
        x = torch.randn(batch, model.config.num_channels, h, w, device=args.device)
        for method in ("forward", "rollout", "gmar", "legrad", "chefer", "all"):
            run(model, x, method)  # warm-up
            sync()
            times = []
            for _ in range(args.iterations):
                start = time.perf_counter()
                run(model, x, method)
                sync()
                times.append((time.perf_counter() - start) * 1000 / batch)
            print(f"batch {batch}  {method:8s} {statistics.median(times):9.1f}")


if __name__ == "__main__":
    main()
