"""Speed options change speed and memory, never the numbers: activation checkpointing, torch.compile, AdamW path.

Each equivalence check is also fed a deliberately different model (one weight nudged) and must
reject it, so a comparison that cannot fail would be caught here.
"""

from __future__ import annotations

import copy

import pytest
import torch

from trainer.config import PRESETS
from trainer.model import CausalLM
from trainer.optim import adamw_implementation, make_optimizer

CFG = PRESETS["test-tiny"]


def _batch(seed: int = 0, b: int = 4, t: int = 33) -> torch.Tensor:
    return torch.randint(0, CFG.vocab_size, (b, t), generator=torch.Generator().manual_seed(seed))


def _loss_and_grads(model: CausalLM, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss = model.loss(x[:, :-1], x[:, 1:])
    loss.backward()
    return loss.detach(), {n: p.grad.detach().clone() for n, p in model.named_parameters()}


def assert_same_step(a: CausalLM, b: CausalLM, x: torch.Tensor, rtol: float = 1e-5, atol: float = 1e-7) -> None:
    la, ga = _loss_and_grads(a, x)
    lb, gb = _loss_and_grads(b, x)
    torch.testing.assert_close(lb, la, rtol=rtol, atol=atol)
    assert ga.keys() == gb.keys()
    for n in ga:
        torch.testing.assert_close(gb[n], ga[n], rtol=rtol, atol=atol, msg=lambda m, n=n: f"grad of {n}: {m}")


def _nudged(model: CausalLM) -> CausalLM:
    other = copy.deepcopy(model)
    with torch.no_grad():
        other.model.layers[0].mlp.down_proj.weight[0, 0] += 1e-2
    return other


def _saved_bytes(model: CausalLM, x: torch.Tensor) -> int:
    """Bytes autograd keeps for the backward pass of one forward (the activation memory)."""
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x[:, :-1]).sum().backward()
    model.zero_grad(set_to_none=True)
    return total


def test_activation_checkpointing_keeps_loss_and_grads_and_saves_less() -> None:
    torch.manual_seed(0)
    plain = CausalLM(CFG)
    ckpt = copy.deepcopy(plain)
    ckpt.set_activation_checkpointing(True)
    x = _batch()
    assert_same_step(plain, ckpt, x)
    # It really recomputes: every layer's attention runs twice per forward+backward (once more in backward).
    calls = []
    hooks = [layer.self_attn.register_forward_hook(lambda *_: calls.append(1)) for layer in ckpt.model.layers]
    _loss_and_grads(ckpt, x)
    for h in hooks:
        h.remove()
    assert len(calls) == 2 * CFG.num_layers
    # And it keeps less for the backward pass: only each layer's input, not its internals.
    saved_plain, saved_ckpt = _saved_bytes(plain, x), _saved_bytes(ckpt, x)
    assert saved_ckpt < 0.5 * saved_plain, (saved_ckpt, saved_plain)
    # No recomputation without gradients (evaluation): the flag is inert under no_grad.
    with torch.no_grad():
        torch.testing.assert_close(ckpt.loss(x[:, :-1], x[:, 1:]), plain.loss(x[:, :-1], x[:, 1:]))
    # The check is able to fail.
    with pytest.raises(AssertionError):
        assert_same_step(plain, _nudged(ckpt), x)


def test_activation_checkpointing_can_be_switched_off_again() -> None:
    model = CausalLM(CFG)
    model.set_activation_checkpointing(True)
    assert all(layer.checkpointed for layer in model.model.layers)
    model.set_activation_checkpointing(False)
    assert not any(layer.checkpointed for layer in model.model.layers)
    # Names are untouched: a checkpoint written with the option on loads into a model with it off.
    assert list(model.state_dict()) == list(CausalLM(CFG).state_dict())


def _trajectory(model: CausalLM, steps: int = 4) -> list[float]:
    opt = make_optimizer(model, 1e-2, 0.1, (0.9, 0.95))
    losses = []
    for i in range(steps):
        x = _batch(seed=i % 2)  # two batches, revisited: the loss must fall, so the trajectory moves
        loss = model.loss(x[:, :-1], x[:, 1:])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    return losses


@pytest.mark.slow
def test_compiled_layers_follow_the_eager_loss_trajectory() -> None:
    """torch.compile (inductor, CPU C++ codegen) of every decoder layer, with and without checkpointing."""
    from torch._dynamo.utils import counters

    counters.clear()
    torch.manual_seed(0)
    eager = CausalLM(CFG)
    compiled, compiled_ckpt = copy.deepcopy(eager), copy.deepcopy(eager)
    compiled.compile_layers()
    compiled_ckpt.compile_layers()
    compiled_ckpt.set_activation_checkpointing(True)
    assert list(compiled.state_dict()) == list(eager.state_dict())  # in place: HF/.apr names kept
    ref = _trajectory(eager)
    for other in (compiled, compiled_ckpt):
        got = _trajectory(other)
        assert got == pytest.approx(ref, rel=1e-5, abs=1e-6)
        for (n, p), q in zip(eager.named_parameters(), other.parameters(), strict=True):
            torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5, msg=lambda m, n=n: f"{n} after 4 steps: {m}")
    assert ref[-1] < ref[0]  # the trajectory moves, so agreeing on it means something
    assert counters["stats"]["unique_graphs"] >= 2, dict(counters["stats"])  # really compiled (plain + checkpointed)
    with pytest.raises(AssertionError):
        assert_same_step(compiled, _nudged(eager), _batch(9))


def test_adamw_takes_the_multi_tensor_path_on_cpu_and_matches_the_loop() -> None:
    torch.manual_seed(0)
    a = CausalLM(CFG)
    b = copy.deepcopy(a)
    opt = make_optimizer(a, 1e-2, 0.1, (0.9, 0.95))
    assert adamw_implementation(list(a.parameters())) == "foreach"
    assert all(g["foreach"] is True and not g["fused"] for g in opt.param_groups)
    # The reference: torch's per-parameter loop with the same groups and hyper-parameters.
    strip = ("params", "foreach", "fused")
    ref = torch.optim.AdamW([{**{k: v for k, v in g.items() if k not in strip},
                              "params": [dict(b.named_parameters())[n] for n in _names(a, g)]}
                             for g in opt.param_groups], foreach=False)
    assert not any(g["foreach"] for g in ref.param_groups)
    for i in range(3):
        x = _batch(seed=i)
        for model, o in ((a, opt), (b, ref)):
            model.loss(x[:, :-1], x[:, 1:]).backward()
            o.step()
            o.zero_grad(set_to_none=True)
    for (n, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7, msg=lambda m, n=n: f"{n}: {m}")


def _names(model: CausalLM, group: dict) -> list[str]:
    by_id = {id(p): n for n, p in model.named_parameters()}
    return [by_id[id(p)] for p in group["params"]]


def test_adamw_is_fused_only_when_every_parameter_is_on_cuda() -> None:
    cpu = [torch.zeros(2, requires_grad=True)]
    assert adamw_implementation(cpu) == "foreach"
    assert adamw_implementation([]) == "foreach"
    meta = [torch.zeros(2, device="meta")]
    assert adamw_implementation(meta) == "foreach"
