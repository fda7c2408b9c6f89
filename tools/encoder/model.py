"""model.py - octet's retrieval encoder in PyTorch.

The llama-style transformer of tools/llama_torch.py (HF LlamaModel parameter
names) whose attention is NOT causal: every token sees every token of its
sequence (padding excluded). The embedding of a text is the mean over its
tokens of the final RMSNorm's output, L2-normalised. export.py writes it as a
GGUF of arch llama, Q/K rows permuted to GGUF's adjacent-pair RoPE, plus
octet.encoder.* keys.
"""

import os
import sys
from dataclasses import dataclass

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import llama_torch  # noqa: E402


@dataclass
class Config(llama_torch.Config):
    vocab: int = 8192
    d: int = 256
    n_layer: int = 5
    n_head: int = 4
    n_kv: int = 2
    ffn: int = 512
    ctx: int = 256


class Encoder(llama_torch.Transformer):
    def __init__(self, c):
        super().__init__(c, causal=False)
        self.init_weights()

    def forward(self, ids, lens):
        """ids (B, T) int64, lens (B,): L2-normalised mean-pooled embeddings (B, d), float32."""
        T = ids.shape[1]
        valid = torch.arange(T, device=ids.device)[None, :] < lens[:, None]
        h = self.hidden(ids, valid[:, None, None, :])
        m = valid.to(h.dtype)[..., None]
        pooled = (h * m).sum(1) / lens[:, None].to(h.dtype)
        pooled = pooled.float() if pooled.dtype != torch.float64 else pooled
        return F.normalize(pooled, dim=-1)
