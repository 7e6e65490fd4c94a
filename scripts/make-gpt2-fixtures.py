#!/usr/bin/python3
"""PyTorch golden fixture for the GPT-2 engine (the sibling of make-golden-fixtures.py).

Hugging Face's GPT2LMHeadModel forward written out in plain torch (Conv1D as x @ W + b with W [in, out],
fused c_attn split into q/k/v, causal eager attention scaled by 1/sqrt(head_dim), gelu_new, LayerNorm
with bias, learned positions, head tied to wte), with PEFT's LoRA on c_attn, c_proj and c_fc
(fan_in_fan_out=True: lora_A [r, in], lora_B [out, r], delta = (x @ A.T) @ B.T * alpha / r), B non-zero,
in float64. Writes src/model/fixtures/golden/gpt2.safetensors: weights (f32, Hub names), LoRA A/B under
PEFT keys, input ids, aligned labels (-100 ignored), logits, the loss and every LoRA gradient.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/make-gpt2-fixtures.py
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from importlib import import_module  # noqa: E402

write_safetensors = import_module('make-golden-fixtures').write_safetensors

OUT = os.path.join(os.path.dirname(__file__), '..', 'src', 'model', 'fixtures', 'golden')
CFG = dict(architectures=['GPT2LMHeadModel'], model_type='gpt2', vocab_size=32, n_embd=16, n_head=4, n_layer=2,
           n_positions=32, n_inner=None, layer_norm_epsilon=1e-5, activation_function='gelu_new',
           bos_token_id=0, eos_token_id=0)
LORA_R, LORA_ALPHA = 4, 8
TARGETS = ['c_attn', 'c_proj', 'c_fc']
B, T = 2, 9


def modules():
    d = CFG['n_embd']
    m = 4 * d
    return {'attn.c_attn': (d, 3 * d), 'attn.c_proj': (d, d), 'mlp.c_fc': (d, m), 'mlp.c_proj': (m, d)}


def make_weights(gen):
    d, v = CFG['n_embd'], CFG['vocab_size']
    w = {'transformer.wte.weight': torch.randn(v, d, generator=gen) * 0.5,
         'transformer.wpe.weight': torch.randn(CFG['n_positions'], d, generator=gen) * 0.2}
    for l in range(CFG['n_layer']):
        p = f'transformer.h.{l}'
        for ln in ('ln_1', 'ln_2'):
            w[f'{p}.{ln}.weight'] = 1 + 0.2 * torch.randn(d, generator=gen)
            w[f'{p}.{ln}.bias'] = 0.1 * torch.randn(d, generator=gen)
        for name, (i, o) in modules().items():
            w[f'{p}.{name}.weight'] = torch.randn(i, o, generator=gen) / math.sqrt(i)  # Conv1D: [in, out]
            w[f'{p}.{name}.bias'] = 0.1 * torch.randn(o, generator=gen)
    w['transformer.ln_f.weight'] = 1 + 0.2 * torch.randn(d, generator=gen)
    w['transformer.ln_f.bias'] = 0.1 * torch.randn(d, generator=gen)
    return {k: t.float().double() for k, t in w.items()}


def make_lora(gen):
    lora = {}
    for l in range(CFG['n_layer']):
        for name, (i, o) in modules().items():
            bound = 1 / math.sqrt(i)
            a = (torch.rand(LORA_R, i, generator=gen) * 2 - 1) * bound
            b = torch.randn(o, LORA_R, generator=gen) * 0.3
            lora[f'transformer.h.{l}.{name}'] = (a.float().double(), b.float().double())
    return lora


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def forward(w, lora, ids, scaling):
    d, nh, eps = CFG['n_embd'], CFG['n_head'], CFG['layer_norm_epsilon']
    hd = d // nh
    bsz, t = ids.shape

    def conv1d(x, path):
        y = x @ w[f'{path}.weight'] + w[f'{path}.bias']
        if lora is not None and path in lora:
            a, b = lora[path]
            y = y + (x @ a.T) @ b.T * scaling
        return y

    def ln(x, name):
        return torch.nn.functional.layer_norm(x, (d,), w[f'{name}.weight'], w[f'{name}.bias'], eps)

    mask = torch.full((t, t), float('-inf'), dtype=torch.float64).triu(1)
    x = w['transformer.wte.weight'][ids] + w['transformer.wpe.weight'][torch.arange(t)][None]
    for l in range(CFG['n_layer']):
        p = f'transformer.h.{l}'
        qkv = conv1d(ln(x, f'{p}.ln_1'), f'{p}.attn.c_attn')
        q, k, v = (z.view(bsz, t, nh, hd).transpose(1, 2) for z in qkv.split(d, dim=2))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, dim=-1) @ v
        x = x + conv1d(att.transpose(1, 2).reshape(bsz, t, d), f'{p}.attn.c_proj')
        x = x + conv1d(gelu_new(conv1d(ln(x, f'{p}.ln_2'), f'{p}.mlp.c_fc')), f'{p}.mlp.c_proj')
    return ln(x, 'transformer.ln_f') @ w['transformer.wte.weight'].T


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    gen = torch.Generator().manual_seed(2024)
    w = make_weights(gen)
    lora = make_lora(gen)
    ids = torch.randint(0, CFG['vocab_size'], (B, T), generator=gen)
    labels = torch.roll(ids, -1, dims=1)
    labels[:, -1] = -100
    labels[0, 3] = -100
    scaling = LORA_ALPHA / LORA_R
    la = {k: (a.clone().requires_grad_(), b.clone().requires_grad_()) for k, (a, b) in lora.items()}
    logits = forward(w, la, ids, scaling)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                             ignore_index=-100)
    loss.backward()
    tensors = {k: t.float() for k, t in w.items()}
    for path, (a, b) in la.items():
        tensors[f'base_model.model.{path}.lora_A.weight'] = a.detach().float()
        tensors[f'base_model.model.{path}.lora_B.weight'] = b.detach().float()
        tensors[f'grad.base_model.model.{path}.lora_A.weight'] = a.grad.float()
        tensors[f'grad.base_model.model.{path}.lora_B.weight'] = b.grad.float()
    tensors['input_ids'] = ids.int()
    tensors['labels'] = labels.int()
    tensors['logits'] = logits.detach().float()
    meta = {
        'config': json.dumps(CFG),
        'loss': repr(loss.item()),
        'lora': json.dumps({'r': LORA_R, 'lora_alpha': LORA_ALPHA, 'target_modules': TARGETS, 'lora_dropout': 0,
                            'fan_in_fan_out': True}),
        'torch_version': torch.__version__,
    }
    path = os.path.join(OUT, 'gpt2.safetensors')
    write_safetensors(path, tensors, meta)
    print(f'{path}: loss {loss.item():.6f}, {len(tensors)} tensors, {os.path.getsize(path)} bytes')


if __name__ == '__main__':
    main()
