"""PyTorch dynamic int8 quantization, shared by ``torch-int8`` and ``distilled-torch-int8``."""

from __future__ import annotations

import copy
import warnings

import torch


def quantize_linear_int8(model: torch.nn.Module) -> torch.nn.Module:
    """A CPU copy of ``model`` with every ``nn.Linear`` dynamically quantized to int8."""
    with warnings.catch_warnings():
        # torch.ao.quantization announces its move to torchao; the API still works.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model).cpu(), {torch.nn.Linear}, dtype=torch.qint8
        )
