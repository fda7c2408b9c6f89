"""model.py - octet's retrieval encoder in PyTorch.

A llama-style transformer (RMSNorm, RoPE with HF's rotate_half pairing,
grouped-query attention, SwiGLU; HF LlamaModel parameter names) whose
attention is NOT causal: every token sees every token of its sequence (padding
excluded). The embedding of a text is the mean over its tokens of the final
RMSNorm's output, L2-normalised. export.py writes it as a GGUF of arch llama,
Q/K rows permuted to GGUF's adjacent-pair RoPE, plus octet.encoder.* keys.
"""

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab: int = 8192
    d: int = 256
    n_layer: int = 5
    n_head: int = 4
    n_kv: int = 2
    ffn: int = 512
    ctx: int = 256
    eps: float = 1e-5
    theta: float = 10000.0

    @property
    def head_dim(self):
        return self.d // self.n_head

    def as_dict(self):
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        dt = x.dtype
        xf = x.float() if dt in (torch.float16, torch.bfloat16) else x
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * xf.to(dt)


def rope_cos_sin(n, head_dim, theta, device, dtype):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64, device=device) / head_dim))
    f = torch.outer(torch.arange(n, dtype=torch.float64, device=device), inv)
    emb = torch.cat([f, f], dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        hd = c.head_dim
        self.q_proj = nn.Linear(c.d, c.n_head * hd, bias=False)
        self.k_proj = nn.Linear(c.d, c.n_kv * hd, bias=False)
        self.v_proj = nn.Linear(c.d, c.n_kv * hd, bias=False)
        self.o_proj = nn.Linear(c.n_head * hd, c.d, bias=False)

    def forward(self, x, cos, sin, keymask):
        c = self.c
        B, T, _ = x.shape
        hd = c.head_dim
        q = self.q_proj(x).view(B, T, c.n_head, hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, c.n_kv, hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, c.n_kv, hd).transpose(1, 2)
        rd = cos.dtype
        q = (q.to(rd) * cos + rotate_half(q.to(rd)) * sin).to(v.dtype)
        k = (k.to(rd) * cos + rotate_half(k.to(rd)) * sin).to(v.dtype)
        rep = c.n_head // c.n_kv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=keymask)  # non-causal
        return self.o_proj(y.transpose(1, 2).reshape(B, T, c.n_head * hd))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c.d, c.ffn, bias=False)
        self.up_proj = nn.Linear(c.d, c.ffn, bias=False)
        self.down_proj = nn.Linear(c.ffn, c.d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c.d, c.eps)
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c.d, c.eps)
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, keymask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, keymask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(c.vocab, c.d)
        self.model.layers = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.model.norm = RMSNorm(c.d, c.eps)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                s = 0.02 / math.sqrt(2 * c.n_layer) if name.endswith(("o_proj.weight", "down_proj.weight")) else 0.02
                nn.init.normal_(p, 0.0, s)

    def forward(self, ids, lens):
        """ids (B, T) int64, lens (B,): L2-normalised mean-pooled embeddings (B, d), float32."""
        B, T = ids.shape
        valid = torch.arange(T, device=ids.device)[None, :] < lens[:, None]
        keymask = valid[:, None, None, :]
        rope_dtype = torch.float64 if self.model.norm.weight.dtype == torch.float64 else torch.float32
        cos, sin = rope_cos_sin(T, self.c.head_dim, self.c.theta, ids.device, rope_dtype)
        x = self.model.embed_tokens(ids)
        for blk in self.model.layers:
            x = blk(x, cos, sin, keymask)
        h = self.model.norm(x)
        m = valid.to(h.dtype)[..., None]
        pooled = (h * m).sum(1) / lens[:, None].to(h.dtype)
        pooled = pooled.float() if pooled.dtype != torch.float64 else pooled
        return F.normalize(pooled, dim=-1)

    def n_params(self):
        return sum(p.numel() for p in self.parameters())
