#!/usr/bin/env python3
"""check_ref_hf.py - cross-check the tiny-model fixtures against Hugging Face transformers.

For each tests/fixtures/tiny/NAME.gguf this loads the file with transformers'
own GGUF loader (its de-permutation of llama Q/K, its RoPE, attention, GQA and
tied-embedding code), runs the fixture's ids in float64 and compares the logits
with NAME.ref.bin from tools/ref_forward.py. It validates the generator's
conversion and the numpy reference together, independently of octet's code.
Needs torch, transformers and the gguf package (not part of `make test`).
On a machine without network access, install gguf beside the repository
first, e.g. `pip install --target .whl/chat gguf pyyaml tqdm` here, then run
there with PYTHONPATH=.whl/chat:

  python3 tools/check_ref_hf.py [tests/fixtures/tiny]

Prints one line per model and exits 1 when a model differs by more than 1e-5
relative to the largest logit. (transformers computes RMSNorm and the RoPE
angles in float32 even in a float64 model, so agreement is ~1e-7, not 1e-15;
a wrong permutation, RoPE pairing, GQA mapping or scaling shows as O(1).)
"""

import sys
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gguf_writer import GGUFReader  # noqa: E402
from ref_forward import read_ref  # noqa: E402


def hf_model(path):
    kv = GGUFReader(str(path)).kv
    arch = kv["general.architecture"]
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float64,
                                                 attn_implementation="eager")
    scaling = kv.get(f"{arch}.rope.scaling.type")
    if scaling == "linear":
        # transformers' GGUF loader does not map rope.scaling.*: set it and rebuild the model
        cfg = model.config
        factor = float(kv[f"{arch}.rope.scaling.factor"])
        if getattr(cfg, "rope_parameters", None) is not None:
            cfg.rope_parameters = dict(cfg.rope_parameters, rope_type="linear", factor=factor)
        else:
            cfg.rope_scaling = {"type": "linear", "rope_type": "linear", "factor": factor}
        state = model.state_dict()
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float64, attn_implementation="eager")
        model.load_state_dict(state)
    return model.eval()


def main():
    d = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/tiny")
    bad = 0
    for g in sorted(d.glob("*.gguf")):
        ids, ref = read_ref(g.with_suffix(".ref.bin"))
        with torch.no_grad():
            out = hf_model(g)(torch.tensor(ids.astype(np.int64))[None]).logits[0].double().numpy()
        if out.shape != ref.shape:
            print(f"{g.name}: shape {out.shape} != reference {ref.shape}")
            bad += 1
            continue
        err = np.abs(out - ref).max() / np.abs(ref).max()
        top1 = (out.argmax(1) == ref.argmax(1)).mean()
        ok = err <= 1e-5
        bad += not ok
        print(f"{g.name}: max |hf - ref| / max |ref| = {err:.3g}, top-1 agreement {top1:.3f} {'ok' if ok else 'FAIL'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
