"""model.py - the embedded model in PyTorch: a llama decoder in Hugging Face's layout.

The transformer of tools/llama_torch.py with causal attention and tied
input/output embeddings. Parameter names are HF LlamaForCausalLM's, so a
state dict loads there unchanged (train.py checks that both give the same
logits); export.py permutes Q/K the way llama.cpp's converter does so that
GGUF's adjacent-pair RoPE computes the same function.
"""

import os
import sys
from dataclasses import dataclass

import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import llama_torch  # noqa: E402


@dataclass
class Config(llama_torch.Config):
    vocab: int = 16384
    d: int = 384
    n_layer: int = 8
    n_head: int = 6
    n_kv: int = 2
    ffn: int = 1024
    ctx: int = 2048


class Llama(llama_torch.Transformer):
    def __init__(self, c):
        super().__init__(c, causal=True)
        self.lm_head = nn.Linear(c.d, c.vocab, bias=False)
        self.lm_head.weight = self.model.embed_tokens.weight  # tied
        self.init_weights()

    def forward(self, idx, targets=None):
        logits = self.lm_head(self.hidden(idx))
        if targets is None:
            return logits
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-1)
