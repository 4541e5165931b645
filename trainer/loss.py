"""Chunked (fused linear + cross-entropy) loss.

At vocab 151,936 the logits of one batch of 4x256 tokens are 622 MB in fp32, and autograd keeps
them plus their softmax for the backward pass. Here the LM head is applied ``chunk_tokens`` rows
at a time and, when gradients are needed, each chunk's gradient w.r.t. the hidden states and
the head weight is computed right away in the forward pass (the loss is the graph's final scalar,
so its upstream gradient is just a scale). Peak extra memory is one ``[chunk, vocab]`` block;
the matmul count equals the unfused version (forward, grad-input, grad-weight).
"""

from __future__ import annotations

import torch

#: Target size of one fp32 [chunk, vocab] logits block.
_CHUNK_BYTES = 128 * 1024 * 1024


def default_chunk_tokens(vocab_size: int) -> int:
    return max(16, _CHUNK_BYTES // (4 * vocab_size))


def _compute_dtype(device: torch.device) -> torch.dtype:
    if device.type == "cuda" and torch.is_autocast_enabled("cuda"):
        return torch.get_autocast_dtype("cuda")
    return torch.float32


class _FusedLinearCE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk: int, dtype):  # type: ignore[override]
        n = hidden.shape[0]
        w = weight.to(dtype)
        grad_h = torch.empty_like(hidden, dtype=torch.float32)
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        # One logits buffer reused for every chunk: a fresh 100+ MB allocation per chunk costs page
        # faults, and every softmax step below runs in place on it.
        buf = torch.empty((min(chunk, n), weight.shape[0]), dtype=torch.float32, device=hidden.device)
        for start in range(0, n, chunk):
            h = hidden[start : start + chunk].to(dtype)
            tgt = targets[start : start + chunk]
            logits = buf[: h.shape[0]]
            if dtype == torch.float32:
                torch.mm(h, w.t(), out=logits)
            else:
                logits.copy_(h @ w.t())
            target_logit = logits.gather(1, tgt[:, None]).squeeze(1)
            row_max = logits.amax(dim=-1, keepdim=True)
            probs = logits.sub_(row_max).exp_()
            row_sum = probs.sum(dim=-1, keepdim=True)
            probs.div_(row_sum)
            # CE = logsumexp(logits) - logit[target] = max + log(sum exp(logits - max)) - logit[target]
            total += (row_max.squeeze(1) + row_sum.log().squeeze(1) - target_logit).sum()
            # d(sum CE)/d logits = softmax - onehot; the 1/n of the mean is applied to the small outputs.
            probs[torch.arange(probs.shape[0], device=probs.device), tgt] -= 1.0
            g = probs.to(dtype)
            grad_h[start : start + chunk] = (g @ w).float().div_(n)
            if dtype == torch.float32:
                grad_w.addmm_(g.t(), h)
            else:
                grad_w.add_((g.t() @ h).float())
        grad_w.div_(n)
        ctx.save_for_backward(grad_h, grad_w)
        ctx.dtypes = (hidden.dtype, weight.dtype)
        return total / n

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        grad_h, grad_w = ctx.saved_tensors
        h_dtype, w_dtype = ctx.dtypes
        if grad_out.numel() == 1 and float(grad_out) == 1.0:  # the usual loss.backward(): skip a [V, H] pass
            return grad_h.to(h_dtype), grad_w.to(w_dtype), None, None, None
        return (grad_h * grad_out).to(h_dtype), (grad_w * grad_out).to(w_dtype), None, None, None


def chunked_cross_entropy(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk_tokens: int | None = None
) -> torch.Tensor:
    """Mean next-token cross-entropy of ``hidden @ weight.T`` against ``targets``, in nats.

    hidden ``[B, T, H]`` (or ``[N, H]``), weight ``[V, H]``, targets ``[B, T]`` (or ``[N]``).
    """
    h = hidden.reshape(-1, hidden.shape[-1])
    tgt = targets.reshape(-1)
    if h.shape[0] != tgt.shape[0]:
        raise ValueError(f"hidden has {h.shape[0]} positions but targets has {tgt.shape[0]}")
    chunk = chunk_tokens or default_chunk_tokens(weight.shape[0])
    dtype = _compute_dtype(h.device)
    needs_grad = torch.is_grad_enabled() and (h.requires_grad or weight.requires_grad)
    with torch.autocast(device_type=h.device.type, enabled=False):
        if needs_grad:
            return _FusedLinearCE.apply(h, weight, tgt, chunk, dtype)
        total = torch.zeros((), dtype=torch.float32, device=h.device)
        w = weight.to(dtype)
        for start in range(0, h.shape[0], chunk):
            logits = (h[start : start + chunk].to(dtype) @ w.t()).float()
            t = tgt[start : start + chunk]
            total += (torch.logsumexp(logits, -1) - logits.gather(1, t[:, None]).squeeze(1)).sum()
        return total / h.shape[0]
