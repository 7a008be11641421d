#!/usr/bin/env python3
"""Writes the hand-made seeds of tests/fuzz/corpus (python3 standard library only; run from anywhere).

Seeds are small valid files and near-valid ones (one field off), so that the fuzzers start at the parsers'
interesting branches. Files copied from tests/fixtures, the images encoded by OpenCV and the inputs the fuzzers
found (regressions) are committed as they are and not made here; see README.md.
"""
import json
import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent / "corpus"


def write(target, name, data):
    folder = OUT / target
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (folder / name).write_bytes(data)


# ---------------------------------------------------------------- safetensors

def safetensors(tensors, metadata=None, pad=0, extra=b"", cut=0):
    """tensors: list of (name, dtype, shape, raw bytes), laid out in order."""
    header, data, offset = {}, b"", 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode() + b" " * pad
    blob = struct.pack("<Q", len(text)) + text + data + extra
    return blob[:len(blob) - cut] if cut else blob


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


def f16(*values):
    return struct.pack("<%de" % len(values), *values)


def bf16(*values):
    return b"".join(struct.pack("<f", v)[2:] for v in values)


mixed = [
    ("a.weight", "F32", [2, 3], f32(1, -2, 3.5, 0, 1e-30, -0.0)),
    ("b.half", "F16", [4], f16(1, -65504, 6e-8, float("inf"))),
    ("c.bf16", "BF16", [2, 2], bf16(1, -2, 3e38, 1e-39)),
    ("d.ids", "I64", [3], struct.pack("<3q", 1, -1, 7)),
    ("e.scalar", "F32", [], f32(42)),
    ("f.empty", "F16", [0, 5], b""),
    ("g.bits", "F4", [2], b"\x21"),
    ("h.bool", "BOOL", [2], b"\x00\x01"),
]
write("safetensors", "mixed.safetensors", safetensors(mixed, {"format": "pt", "note": "fuzz seed"}))
write("safetensors", "empty.safetensors", safetensors([], pad=6))
write("safetensors", "padded.safetensors", safetensors(mixed[:2], pad=9))
write("safetensors", "truncated.safetensors", safetensors(mixed[:3], cut=3))
write("safetensors", "trailing.safetensors", safetensors(mixed[:1], extra=b"\x00\x00"))


def raw_safetensors(header, data, pad=0):
    """A file from header text as given (key order, offsets), for layouts safetensors() does not write."""
    text = header.encode() + b" " * pad
    return struct.pack("<Q", len(text)) + text + data


write("safetensors", "unsorted.safetensors", raw_safetensors(
    '{"z":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
    f32(1, 2), pad=2))
write("safetensors", "overlap.safetensors", raw_safetensors(
    '{"p":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"q":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}',
    b"abc"))
write("safetensors", "bad_metadata.safetensors", safetensors(mixed[:1], {"format": 1}))
write("safetensors", "short.safetensors", b"\x10\x00\x00\x00")

# ---------------------------------------------------------------- config.json

base_config = {
    "architectures": ["ViTForImageClassification"],
    "hidden_act": "gelu",
    "hidden_size": 48,
    "id2label": {"0": "cat", "1": "dog", "2": "bird"},
    "image_size": 32,
    "intermediate_size": 80,
    "layer_norm_eps": 1e-12,
    "model_type": "vit",
    "num_attention_heads": 3,
    "num_channels": 3,
    "num_hidden_layers": 2,
    "patch_size": 8,
    "qkv_bias": True,
}


def config(name, **changes):
    c = dict(base_config)
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    write("config", name, json.dumps(c, indent=1))


config("base.json")
config("label2id.json", id2label=None, label2id={"cat": 0, "dog": 2, "bird": 1})
config("num_labels.json", id2label=None, num_labels=4)
config("deit_rect.json", model_type="deit", image_size=[16, 24], patch_size=[8, 8], qkv_bias=False)
config("defaults.json", num_channels=None, layer_norm_eps=None, qkv_bias=None, hidden_act=None, model_type="deit")
config("gray.json", num_channels=1)
config("bad_label_ids.json", id2label={"0": "a", "2": "b"})
config("bad_divisible.json", hidden_size=50)
config("bad_act.json", hidden_act="relu")
write("config", "not_object.json", "[1, 2, 3]\n")

# ---------------------------------------------------------------- preprocessor_config.json

pp_base = {
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_processor_type": "ViTImageProcessor",
    "image_std": [0.5, 0.5, 0.5],
    "resample": 2,
    "rescale_factor": 0.00392156862745098,
    "size": {"height": 224, "width": 224},
}


def pp(name, **changes):
    c = dict(pp_base)
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    write("preprocessor_config", name, json.dumps(c, indent=1))


pp("vit224.json")
pp("deit_crop.json", image_processor_type="DeiTImageProcessor", size={"shortest_edge": 256}, do_center_crop=True,
   crop_size={"height": 224, "width": 224}, resample=3, image_mean=[0.485, 0.456, 0.406],
   image_std=[0.229, 0.224, 0.225])
pp("feature_extractor.json", image_processor_type=None, feature_extractor_type="ViTFeatureExtractor", size=32,
   resample=0, image_mean=0.5, image_std=0.25)
pp("four_channels.json", size=[24, 24], image_mean=[0.1, 0.2, 0.3, 0.4], image_std=[1, 1, 1, 1])
pp("no_resize.json", do_resize=False, size=None, do_normalize=False, do_rescale=False)
pp("bad_resample.json", resample=1)
pp("bad_std.json", image_std=[0.5, 0, 0.5])
pp("tiny_std.json", image_std=1e-45, rescale_factor=1e300)

# ---------------------------------------------------------------- .npy


def npy(descr, shape, data, fortran=False, version=1, header=None):
    if header is None:
        shape_text = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
        header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape_text)
    prefix = 10 if version == 1 else 12
    body = header.encode() + b" "
    body += b" " * ((-(prefix + len(body) + 1)) % 64) + b"\n"
    size = struct.pack("<H", len(body)) if version == 1 else struct.pack("<I", len(body))
    return b"\x93NUMPY" + bytes([version, 0]) + size + body + data


write("npy", "f4_2x3.npy", npy("<f4", [2, 3], f32(1, 2, 3, -4, 0.5, float("nan"))))
write("npy", "f8_scalar.npy", npy("<f8", [], struct.pack("<d", 1e300)))
write("npy", "u1_vec.npy", npy("|u1", [5], b"\x00\x7f\x80\xfe\xff"))
write("npy", "v2_empty.npy", npy("<f4", [0, 3], b"", version=2))
write("npy", "v3_rank3.npy", npy("<f4", [1, 2, 1], f32(7, 8), version=3))
write("npy", "fortran.npy", npy("<f4", [2, 2], f32(1, 2, 3, 4), fortran=True))
write("npy", "big_endian.npy", npy(">f4", [1], b"\x3f\x80\x00\x00"))
write("npy", "truncated.npy", npy("<f4", [4], f32(1, 2, 3)))
write("npy", "python2.npy", npy("<f4", [1], f32(1), header="{'descr':'<f4','fortran_order':False,'shape':(1L,)}"))

# ---------------------------------------------------------------- images in simple formats
# 5 x 3 pixels, v = 40x + 70y; OpenCV decodes every one of these.
W, H = 5, 3
pix = [[((40 * x + 70 * y) % 256, (90 * x) % 256, (200 - 30 * y) % 256) for x in range(W)] for y in range(H)]

rows = b"".join(bytes(c for p in row for c in p[::-1]) + b"\x00" * ((-3 * W) % 4) for row in reversed(pix))
write("image", "rgb24.bmp", b"BM" + struct.pack("<IHHI", 54 + len(rows), 0, 0, 54)
      + struct.pack("<IiiHHIIiiII", 40, W, H, 1, 24, 0, len(rows), 2835, 2835, 0, 0) + rows)
# 8-bit BMP, RLE8 (bottom row first): runs, an absolute run (padded to 16 bits), ends of line, end of bitmap.
rle = (b"\x03\x01\x02\x02\x00\x00" + b"\x00\x03\x00\x01\x02\x00\x02\x03\x00\x00" + b"\x05\x02\x00\x01")
palette = b"\xff\x00\x00\x00\x00\xff\x00\x00\x00\x00\xff\x00\x80\x80\x80\x00"
write("image", "rle8.bmp", b"BM" + struct.pack("<IHHI", 54 + 16 + len(rle), 0, 0, 54 + 16)
      + struct.pack("<IiiHHIIiiII", 40, W, H, 1, 8, 1, len(rle), 2835, 2835, 4, 4) + palette + rle)
write("image", "rgb.ppm", b"P6\n# fuzz seed\n%d %d\n255\n" % (W, H) + bytes(c for row in pix for p in row for c in p))
write("image", "gray16.pgm", b"P5 %d %d 65535\n" % (W, H)
      + b"".join(struct.pack(">H", p[0] * 257) for row in pix for p in row))
write("image", "ascii.pbm", b"P1\n%d %d\n" % (W, H) + b"\n".join(b" ".join(b"1" if p[0] > 100 else b"0" for p in row)
                                                                 for row in pix) + b"\n")
write("image", "rgba.pam", b"P7\nWIDTH %d\nHEIGHT %d\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n" % (W, H)
      + bytes(c for row in pix for p in row for c in p + (200,)))
# Sun raster, 24-bit, no compression (rows padded to 16 bits).
ras_rows = b"".join(bytes(c for p in row for c in p[::-1]) + b"\x00" * ((3 * W) % 2) for row in pix)
write("image", "rgb.ras", struct.pack(">8I", 0x59A66A95, W, H, 24, len(ras_rows), 1, 0, 0) + ras_rows)
write("image", "gray.pfm", b"Pf\n%d %d\n-1.0\n" % (W, H)
      + b"".join(struct.pack("<f", p[0] / 255) for row in reversed(pix) for p in row))
# Baseline TIFF, 8-bit RGB, uncompressed, one strip: header, IFD, BitsPerSample values, pixels.
tiff_data = bytes(c for row in pix for p in row for c in p)
ifd_size = 2 + 9 * 12 + 4
bps_offset = 8 + ifd_size
strip_offset = bps_offset + 6
entries = [(256, 3, 1, W), (257, 3, 1, H), (258, 3, 3, bps_offset), (259, 3, 1, 1), (262, 3, 1, 2),
           (273, 4, 1, strip_offset), (277, 3, 1, 3), (278, 3, 1, H), (279, 4, 1, len(tiff_data))]
ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + b"\x00" * 4
write("image", "rgb.tif", b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<3H", 8, 8, 8) + tiff_data)


def png(width, height, bit_depth, color_type, raw, interlace=0, extra=b""):
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def adam7(rows_of_pixels, bytes_per_pixel):
    """The filtered (filter 0) scanlines of an Adam7-interlaced image, pass by pass."""
    height, width = len(rows_of_pixels), len(rows_of_pixels[0]) // bytes_per_pixel
    out = b""
    for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
                           (0, 1, 1, 2)]:
        for y in range(y0, height, dy):
            xs = range(x0, width, dx)
            if xs:
                row = rows_of_pixels[y]
                out += b"\x00" + b"".join(row[x * bytes_per_pixel:(x + 1) * bytes_per_pixel] for x in xs)
    return out


rgba_rows = [bytes(c for x in range(W) for c in pix[y][x] + (255 - 50 * x,)) for y in range(H)]
write("image", "rgba.png", png(W, H, 8, 6, b"".join(b"\x00" + r for r in rgba_rows)))
write("image", "rgba_interlaced.png", png(W, H, 8, 6, adam7(rgba_rows, 4), interlace=1))
