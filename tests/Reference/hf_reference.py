#!/usr/bin/env python3
"""Independent reference forward pass of a Llama / Qwen2 checkpoint in the Hugging Face layout.

Written from the math of transformers' modeling_llama.py and modeling_qwen2.py (not from the C# code it checks):
RMSNorm, rotary embeddings with the rotate-half convention (optionally linear or llama3 frequency scaling),
grouped-query attention with a causal mask, SwiGLU MLP, q/k/v biases for Qwen2, tied or untied output head.
It reads config.json and the safetensors weights (one file or shards listed by model.safetensors.index.json)
with its own parser, computes in float64, and needs only PyTorch (Debian: apt-get install python3-torch).

Usage: hf_reference.py MODEL_DIR INPUT_JSON OUTPUT_JSON
  INPUT_JSON:  {"rows": [[token ids], ...]}  (rows may differ in length; each is run on its own, positions 0..n-1)
  OUTPUT_JSON: {"logits": [[[V floats] per position] per row], "torch": version}
"""
import json
import math
import os
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = bytearray(data[base + begin:base + end])
        t = torch.frombuffer(raw, dtype=DTYPES[entry["dtype"]]) if raw else torch.empty(0, dtype=DTYPES[entry["dtype"]])
        tensors[name] = t.reshape(entry["shape"]).to(torch.float64)
    return tensors


def read_weights(model_dir):
    single = os.path.join(model_dir, "model.safetensors")
    if os.path.exists(single):
        return read_safetensors(single)
    with open(os.path.join(model_dir, "model.safetensors.index.json")) as f:
        weight_map = json.load(f)["weight_map"]
    tensors = {}
    for file in sorted(set(weight_map.values())):
        tensors.update(read_safetensors(os.path.join(model_dir, file)))
    return tensors


def inverse_frequencies(cfg, head_dim):
    theta = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    scaling = cfg.get("rope_scaling")
    if scaling:
        kind = scaling.get("rope_type", scaling.get("type"))
        factor = scaling["factor"]
        if kind == "linear":
            inv = inv / factor
        elif kind == "llama3":
            low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
            old = scaling["original_max_position_embeddings"]
            out = []
            for f in inv.tolist():
                wavelen = 2 * math.pi / f
                if wavelen < old / high:
                    out.append(f)  # high frequency: unchanged
                elif wavelen > old / low:
                    out.append(f / factor)  # low frequency: scaled
                else:
                    smooth = (old / wavelen - low) / (high - low)
                    out.append((1 - smooth) * f / factor + smooth * f)
            inv = torch.tensor(out, dtype=torch.float64)
        elif kind != "default":
            raise SystemExit(f"rope_scaling {kind} is not implemented in the reference")
    return inv


def rms_norm(x, weight, eps):
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def linear(x, w, b=None):
    y = x @ w.T
    return y if b is None else y + b


def forward(cfg, w, ids):
    hidden = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    kv_heads = cfg.get("num_key_value_heads", heads)
    head_dim = cfg.get("head_dim") or hidden // heads
    eps = cfg.get("rms_norm_eps", 1e-6)
    n = len(ids)

    x = w["model.embed_tokens.weight"][torch.tensor(ids)]  # n, hidden
    inv = inverse_frequencies(cfg, head_dim)
    angles = torch.arange(n, dtype=torch.float64)[:, None] * inv[None, :]
    emb = torch.cat((angles, angles), dim=-1)  # n, head_dim
    cos, sin = emb.cos(), emb.sin()
    causal = torch.full((n, n), float("-inf"), dtype=torch.float64).triu(1)

    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = linear(h, w[p + "self_attn.q_proj.weight"], w.get(p + "self_attn.q_proj.bias"))
        k = linear(h, w[p + "self_attn.k_proj.weight"], w.get(p + "self_attn.k_proj.bias"))
        v = linear(h, w[p + "self_attn.v_proj.weight"], w.get(p + "self_attn.v_proj.bias"))
        q = q.view(n, heads, head_dim).transpose(0, 1)  # heads, n, d
        k = k.view(n, kv_heads, head_dim).transpose(0, 1)
        v = v.view(n, kv_heads, head_dim).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        group = heads // kv_heads
        k = k.repeat_interleave(group, dim=0)  # query head i uses key/value head i // group
        v = v.repeat_interleave(group, dim=0)
        scores = q @ k.transpose(1, 2) / math.sqrt(head_dim) + causal
        attn = torch.softmax(scores, dim=-1) @ v  # heads, n, d
        attn = attn.transpose(0, 1).reshape(n, heads * head_dim)
        x = x + linear(attn, w[p + "self_attn.o_proj.weight"], w.get(p + "self_attn.o_proj.bias"))
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = linear(h, w[p + "mlp.gate_proj.weight"], w.get(p + "mlp.gate_proj.bias"))
        up = linear(h, w[p + "mlp.up_proj.weight"], w.get(p + "mlp.up_proj.bias"))
        mlp = gate * torch.sigmoid(gate) * up  # silu(gate) * up
        x = x + linear(mlp, w[p + "mlp.down_proj.weight"], w.get(p + "mlp.down_proj.bias"))

    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return x @ head.T


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    model_dir, input_path, output_path = sys.argv[1:]
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("model_type") not in ("llama", "qwen2"):
        raise SystemExit(f"model_type {cfg.get('model_type')} is not llama or qwen2")
    if cfg.get("hidden_act", "silu") != "silu":
        raise SystemExit("only silu is implemented")
    weights = read_weights(model_dir)
    with open(input_path) as f:
        rows = json.load(f)["rows"]
    with torch.no_grad():
        logits = [forward(cfg, weights, row).tolist() for row in rows]
    with open(output_path, "w") as f:
        json.dump({"logits": logits, "torch": torch.__version__}, f)


if __name__ == "__main__":
    main()
