"""A decoder-only transformer (Qwen2 / Llama family) in plain torch.

Parameter names follow HF's ``Qwen2ForCausalLM`` / ``LlamaForCausalLM`` exactly, so importing a
HF checkpoint is a rename-free copy and the parity test compares like with like. The forward pass
returns hidden states; the loss (``trainer.loss``) applies the LM head in chunks so the full
``[B, T, vocab]`` logits are never materialised during training.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from trainer.config import ModelConfig
from trainer.loss import chunked_cross_entropy

_HAS_ENABLE_GQA = "enable_gqa" in (F.scaled_dot_product_attention.__doc__ or "")


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * xf.to(dtype)


def rope_cos_sin(
    seq_len: int, head_dim: int, theta: float, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables ``[T, head_dim]`` in the rotate-half layout HF uses (computed in fp32)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    pos = torch.arange(seq_len, device=device, dtype=torch.float32)
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: ``[B, heads, T, head_dim]``."""
    return x * cos + _rotate_half(x) * sin


def grouped_query_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Causal attention with H query heads over G kv heads (H mod G == 0).

    Query head h reads kv head ``h // (H/G)``, i.e. each kv head is repeated H/G times
    *interleaved* (repeat_interleave), which is HF's ``repeat_kv`` convention.
    """
    n_heads, n_kv = q.shape[1], k.shape[1]
    if n_heads % n_kv:
        raise ValueError(f"query heads {n_heads} not divisible by kv heads {n_kv}")
    if n_heads != n_kv and _HAS_ENABLE_GQA and q.device.type == "cuda":
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    if n_heads != n_kv:
        rep = n_heads // n_kv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads, self.n_kv, self.head_dim = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        h = cfg.hidden_size
        self.q_proj = nn.Linear(h, self.n_heads * self.head_dim, bias=cfg.qkv_bias)
        self.k_proj = nn.Linear(h, self.n_kv * self.head_dim, bias=cfg.qkv_bias)
        self.v_proj = nn.Linear(h, self.n_kv * self.head_dim, bias=cfg.qkv_bias)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, h, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        out = grouped_query_attention(q, k, v)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.n_heads * self.head_dim))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)
        #: Recompute this layer's activations in the backward pass instead of keeping them.
        self.checkpointed = False

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        # The checkpoint sits inside forward so that ``layer.compile()`` traces it too (compile
        # wrapping checkpoint, the order torchtitan uses), and parameter names stay unchanged.
        if self.checkpointed and torch.is_grad_enabled():
            return checkpoint(self._block, x, cos, sin, use_reentrant=False)
        return self._block(x, cos, sin)

    def _block(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class DecoderBody(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class CausalLM(nn.Module):
    """Decoder-only causal LM. ``forward`` gives final hidden states; ``loss`` the mean next-token CE."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = DecoderBody(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        self._cross_entropy = chunked_cross_entropy
        self.reset_parameters()

    def set_activation_checkpointing(self, enabled: bool) -> None:
        """Per decoder layer (non-reentrant ``torch.utils.checkpoint``): activation memory drops from
        O(layers) full layer activations to one layer's plus each layer's input, for one extra
        forward of every layer in the backward pass. Losses and gradients are unchanged."""
        for layer in self.model.layers:
            layer.checkpointed = enabled

    def compile_layers(self, *, include_loss: bool = False, **options: Any) -> None:
        """``torch.compile`` each decoder layer in place (one graph, reused by every layer).

        In place (``nn.Module.compile``) rather than ``torch.compile(model)``, so parameter and
        state-dict names stay those of HF and the ``.apr`` file, and DDP/FSDP wrap the same modules.
        The chunked LM-head loss stays eager unless ``include_loss``: it is a hand-written autograd
        function, one large matmul per chunk, and compiling it separately measured no faster on CPU
        (``benchmarks/bench_train.py`` variant ``apr-compile-loss`` measures it on a GPU).
        """
        for layer in self.model.layers:
            layer.compile(**options)
        if include_loss:
            self._cross_entropy = torch.compile(chunked_cross_entropy, **options)

    def reset_parameters(self, std: float = 0.02) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=std)
            elif isinstance(module, RMSNorm):
                nn.init.ones_(module.weight)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        t = input_ids.shape[1]
        if t > self.cfg.max_position_embeddings:
            raise ValueError(f"sequence length {t} > max_position_embeddings {self.cfg.max_position_embeddings}")
        x = self.model.embed_tokens(input_ids)
        cos, sin = rope_cos_sin(t, self.cfg.head_dim, self.cfg.rope_theta, x.device, x.dtype)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        return self.model.norm(x)

    def logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Full logits; for inference and parity checks only (materialises ``[B, T, vocab]``)."""
        return self.lm_head(self(input_ids)).float()

    def loss(self, input_ids: torch.Tensor, targets: torch.Tensor, chunk_tokens: int | None = None) -> torch.Tensor:
        hidden = self(input_ids)
        return self._cross_entropy(hidden, self.lm_head.weight, targets, chunk_tokens=chunk_tokens)

    def checkpoint_tensors(self) -> dict[str, torch.Tensor]:
        """The distinct tensors a checkpoint stores (a tied lm_head is not stored twice)."""
        sd = self.state_dict()
        if self.cfg.tie_word_embeddings:
            sd.pop("lm_head.weight", None)
        return sd

    def param_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

