"""Compression transforms on the IR: per-op precision (binarisation included) and head/MLP pruning.

Each is a pure `Graph -> Graph` function driven by a frozen, parsed description of the choice.
"""
from codesign.transforms.precision import (Bits, PolicyWarning, PrecisionPolicy, Rule, apply_precision,
                                           parse_precision)
from codesign.transforms.compression import Compression, compress
from codesign.transforms.prune import (AttentionLayout, HeadChoice, MlpChoice, PrunePlan, apply_pruning,
                                       attention_layout, attentions, head_choices, mlp_choices,
                                       most_important, parse_prune)

__all__ = ["Compression", "compress", "Bits", "PolicyWarning", "PrecisionPolicy", "Rule", "apply_precision", "parse_precision",
           "AttentionLayout", "HeadChoice", "MlpChoice", "PrunePlan", "apply_pruning", "attention_layout",
           "attentions", "head_choices", "mlp_choices", "most_important", "parse_prune"]
