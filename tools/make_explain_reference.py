#!/usr/bin/env python3
"""Generate the explanation-method reference fixtures (tests/fixtures/reference/<model>/explain/).

Run from anywhere, AFTER tools/make_reference.py (that script deletes and rewrites all of
tests/fixtures/models and tests/fixtures/reference, including what this script writes):

    .venv/bin/python tools/make_explain_reference.py

What it writes (see tests/fixtures/README.md, section "Explanation references"):

  tests/fixtures/models/vit-1head/             16x16, patch 8 (2x2 grid, T=5), hidden 8, 1 head,
                                               2 layers, MLP 12, 3 labels, f32
  tests/fixtures/reference/vit-1head/chelsea_{pixels,logits,attentions}.npy
  tests/fixtures/reference/<model>/explain/*.npy   for vit-tiny, vit-odd (chelsea, rocket, horse)
                                                   and vit-1head (chelsea)

Every method is a PyTorch re-statement of docs/methods.md,
written from the definitions with torch.autograd -- deliberately NOT from the closed forms
("LeGrad", "Backward pass") that the C implementation uses, so the two are independent:

  * The model is HF ViTForImageClassification (eager attention, float32, eval) run with
    output_attentions=True and output_hidden_states=True on the committed pixel fixtures.
    The returned attention tensors are the very tensors that multiply V inside the model, so
    torch.autograd.grad(scalar, attentions[l]) is the derivative w.r.t. the post-softmax A^l.
  * The map post-processing (fusion, rollout products, min-max, upsampling) runs in float64 on the
    float32 attentions/gradients; results are stored as float32.

Sanity checks (the script fails if one does not hold): finite differences on the attention
probabilities in float64 (a wrapper around the eager attention function adds epsilon to one entry of
A^l before A.V; the whole attention runs in float64 there), the CLS-row-only structure of the LeGrad gradients, identity attentions ->
all-zero rollout maps, hidden_states indexing (hidden_states[l+1] is layer l's output and depends on
A^0..A^l only), readout(hidden_states[L]) == logits, no ties at the discard threshold.

Deterministic: single-threaded torch, deterministic algorithms, fixed seeds, no timestamps.
"""

import contextlib
import copy
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import transformers
from transformers.models.vit import modeling_vit
from safetensors.numpy import load_file as load_safetensors_np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_reference as mr  # noqa: E402  (fixture helpers; importing it has no side effects)

ROOT, FIX, MODELS, REF, IMAGES = mr.ROOT, mr.FIX, mr.MODELS, mr.REF, mr.IMAGES
log = mr.log

EXPLAIN_MODELS = [("vit-tiny", ["chelsea", "rocket", "horse"]),
                  ("vit-odd", ["chelsea", "rocket", "horse"]),
                  ("vit-1head", ["chelsea"])]

ONEHEAD_LABELS = ["tabby cat", "rocket", "horse"]
ONEHEAD_PREP = dict(mr.TINY_PREP, size=16)
# Scales chosen for hidden size 8 (score std ~ qk^2 * hidden) so that the single head is peaked.
ONEHEAD = dict(
    name="vit-1head", seed=20240603, labels=ONEHEAD_LABELS, prep=ONEHEAD_PREP, proc=mr.VitPilProcessor,
    cfg=dict(image_size=16, patch_size=8, hidden_size=8, num_attention_heads=1, num_hidden_layers=2,
             intermediate_size=12, num_channels=3, qkv_bias=True, layer_norm_eps=1e-12),
    scales=dict(qk=0.62, other=0.36, patch=0.09, embed=0.8, cls_head=0.8),
)

# Class-independent and per-target outputs, in the order they are reported.
CLASSLESS = ["rollout", "rollout_max", "rollout_min", "rollout_mean_d50", "rollout_max_d90", "seed_rollout"]
PER_CLASS = ["gmar_l1", "gmar_l2", "legrad", "legrad_k1", "chefer", "seed_legrad", "seed_gmar_l1",
             "seed_gmar_l2"]


# --------------------------------------------------------------------------- helpers

def save_f32(path, arr):
    mr.save_npy(path, np.asarray(arr, dtype=np.float64), "<f4")


def minmax(x, eps=0.0):
    """(x-min)/(max-min); eps == 0: guard max == min -> zeros; eps > 0: (x-min)/(max-min+eps)."""
    x = np.asarray(x, dtype=np.float64)
    lo, hi = x.min(), x.max()
    if eps == 0.0:
        return np.zeros_like(x) if hi == lo else (x - lo) / (hi - lo)
    return (x - lo) / (hi - lo + eps)


def upsample(grid_map, size):
    t = torch.from_numpy(np.ascontiguousarray(grid_map, dtype=np.float64))[None, None]
    return F.interpolate(t, size=size, mode="bilinear", align_corners=False)[0, 0].numpy()


def image_hw(cfg):
    s = cfg.image_size
    return (s, s) if isinstance(s, int) else (int(s[0]), int(s[1]))


def grid_hw(cfg):
    h, w = image_hw(cfg)
    return h // cfg.patch_size, w // cfg.patch_size


# --------------------------------------------------------------------------- forward + gradients

def readout(model, h_cls):
    """The model's own classifier head applied to a [1, D] CLS state: classifier(layernorm(h))."""
    return model.classifier(model.vit.layernorm(h_cls))


def run_with_grads(model, pix, targets):
    """One forward with attentions + hidden states; all gradients the methods need.

    Returns logits [K] (f32), A [L,H,T,T] (f32) and per target c:
      dattn[c]  [L,H,T,T] = d y_c / d A^l (pre-softmax logit, full backward through later layers)
      dlegrad[c][l] [H,T,T] = d s^l_c / d A^l, s^l_c = classifier(layernorm(hidden_states[l+1][0,0]))[c]
    """
    x = torch.from_numpy(np.ascontiguousarray(pix))[None]
    out = model(pixel_values=x, output_attentions=True, output_hidden_states=True)
    logits, atts, hs = out.logits, out.attentions, out.hidden_states
    L = model.config.num_hidden_layers
    assert len(atts) == L and len(hs) == L + 1, (len(atts), len(hs))
    # hidden_states[L] is the encoder output before the final LayerNorm: the readout reproduces logits.
    d = float((readout(model, hs[L][:, 0]) - logits).abs().max().detach())
    assert d < 1e-5, f"readout(hidden_states[L]) != logits ({d})"
    res = dict(logits=logits[0].detach().numpy().copy(),
               A=torch.stack([a[0] for a in atts]).detach().numpy().copy(),
               dattn={}, dlegrad={}, hs_check=[])
    for c in targets:
        g = torch.autograd.grad(logits[0, c], atts, retain_graph=True)
        res["dattn"][c] = torch.stack([t[0] for t in g]).numpy().copy()
        per_layer = []
        for l in range(L):
            s = readout(model, hs[l + 1][:, 0])[0, c]
            # hidden_states[l+1] must depend on A^l (autograd raises otherwise) and not on A^{l+1}.
            gl = torch.autograd.grad(s, atts[l:], retain_graph=True, allow_unused=True)
            assert gl[0] is not None
            assert all(t is None or not t.abs().any() for t in gl[1:]), \
                f"hidden_states[{l + 1}] depends on a later layer's attention"
            per_layer.append(gl[0][0].numpy().copy())
        res["dlegrad"][c] = np.stack(per_layer)
        # s^{L-1} is y_c itself, so the last LeGrad gradient must equal the last dy/dA
        dd = np.abs(res["dlegrad"][c][L - 1] - res["dattn"][c][L - 1]).max()
        assert dd <= 1e-6 * np.abs(res["dattn"][c][L - 1]).max(), dd
    return res


# --------------------------------------------------------------------------- methods (float64)

def fuse_heads(a, mode):
    return {"mean": a.mean(0), "max": a.max(0), "min": a.min(0)}[mode]


def discard_lowest(fused, ratio, stats=None):
    """jacobgil discard with the CLS->CLS entry protected: zero the int(T*T*ratio) smallest entries of
    the flattened fused matrix (torch.topk largest=False), except flat index 0."""
    T = fused.shape[0]
    k = int(T * T * ratio)
    flat = fused.reshape(-1).copy()
    if k == 0:
        return fused
    idx = torch.topk(torch.from_numpy(flat), k, largest=False).indices
    srt = np.sort(flat)
    # The selection must not depend on how ties are broken or on last-ulp rounding: report the gap
    # between the largest dropped and the smallest kept value (relative to the matrix max).
    gap = (srt[k] - srt[k - 1]) / flat.max() if k < flat.size else np.inf
    if stats is not None:  # real data (the identity check of (c) is all ties by construction)
        assert srt[k - 1] < srt[k], "tie at the discard threshold"
        stats.append(gap)
    idx = idx[idx != 0]
    flat[idx.numpy()] = 0.0
    return flat.reshape(T, T)


def row_normalize_residual(abar):
    a = abar + np.eye(abar.shape[0])
    return a / a.sum(-1, keepdims=True)  # keepdim: each row divided by its own sum


def rollout(A, grid, fusion="mean", discard=0.0, order="abnar", eps=0.0, stats=None):
    L, H, T, _ = A.shape
    R = np.eye(T)
    for l in range(L):
        f = fuse_heads(A[l].astype(np.float64), fusion)
        if discard > 0:
            f = discard_lowest(f, discard, stats)
        ahat = row_normalize_residual(f)
        R = ahat @ R if order == "abnar" else R @ ahat
    return minmax(R[0, 1:].reshape(grid), eps)


def head_weights(G, norm):
    """G [H,T,T] -> w [H]: n_h = sum|G_h| (l1) or sqrt(sum G_h^2) (l2), w = n / sum(n) (1/H if 0)."""
    G = G.astype(np.float64)
    n = np.abs(G).sum((1, 2)) if norm == "l1" else np.sqrt((G * G).sum((1, 2)))
    s = n.sum()
    return np.full(G.shape[0], 1.0 / G.shape[0]) if s == 0 else n / s


def gmar(A, G, grid, norm):
    L, H, T, _ = A.shape
    R = np.eye(T)
    for l in range(L):
        w = head_weights(G[l], norm)
        abar = np.einsum("h,hij->ij", w, A[l].astype(np.float64))  # weighted sum (convex)
        R = row_normalize_residual(abar) @ R                      # = 0.5*Abar + 0.5*I, Abnar order
    return minmax(R[0, 1:].reshape(grid))


def seed_gmar(A, G, grid, norm):
    L, H, T, _ = A.shape
    R = np.eye(T)
    for l in range(L):
        w = head_weights(G[l], norm)
        abar = (w[:, None, None] * A[l].astype(np.float64)).mean(0)  # weighted MEAN: rows sum to 1/H
        R = R @ row_normalize_residual(abar)                         # R <- R . Ahat (forward order)
    return minmax(R[0, 1:].reshape(grid), 1e-8)


def legrad(Gs, grid, layers):
    """Gs [L,H,T,T] per-layer d s^l / d A^l.  E = sum_l (1/(H T)) sum_h sum_i relu(G)[h,i,j], j >= 1."""
    L, H, T, _ = Gs.shape
    E = np.zeros(T - 1)
    for l in layers:
        E += np.maximum(Gs[l].astype(np.float64), 0.0).sum((0, 1))[1:] / (H * T)
    return minmax(E.reshape(grid))


def chefer(A, G, grid):
    L, H, T, _ = A.shape
    R = np.eye(T)
    for l in range(L):
        abar = np.maximum(G[l].astype(np.float64) * A[l].astype(np.float64), 0.0).mean(0)
        R = R + abar @ R
    return minmax(R[0, 1:].reshape(grid))


def seed_legrad(A, G, grid):
    L = A.shape[0]
    per_layer = []
    for l in range(L):
        m = np.maximum(G[l].astype(np.float64), 0.0) * A[l].astype(np.float64)  # [H,T,T]
        m = m.mean(0)[1:, 1:]          # head mean, drop CLS row and CLS column
        per_layer.append(m.mean(-1))   # mean over keys -> one value per query patch
    return minmax(np.mean(per_layer, 0).reshape(grid), 1e-8)


def classless_maps(A, grid, stats=None):
    return {
        "rollout": rollout(A, grid),
        "rollout_max": rollout(A, grid, fusion="max"),
        "rollout_min": rollout(A, grid, fusion="min"),
        "rollout_mean_d50": rollout(A, grid, fusion="mean", discard=0.5, stats=stats),
        "rollout_max_d90": rollout(A, grid, fusion="max", discard=0.9, stats=stats),
        "seed_rollout": rollout(A, grid, order="seed", eps=1e-8),
    }


def class_maps(A, G, Gl, grid):
    L = A.shape[0]
    return {
        "gmar_l1": gmar(A, G, grid, "l1"),
        "gmar_l2": gmar(A, G, grid, "l2"),
        "legrad": legrad(Gl, grid, range(L)),
        "legrad_k1": legrad(Gl, grid, range(L - 1, L)),
        "chefer": chefer(A, G, grid),
        "seed_legrad": seed_legrad(A, G, grid),
        "seed_gmar_l1": seed_gmar(A, G, grid, "l1"),
        "seed_gmar_l2": seed_gmar(A, G, grid, "l2"),
    }


def pick_targets(logits):
    order = np.argsort(-logits.astype(np.float64), kind="stable")
    s = np.sort(logits)
    assert np.all(np.diff(s) > 0), "tied logits: target choice would be ambiguous"
    return [int(order[0]), int(order[1]), int(order[-1])]


# --------------------------------------------------------------------------- sanity checks

class Float64Attention:
    """Replaces the eager attention function (looked up by ViTAttention.forward at call time) by the
    same computation done entirely in the query dtype (float64 here): transformers' eager function
    always runs its softmax in float32, whose rounding would swamp a float64 finite difference that
    goes through a later layer's softmax.  `perturb = (module, h, i, j, delta)` adds delta to the
    post-softmax probability A[h,i,j] of that one attention module before A.V is formed."""

    def __init__(self):
        self.perturb = None

    def __call__(self, mod, query, key, value, attention_mask, scaling=None, dropout=0.0, **kw):
        assert attention_mask is None and not mod.training
        w = torch.softmax(torch.matmul(query, key.transpose(2, 3)) * scaling, dim=-1)
        if self.perturb is not None and self.perturb[0] is mod:
            _, h, i, j, delta = self.perturb
            w = w.clone()
            w[:, h, i, j] += delta
        return torch.matmul(w, value).transpose(1, 2).contiguous(), w

    @contextlib.contextmanager
    def installed(self):
        orig = modeling_vit.eager_attention_forward
        modeling_vit.eager_attention_forward = self
        try:
            yield self
        finally:
            modeling_vit.eager_attention_forward = orig


def check_finite_difference(model32, pix, c, dattn32, dlegrad32):
    """(a) autograd dy_c/dA (and one LeGrad ds^l/dA^l) vs central finite differences, float64."""
    model = copy.deepcopy(model32).double()
    x = torch.from_numpy(pix.astype(np.float64))[None]
    L = model.config.num_hidden_layers
    att64 = Float64Attention()
    with att64.installed():
        out = model(pixel_values=x, output_attentions=True, output_hidden_states=True)
        G = torch.stack([t[0] for t in torch.autograd.grad(out.logits[0, c], out.attentions,
                                                           retain_graph=True)]).numpy()
        Gl0 = torch.autograd.grad(readout(model, out.hidden_states[1][:, 0])[0, c],
                                  out.attentions[0])[0][0].numpy()
    g32_err = float(np.abs(G - dattn32).max() / np.abs(G).max())
    gl32_err = float(np.abs(Gl0 - dlegrad32[0]).max() / np.abs(Gl0).max())

    def y_of(layer, h, i, j, delta, legrad_layer=None):
        att64.perturb = (model.vit.layers[layer].attention, h, i, j, delta)
        with torch.no_grad(), att64.installed():
            o = model(pixel_values=x, output_hidden_states=True)
            att64.perturb = None
            if legrad_layer is None:
                return float(o.logits[0, c])
            return float(readout(model, o.hidden_states[legrad_layer + 1][:, 0])[0, c])

    eps = 1e-6
    rows = []
    # entries: largest |G| in layer 0 with query row != 0 (goes through every later layer), largest
    # |G| in the last layer (row 0), and the largest LeGrad gradient of layer 0 (row 0 only).
    g0 = np.abs(G[0]).copy()
    g0[:, 0, :] = 0
    picks = [("dy/dA", 0, np.unravel_index(np.argmax(g0), g0.shape), G[0], None),
             ("dy/dA", L - 1, np.unravel_index(np.argmax(np.abs(G[L - 1])), G[L - 1].shape), G[L - 1], None),
             ("ds0/dA0", 0, np.unravel_index(np.argmax(np.abs(Gl0)), Gl0.shape), Gl0, 0)]
    worst = 0.0
    for name, layer, (h, i, j), Gref, ll in picks:
        fd = (y_of(layer, h, i, j, eps, ll) - y_of(layer, h, i, j, -eps, ll)) / (2 * eps)
        ad = float(Gref[h, i, j])
        rel = abs(fd - ad) / max(abs(ad), 1e-12)
        worst = max(worst, rel)
        rows.append(f"{name} layer {layer} [h={h},i={i},j={j}]: autograd {ad:+.9e} fd {fd:+.9e} rel {rel:.2e}")
    # the hook with delta = 0 reproduces the unperturbed logit exactly
    assert y_of(0, 0, 0, 0, 0.0) == float(out.logits[0, c].detach())
    assert worst < 1e-6, rows
    return rows, worst, g32_err, gl32_err


def check_cls_row_only(dlegrad, dattn):
    """(b) LeGrad gradients (every layer, in particular L-1) and dy/dA^{L-1} live in query row 0 only."""
    off = max(float(np.abs(g[:, :, 1:, :]).max()) for g in dlegrad.values())
    on = min(float(np.abs(g[:, :, 0, :]).max()) for g in dlegrad.values())
    off_last = max(float(np.abs(g[-1, :, 1:, :]).max()) for g in dattn.values())
    assert off == 0.0 and on > 0.0 and off_last == 0.0, (off, on, off_last)
    return off, on, off_last


def check_identity_rollout(L, H, T, grid):
    """(c) identity attentions -> R = I -> R[0,1:] = 0 -> min-max guard -> all zeros."""
    A = np.broadcast_to(np.eye(T, dtype=np.float32), (L, H, T, T)).copy()
    G = np.random.default_rng(0).standard_normal((L, H, T, T))
    maps = classless_maps(A, grid)
    maps.update({"gmar_l1": gmar(A, G, grid, "l1"), "gmar_l2": gmar(A, G, grid, "l2"),
                 "seed_gmar_l1": seed_gmar(A, G, grid, "l1")})
    bad = {k: float(np.abs(v).max()) for k, v in maps.items() if np.any(v != 0)}
    assert not bad, bad
    return sorted(maps)


# --------------------------------------------------------------------------- vit-1head fixture

def make_onehead():
    spec = ONEHEAD
    with tempfile.TemporaryDirectory() as tmp:
        model, sd = mr.build_model(spec, Path(tmp) / "init")
    mdir = MODELS / spec["name"]
    mr.write_model_dir(model, mdir, spec["prep"])
    saved = load_safetensors_np(str(mdir / "model.safetensors"))
    assert sorted(saved) == sorted(sd)
    for k, v in sd.items():
        assert saved[k].dtype == np.float32 and np.array_equal(saved[k], v.numpy()), k

    model = mr.load_model(mdir)
    assert model.config._attn_implementation == "eager"
    proc = spec["proc"].from_pretrained(mdir)
    mr.check_processor_class(proc)
    refdir = REF / spec["name"]
    if refdir.exists():
        shutil.rmtree(refdir)
    img = mr.load_rgb(IMAGES / "chelsea.png")
    pix = proc(images=img, return_tensors="np")["pixel_values"]
    assert pix.dtype == np.float32 and pix.shape == (1, 3, 16, 16), pix.shape
    pix = pix[0]
    assert np.array_equal(pix, mr.hand_pixels(img, spec["prep"])), "processor != hand pixels"
    logits, att = mr.forward(model, pix[None])
    logits, att = logits[0], att[0]
    assert att.shape == (2, 1, 5, 5) and logits.shape == (3,)
    nl, na = mr.numpy_forward(saved, model.config, pix)
    dl, da = float(np.abs(nl - logits).max()), float(np.abs(na - att).max())
    assert dl < 1e-4 and da < 1e-4, (dl, da)
    mr.save_npy(refdir / "chelsea_pixels.npy", pix, "<f4")
    mr.save_npy(refdir / "chelsea_logits.npy", logits, "<f4")
    mr.save_npy(refdir / "chelsea_attentions.npy", att, "<f4")
    log(f"[vit-1head] f32 vs numpy f64 forward: max|dlogit|={dl:.3g} max|dattn|={da:.3g}; "
        f"logits {np.round(logits, 3).tolist()}; per-row max attention "
        f"{np.round(att.max(-1), 3).tolist()} (mean {att.max(-1).mean():.3f})")


# --------------------------------------------------------------------------- main per model

def corr(a, b):
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    d = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / d) if d > 0 else float("nan")


def make_explain(name, stems, report):
    mdir = MODELS / name
    model = mr.load_model(mdir)
    assert model.config._attn_implementation == "eager"
    cfg = model.config
    L, H = cfg.num_hidden_layers, cfg.num_attention_heads
    grid, ihw = grid_hw(cfg), image_hw(cfg)
    T = 1 + grid[0] * grid[1]
    out = REF / name / "explain"
    if out.exists():
        shutil.rmtree(out)
    gaps = []
    allmaps = []  # (stem, target index, {method: map})
    for si, stem in enumerate(stems):
        pix = np.load(REF / name / f"{stem}_pixels.npy")
        ref_logits = np.load(REF / name / f"{stem}_logits.npy")
        ref_att = np.load(REF / name / f"{stem}_attentions.npy")
        with torch.no_grad():
            logits0 = model(pixel_values=torch.from_numpy(pix)[None]).logits[0].numpy()
        targets = pick_targets(logits0)
        r = run_with_grads(model, pix, targets)
        assert np.abs(r["logits"] - ref_logits).max() < 1e-5 and np.abs(r["A"] - ref_att).max() < 1e-6
        A = r["A"]
        assert A.shape == (L, H, T, T)

        cl = classless_maps(A, grid, gaps)
        for k, v in cl.items():
            save_f32(out / f"{stem}_{k}.npy", v)
        save_f32(out / f"{stem}_rollout_up.npy", upsample(cl["rollout"], ihw))
        save_f32(out / f"{stem}_targets.npy", np.array(targets, dtype=np.float64))
        for ti, c in enumerate(targets):
            G, Gl = r["dattn"][c], r["dlegrad"][c]
            cm = class_maps(A, G, Gl, grid)
            for k, v in cm.items():
                save_f32(out / f"{stem}_c{c}_{k}.npy", v)
            save_f32(out / f"{stem}_c{c}_legrad_up.npy", upsample(cm["legrad"], ihw))
            mr.save_npy(out / f"{stem}_c{c}_dattn.npy", G, "<f4")
            allmaps.append((stem, ti, c, dict(cl, **cm)))

        if si == 0:
            rows, worst, g32, gl32 = check_finite_difference(model, pix, targets[0], r["dattn"][targets[0]],
                                                             r["dlegrad"][targets[0]])
            report["checks"].append(f"(a) {name}/{stem} c{targets[0]} finite differences (float64, eps 1e-6):")
            report["checks"] += ["      " + s for s in rows]
            report["checks"].append(f"      worst rel err {worst:.2e}; float32 autograd vs float64: dy/dA "
                                    f"max rel {g32:.2e}, ds0/dA0 max rel {gl32:.2e}")
        off, on, off_last = check_cls_row_only(r["dlegrad"], r["dattn"])
        report["checks"].append(
            f"(b) {name}/{stem}: LeGrad dsl/dAl all layers, rows 1.. max|G| = {off:g} (row 0 max|G| >= {on:.3g});"
            f" dy/dA^(L-1) rows 1.. max|G| = {off_last:g}")
        report["targets"].append(f"{name}/{stem}: logits {np.round(logits0, 3).tolist()} -> targets "
                                 f"{targets} ({', '.join(cfg.id2label[t] for t in targets)})")

    ids = check_identity_rollout(L, H, T, grid)
    report["checks"].append(f"(c) {name}: identity attentions -> all-zero maps for {', '.join(ids)}")
    report["gaps"].append(f"{name}: discard threshold gap (k-th vs (k+1)-th smallest, / matrix max): "
                          f"min {min(gaps):.2e} over {len(gaps)} matrices")
    summarize(name, allmaps, report)


def summarize(name, allmaps, report):
    methods = CLASSLESS + PER_CLASS
    lines = [f"[{name}] per-method map std (min / mean over image x target):"]
    for m in methods:
        stds = [float(mp[m].std()) for *_, mp in allmaps]
        lines.append(f"  {m:17s} std min {min(stds):.3f} mean {np.mean(stds):.3f}")
    # cross-target distinctness for class-dependent methods
    lines.append(f"[{name}] class-dependent maps: mean corr between the 3 targets of one image")
    stems = sorted({s for s, *_ in allmaps})
    for m in PER_CLASS:
        cs = []
        for s in stems:
            mp = [d[m] for st, _, _, d in allmaps if st == s]
            cs += [corr(mp[a], mp[b]) for a in range(len(mp)) for b in range(a + 1, len(mp))]
        lines.append(f"  {m:17s} {np.nanmean(cs):+.3f}  (max {np.nanmax(cs):+.3f})")
    lines.append(f"[{name}] mean corr between methods (over image x target):")
    short = {m: m.replace("rollout", "ro").replace("seed_", "s_").replace("legrad", "lg")
             .replace("gmar_", "gm").replace("chefer", "chef") for m in methods}
    lines.append("  " + " " * 13 + "".join(f"{short[m]:>9s}" for m in methods))
    for a in methods:
        vals = [np.nanmean([corr(d[a], d[b]) for *_, d in allmaps]) for b in methods]
        lines.append(f"  {short[a]:13s}" + "".join(f"{v:+9.3f}" for v in vals))
    # How far apart are maps that a wrong implementation could confuse?  (max |difference| of the
    # [0,1] maps; min over image x target, i.e. the least discriminating case)
    pairs = [("gmar_l1", "rollout"), ("gmar_l2", "rollout"), ("gmar_l1", "gmar_l2"),
             ("seed_gmar_l1", "seed_rollout"), ("seed_gmar_l1", "seed_gmar_l2"), ("seed_rollout", "rollout"),
             ("rollout_mean_d50", "rollout"), ("rollout_max_d90", "rollout_max"), ("legrad", "legrad_k1"),
             ("chefer", "rollout")]
    lines.append(f"[{name}] min over image x target of max|map_a - map_b|:")
    for a, b in pairs:
        lines.append(f"  {a:17s} vs {b:17s} {min(float(np.abs(d[a] - d[b]).max()) for *_, d in allmaps):.4f}")
    lines.append(f"[{name}] min over images of max|map(c_i) - map(c_j)| between the 3 targets:")
    for m in PER_CLASS:
        v = min(float(np.abs(d1[m] - d2[m]).max())
                for s in stems for (s1, t1, _, d1) in allmaps for (s2, t2, _, d2) in allmaps
                if s1 == s2 == s and t1 < t2)
        lines.append(f"  {m:17s} {v:.4f}")
    for ln_ in lines:
        log(ln_)
    report["stats"] += lines


def manifest():
    files = sorted([p for p in (MODELS / "vit-1head").rglob("*") if p.is_file()]
                   + [p for p in (REF / "vit-1head").rglob("*") if p.is_file()]
                   + [p for m, _ in EXPLAIN_MODELS[:2] for p in (REF / m / "explain").rglob("*") if p.is_file()])
    return {str(p.relative_to(ROOT)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}, \
        sum(p.stat().st_size for p in files)


def main():
    t0 = time.time()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    log(f"transformers {transformers.__version__}, torch {torch.__version__}, numpy {np.__version__}")
    for m, _ in EXPLAIN_MODELS[:2]:
        if not (REF / m / "chelsea_pixels.npy").exists():
            raise SystemExit(f"missing {REF / m}: run tools/make_reference.py first")
    make_onehead()
    report = dict(checks=[], stats=[], targets=[], gaps=[])
    for name, stems in EXPLAIN_MODELS:
        make_explain(name, stems, report)
    log("\ntargets (argmax, second, lowest):")
    for s in report["targets"]:
        log("  " + s)
    log("\nchecks:")
    for s in report["checks"] + report["gaps"]:
        log("  " + s)
    files, total = manifest()
    log(f"\n{len(files)} files, {total} bytes; manifest sha256 "
        f"{hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()[:16]}; "
        f"done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
