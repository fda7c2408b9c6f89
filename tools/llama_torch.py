"""llama_torch.py - the llama transformer both of octet's PyTorch models are made of.

RMSNorm, RoPE with HF's rotate_half pairing (x_i, x_{i+d/2}), grouped-query
attention, SwiGLU MLP, under HF LlamaModel's parameter names (model.*), so a
state dict loads there unchanged. tools/train/model.py makes the embedded
model of it (causal attention, tied LM head) and tools/encoder/model.py the
retrieval encoder (attention over the whole text, mean pooling); their
export.py permute Q/K the way llama.cpp's converter does so that GGUF's
adjacent-pair RoPE computes the same function.
"""

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    """The shape; each model's Config subclass gives its own defaults."""
    vocab: int
    d: int
    n_layer: int
    n_head: int
    n_kv: int
    ffn: int
    ctx: int
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
    """cos/sin tables (n, head_dim), computed in float64, HF layout (frequencies repeated twice)."""
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64, device=device) / head_dim))
    f = torch.outer(torch.arange(n, dtype=torch.float64, device=device), inv)
    emb = torch.cat([f, f], dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class Attention(nn.Module):
    def __init__(self, c, causal):
        super().__init__()
        self.c = c
        self.causal = causal
        hd = c.head_dim
        self.q_proj = nn.Linear(c.d, c.n_head * hd, bias=False)
        self.k_proj = nn.Linear(c.d, c.n_kv * hd, bias=False)
        self.v_proj = nn.Linear(c.d, c.n_kv * hd, bias=False)
        self.o_proj = nn.Linear(c.n_head * hd, c.d, bias=False)

    def forward(self, x, cos, sin, mask):
        c = self.c
        B, T, _ = x.shape
        hd = c.head_dim
        q = self.q_proj(x).view(B, T, c.n_head, hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, c.n_kv, hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, c.n_kv, hd).transpose(1, 2)
        rd = cos.dtype  # RoPE in the tables' precision (float32 under autocast)
        q = (q.to(rd) * cos + rotate_half(q.to(rd)) * sin).to(v.dtype)
        k = (k.to(rd) * cos + rotate_half(k.to(rd)) * sin).to(v.dtype)
        rep = c.n_head // c.n_kv
        k = k.repeat_interleave(rep, dim=1)  # query head h reads KV head h // rep, as HF and llama.cpp do
        v = v.repeat_interleave(rep, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=self.causal)
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
    def __init__(self, c, causal):
        super().__init__()
        self.input_layernorm = RMSNorm(c.d, c.eps)
        self.self_attn = Attention(c, causal)
        self.post_attention_layernorm = RMSNorm(c.d, c.eps)
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Transformer(nn.Module):
    """The token embedding, the blocks and the final norm (model.*). CAUSAL:
    a token attends to those before it; else to those hidden() is told."""

    def __init__(self, c, causal):
        super().__init__()
        self.c = c
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(c.vocab, c.d)
        self.model.layers = nn.ModuleList(Block(c, causal) for _ in range(c.n_layer))
        self.model.norm = RMSNorm(c.d, c.eps)

    def init_weights(self):
        """GPT-2's initialisation, the residual projections scaled down by depth; called by the
        subclass once all its modules exist, so that the random draws come in the same order."""
        std = 0.02
        for name, p in self.named_parameters():
            if p.dim() == 2:
                s = std / math.sqrt(2 * self.c.n_layer) if name.endswith(("o_proj.weight", "down_proj.weight")) else std
                nn.init.normal_(p, 0.0, s)

    def hidden(self, ids, mask=None):
        """The final norm's output (B, T, d) for IDS (B, T); MASK (bool, broadcast to (B, heads, T, T)):
        which tokens each one attends to, when not causal."""
        T = ids.shape[1]
        rope_dtype = torch.float64 if self.model.norm.weight.dtype == torch.float64 else torch.float32
        cos, sin = rope_cos_sin(T, self.c.head_dim, self.c.theta, ids.device, rope_dtype)
        x = self.model.embed_tokens(ids)
        for blk in self.model.layers:
            x = blk(x, cos, sin, mask)
        return self.model.norm(x)

    def n_params(self):
        return sum(p.numel() for p in self.parameters())  # tied weights are counted once
