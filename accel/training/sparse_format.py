"""A compressed state dict for sparse weights: a bit mask of the nonzeros plus their values.

Unstructured sparsity saves no space in a dense file: the zeros are stored like any other
number. This format stores a floating-point tensor as ``np.packbits`` of its nonzero mask
(1 bit a weight) and its nonzero values (unchanged, so the loaded weights are bit-identical),
whenever that is smaller than the dense tensor, i.e. above 1/32 = 3.1% sparsity for float32.
Per weight, at sparsity ``s``, it costs ``1/8 + 4 (1 - s)`` bytes against ``8 (1 - s)`` for
CSR with int32 column indices: smaller up to ``s = 0.969``, so at every sparsity pruned here.
The file is safetensors (no pickle); the shapes of the encoded tensors are in its metadata.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from accel.artifacts.cache import write_atomic

FORMAT = "accel-bitmask-v1"
_BITS, _VALUES = ".__nonzero_bits", ".__nonzero_values"


def _encoded_bytes(tensor: torch.Tensor) -> int:
    nonzero = int(torch.count_nonzero(tensor))
    return (tensor.numel() + 7) // 8 + nonzero * tensor.element_size()


def save_sparse(state: Mapping[str, torch.Tensor], path: Path) -> None:
    """Write ``state`` to ``path`` (atomically), each tensor dense or bit-mask encoded,
    whichever is smaller."""
    tensors: dict[str, torch.Tensor] = {}
    shapes: dict[str, list[int]] = {}
    for name, tensor in state.items():
        value = tensor.detach().cpu().contiguous()
        dense_bytes = value.numel() * value.element_size()
        if value.is_floating_point() and _encoded_bytes(value) < dense_bytes:
            flat = value.flatten()
            nonzero = flat != 0
            tensors[name + _BITS] = torch.from_numpy(np.packbits(nonzero.numpy()))
            tensors[name + _VALUES] = flat[nonzero].clone()
            shapes[name] = list(value.shape)
        else:
            tensors[name] = value.clone()  # clone: safetensors refuses shared storage
    metadata = {"format": FORMAT, "shapes": json.dumps(shapes, sort_keys=True)}
    write_atomic(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def load_sparse(path: Path) -> dict[str, torch.Tensor]:
    """The dense state dict stored in ``path`` by :func:`save_sparse`."""
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
        if metadata.get("format") != FORMAT:
            raise ValueError(f"{path} is not an {FORMAT} file (format {metadata.get('format')!r})")
        shapes: dict[str, list[int]] = json.loads(metadata["shapes"])
        stored = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    state = {k: v for k, v in stored.items() if not k.endswith((_BITS, _VALUES))}
    for name, shape in shapes.items():
        values = stored[name + _VALUES]
        numel = int(np.prod(shape, dtype=np.int64))
        bits = np.unpackbits(stored[name + _BITS].numpy(), count=numel).astype(bool)
        dense = torch.zeros(numel, dtype=values.dtype)
        dense[torch.from_numpy(bits)] = values
        state[name] = dense.view(shape)
    return state


__all__ = ["FORMAT", "load_sparse", "save_sparse"]
