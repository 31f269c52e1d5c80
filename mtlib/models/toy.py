"""A small MLP for the Figure 1 toy chapter (confirmation bias on a 1-D two-class problem).

Input (B, 1) -> ``depth`` hidden layers of ``hidden`` units with ReLU (and optional dropout) -> 2 logits.
Input noise is applied outside the model, so this stays a plain MLP.
"""
import torch
import torch.nn as nn

from mtlib.checks import check_int
from mtlib.models.convnet13 import check_dropout


class ToyNet(nn.Module):
    """MLP from (B, 1) to (B, num_classes) logits; a (B,) input is treated as (B, 1)."""

    def __init__(self, hidden=64, depth=2, dropout=0.0, num_classes=2):
        super().__init__()
        check_int("hidden", hidden, low=1)
        check_int("depth", depth, low=1)
        check_int("num_classes", num_classes, low=1)
        check_dropout(dropout)
        self.hidden, self.depth, self.dropout, self.num_classes = hidden, depth, float(dropout), num_classes
        layers, cin = [], 1
        for _ in range(depth):
            layers += [nn.Linear(cin, hidden), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            cin = hidden
        layers.append(nn.Linear(cin, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        if x.dim() == 1:
            x = x.unsqueeze(1)
        if x.dim() != 2 or x.shape[1] != 1:
            raise ValueError(f"x.shape={tuple(x.shape)} is not allowed; ToyNet takes (B, 1) or (B,) inputs")
        return self.net(x)
