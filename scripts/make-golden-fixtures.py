#!/usr/bin/python3
"""PyTorch golden fixtures for the Llama-family engine (llm.c's test_gpt2 pattern).

A second implementation we did not write: the Hugging Face modeling code's forward (LlamaForCausalLM,
Qwen2ForCausalLM, Qwen3ForCausalLM) written out in plain torch, with PEFT's LoRA on every linear
(B non-zero), in float64. For each tiny config it writes src/model/fixtures/golden/<name>.safetensors
holding the weights (f32), LoRA A/B, input ids, aligned labels (-100 ignored), logits, the loss, every
LoRA gradient, and in its metadata the losses of 10 torch.optim.AdamW steps (LoRA mode and full mode,
with clip_grad_norm_). CI reads the committed files; it never needs torch.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/make-golden-fixtures.py
"""
import json
import math
import os
import struct

import torch

OUT = os.path.join(os.path.dirname(__file__), '..', 'src', 'model', 'fixtures', 'golden')

BASE = dict(vocab_size=32, hidden_size=16, intermediate_size=24, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=10000.0, max_position_embeddings=64,
            hidden_act='silu')
CONFIGS = {
    'llama': dict(BASE, architectures=['LlamaForCausalLM'], model_type='llama', tie_word_embeddings=False),
    'qwen2': dict(BASE, architectures=['Qwen2ForCausalLM'], model_type='qwen2', tie_word_embeddings=True),
    'qwen3': dict(BASE, architectures=['Qwen3ForCausalLM'], model_type='qwen3', head_dim=8, num_key_value_heads=1,
                  tie_word_embeddings=False),
}
LORA_R, LORA_ALPHA = 4, 8
TARGETS = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj',
           'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']
ADAMW = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
MAX_NORM = 1.0
B, T = 2, 9


def shapes(cfg):
    d, m = cfg['hidden_size'], cfg['intermediate_size']
    hd = cfg.get('head_dim', d // cfg['num_attention_heads'])
    q, kv = cfg['num_attention_heads'] * hd, cfg['num_key_value_heads'] * hd
    return dict(hd=hd, linears={'self_attn.q_proj': (q, d), 'self_attn.k_proj': (kv, d), 'self_attn.v_proj': (kv, d),
                                'self_attn.o_proj': (d, q), 'mlp.gate_proj': (m, d), 'mlp.up_proj': (m, d),
                                'mlp.down_proj': (d, m)})


def make_weights(cfg, gen):
    s = shapes(cfg)
    d, v = cfg['hidden_size'], cfg['vocab_size']
    qwen2 = cfg['model_type'] == 'qwen2'
    w = {'model.embed_tokens.weight': torch.randn(v, d, generator=gen) * 0.5}
    for l in range(cfg['num_hidden_layers']):
        p = f'model.layers.{l}'
        w[f'{p}.input_layernorm.weight'] = 1 + 0.2 * torch.randn(d, generator=gen)
        w[f'{p}.post_attention_layernorm.weight'] = 1 + 0.2 * torch.randn(d, generator=gen)
        for name, (o, i) in s['linears'].items():
            w[f'{p}.{name}.weight'] = torch.randn(o, i, generator=gen) / math.sqrt(i)
            if qwen2 and name in ('self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj'):
                w[f'{p}.{name}.bias'] = 0.1 * torch.randn(o, generator=gen)
        if cfg['model_type'] == 'qwen3':
            w[f'{p}.self_attn.q_norm.weight'] = 1 + 0.2 * torch.randn(s['hd'], generator=gen)
            w[f'{p}.self_attn.k_norm.weight'] = 1 + 0.2 * torch.randn(s['hd'], generator=gen)
    w['model.norm.weight'] = 1 + 0.2 * torch.randn(d, generator=gen)
    if not cfg['tie_word_embeddings']:
        w['lm_head.weight'] = torch.randn(v, d, generator=gen) / math.sqrt(d)
    # Stored as float32; computed in float64 from exactly those values.
    return {k: t.float().double() for k, t in w.items()}


def make_lora(cfg, gen):
    s = shapes(cfg)
    lora = {}
    for l in range(cfg['num_hidden_layers']):
        for name, (o, i) in s['linears'].items():
            path = f'model.layers.{l}.{name}'
            bound = 1 / math.sqrt(i)  # kaiming_uniform(a=sqrt(5)) on A [r, in]
            a = (torch.rand(LORA_R, i, generator=gen) * 2 - 1) * bound
            b = torch.randn(o, LORA_R, generator=gen) * 0.3  # non-zero, as after some training
            lora[path] = (a.float().double(), b.float().double())
    return lora


def rms_norm(x, w, eps):
    x32 = x
    var = x32.pow(2).mean(-1, keepdim=True)
    return w * (x32 * torch.rsqrt(var + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(cfg, w, lora, ids, scaling):
    """HF LlamaForCausalLM / Qwen2 / Qwen3 forward (eager attention), PEFT LoRA with dropout 0."""
    s = shapes(cfg)
    hd, nh, nkv, eps = s['hd'], cfg['num_attention_heads'], cfg['num_key_value_heads'], cfg['rms_norm_eps']
    bsz, t = ids.shape

    def linear(x, path):
        y = x @ w[f'{path}.weight'].T
        if f'{path}.bias' in w:
            y = y + w[f'{path}.bias']
        if lora is not None and path in lora:
            a, b = lora[path]
            y = y + (x @ a.T) @ b.T * scaling
        return y

    # HF computes the rotary angle in float32: inv_freq (float32) times the float positions.
    inv_freq = 1.0 / (cfg['rope_theta'] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    pos = torch.arange(t).float()
    freqs = (pos[:, None] * inv_freq[None, :]).double()
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[None, None], emb.sin()[None, None]
    mask = torch.full((t, t), float('-inf'), dtype=torch.float64).triu(1)

    x = w['model.embed_tokens.weight'][ids]
    for l in range(cfg['num_hidden_layers']):
        p = f'model.layers.{l}'
        h = rms_norm(x, w[f'{p}.input_layernorm.weight'], eps)
        q = linear(h, f'{p}.self_attn.q_proj').view(bsz, t, nh, hd)
        k = linear(h, f'{p}.self_attn.k_proj').view(bsz, t, nkv, hd)
        v = linear(h, f'{p}.self_attn.v_proj').view(bsz, t, nkv, hd)
        if cfg['model_type'] == 'qwen3':
            q = rms_norm(q, w[f'{p}.self_attn.q_norm.weight'], eps)
            k = rms_norm(k, w[f'{p}.self_attn.k_norm.weight'], eps)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = nh // nkv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        scores = q @ k.transpose(2, 3) / math.sqrt(hd) + mask
        att = torch.softmax(scores, dim=-1) @ v
        att = att.transpose(1, 2).reshape(bsz, t, nh * hd)
        x = x + linear(att, f'{p}.self_attn.o_proj')
        h2 = rms_norm(x, w[f'{p}.post_attention_layernorm.weight'], eps)
        g = linear(h2, f'{p}.mlp.gate_proj')
        u = linear(h2, f'{p}.mlp.up_proj')
        x = x + linear(torch.nn.functional.silu(g) * u, f'{p}.mlp.down_proj')
    x = rms_norm(x, w['model.norm.weight'], eps)
    head = w['model.embed_tokens.weight'] if cfg['tie_word_embeddings'] else w['lm_head.weight']
    return x @ head.T


def loss_of(logits, labels):
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                             ignore_index=-100)


def train_losses(cfg, w, lora, ids, labels, scaling, mode):
    """Losses of 10 AdamW steps (loss before each update), with clip_grad_norm_."""
    if mode == 'lora':
        lora = {k: (a.clone().requires_grad_(), b.clone().requires_grad_()) for k, (a, b) in lora.items()}
        params = [t for pair in lora.values() for t in pair]
    else:
        w = {k: t.clone().requires_grad_() for k, t in w.items()}
        lora = None
        params = list(w.values())
    opt = torch.optim.AdamW(params, **ADAMW)
    losses = []
    for _ in range(10):
        opt.zero_grad()
        loss = loss_of(forward(cfg, w, lora, ids, scaling), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, MAX_NORM)
        opt.step()
        losses.append(loss.item())
    return losses


def write_safetensors(path, tensors, metadata):
    """The safetensors layout: u64 header length, JSON header, then the data (written by hand: no deps)."""
    header, blobs, offset = {'__metadata__': metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        dtype = {torch.float32: 'F32', torch.int32: 'I32'}[t.dtype]
        data = t.contiguous().numpy().tobytes()
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(',', ':')).encode()
    raw += b' ' * ((8 - len(raw) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(raw)))
        f.write(raw)
        for blob in blobs:
            f.write(blob)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    for n, (name, cfg) in enumerate(CONFIGS.items()):
        gen = torch.Generator().manual_seed(1234 + n)
        w = make_weights(cfg, gen)
        lora = make_lora(cfg, gen)
        ids = torch.randint(0, cfg['vocab_size'], (B, T), generator=gen)
        labels = torch.roll(ids, -1, dims=1)  # next-token targets, aligned with positions
        labels[:, -1] = -100
        labels[0, 3] = -100
        scaling = LORA_ALPHA / LORA_R
        la = {k: (a.clone().requires_grad_(), b.clone().requires_grad_()) for k, (a, b) in lora.items()}
        logits = forward(cfg, w, la, ids, scaling)
        loss = loss_of(logits, labels)
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
            'config': json.dumps(cfg),
            'loss': repr(loss.item()),
            'lora': json.dumps({'r': LORA_R, 'lora_alpha': LORA_ALPHA, 'target_modules': TARGETS, 'lora_dropout': 0}),
            'adamw': json.dumps({'lr': ADAMW['lr'], 'betas': ADAMW['betas'], 'eps': ADAMW['eps'],
                                 'weight_decay': ADAMW['weight_decay'], 'max_grad_norm': MAX_NORM}),
            'adamw_losses_lora': json.dumps(train_losses(cfg, w, lora, ids, labels, scaling, 'lora')),
            'adamw_losses_full': json.dumps(train_losses(cfg, w, lora, ids, labels, scaling, 'full')),
            'torch_version': torch.__version__,
        }
        path = os.path.join(OUT, f'{name}.safetensors')
        write_safetensors(path, tensors, meta)
        print(f'{path}: loss {loss.item():.6f}, {len(tensors)} tensors, {os.path.getsize(path)} bytes')


if __name__ == '__main__':
    main()
