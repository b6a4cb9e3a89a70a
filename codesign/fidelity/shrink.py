"""Pruned heads and MLP units removed from a real torch model: smaller Q/K/V, output projection, fc1 and fc2.

The fidelity path masks what is pruned; an exported model (QONNX) carries only the kept rows and columns.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from codesign.errors import UserError
from codesign.transforms import AttentionLayout, MlpChoice


def remove_heads(model: torch.nn.Module, layout: AttentionLayout, kept: Sequence[int]) -> dict[str, torch.Tensor]:
    """Keep only heads `kept` of one attention: its Q/K/V rows (head h owns rows h*d..h*d+d-1 of each
    q, k or v part of every source) and its output projection's columns; `num_heads` follows.
    Returns the rows kept of each layer whose outputs shrank."""
    att = layout.attention
    module = model.get_submodule(att.name)
    if not hasattr(module, "num_heads"):
        raise UserError(f"cannot remove heads of {att.block} from the torch model: {att.name} "
                        f"({type(module).__name__}) has no num_heads attribute to shrink")
    kept, selected = torch.as_tensor(sorted(kept), dtype=torch.long), {}
    for name in layout.sources:
        width = _linear(model, name, att.block).out_features
        selected[name] = torch.arange(width).reshape(-1, att.heads, att.head_dim)[:, kept].reshape(-1)
        _replace(model, name, rows=selected[name])
    columns = torch.arange(att.heads * att.value_dim).reshape(att.heads, att.value_dim)[kept].reshape(-1)
    _replace(model, layout.proj, columns=columns)
    module.num_heads = len(kept)
    if hasattr(module, "attn_dim"):          # timm >= 1.0.20 reshapes the heads' output by attn_dim
        module.attn_dim = len(kept) * att.value_dim
    return selected


def remove_units(model: torch.nn.Module, choice: MlpChoice, kept: Sequence[int]) -> dict[str, torch.Tensor]:
    """Keep only hidden units `kept` of one MLP: fc1's rows (and bias) and fc2's columns; returns fc1's rows kept."""
    kept = torch.as_tensor(sorted(kept), dtype=torch.long)
    _replace(model, choice.fc1, rows=kept)
    _replace(model, choice.fc2, columns=kept)
    return {choice.fc1: kept}


def _linear(model, name: str, block: str) -> torch.nn.Linear:
    module = model.get_submodule(name)
    if type(module) is not torch.nn.Linear:
        raise UserError(f"cannot prune {block} physically: {name!r} is a {type(module).__name__}, "
                        "not a torch.nn.Linear")
    return module


def _replace(model, name: str, rows: torch.Tensor | None = None, columns: torch.Tensor | None = None) -> None:
    """Put a smaller nn.Linear at `name`: the given rows (outputs) or columns (inputs) of its weight."""
    old = _linear(model, name, name.rpartition(".")[0])
    weight = old.weight.detach()
    weight = weight[rows] if rows is not None else weight
    weight = weight[:, columns] if columns is not None else weight
    new = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=old.bias is not None)
    with torch.no_grad():
        new.weight.copy_(weight)
        if old.bias is not None:
            new.bias.copy_(old.bias.detach()[rows] if rows is not None else old.bias.detach())
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, new)
