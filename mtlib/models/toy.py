"""A small MLP for the Figure 1 toy chapter (confirmation bias on a 1-D two-class problem).

Input (B, 1) -> ``depth`` hidden layers of ``hidden`` units with ReLU (and optional dropout) -> 2 logits.
Input noise is applied outside the model, so this stays a plain MLP.
"""
import torch
import torch.nn as nn

from .convnet13 import Dropout, GeneratorRef, check_dropout, check_positive_int


class ToyNet(nn.Module):
    """MLP from (B, 1) to (B, num_classes) logits; a (B,) input is treated as (B, 1)."""

    def __init__(self, hidden=64, depth=2, dropout=0.0, num_classes=2, generator=None):
        super().__init__()
        check_positive_int("hidden", hidden)
        check_positive_int("depth", depth)
        check_positive_int("num_classes", num_classes)
        check_dropout(dropout)
        self.hidden, self.depth, self.dropout, self.num_classes = hidden, depth, float(dropout), num_classes
        self.generator_ref = GeneratorRef(generator)
        layers, cin = [], 1
        for _ in range(depth):
            layers += [nn.Linear(cin, hidden), nn.ReLU()]
            if dropout > 0:
                layers.append(Dropout(dropout, self.generator_ref))
            cin = hidden
        layers.append(nn.Linear(cin, num_classes))
        self.net = nn.Sequential(*layers)

    def set_generator(self, generator):
        """Draw dropout masks from ``generator`` from now on (None: global RNG). Shared with deep copies."""
        self.generator_ref.generator = GeneratorRef(generator).generator

    def forward(self, x):
        if x.dim() == 1:
            x = x.unsqueeze(1)
        if x.dim() != 2 or x.shape[1] != 1:
            raise ValueError(f"x.shape={tuple(x.shape)} is not allowed; ToyNet takes (B, 1) or (B,) inputs")
        return self.net(x)
