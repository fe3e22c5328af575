"""Trace the reference into frozen TorchScript, check the trace, and serve it.

``torch.jit.trace`` records the operations of one forward pass on an example batch; Python
control flow that depends on the input is frozen at the example's values. The example batch is
therefore padded (two texts of different lengths), so that the attention mask is part of the
graph, and the build checks the result against the eager reference on batches of other sizes
and lengths (padded and not) before it is used: a trace that does not generalize is an error,
never a silently wrong cell. ``torch.jit.freeze`` then inlines the weights as constants and
folds what it can.

TorchScript is deprecated in favour of ``torch.compile`` and ``torch.export`` (recent torch
releases, 2.13 here, warn on every call); it still works, and many deployments still run it.
The warnings are silenced here, where the decision to use it is taken.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace

import torch

from accel.measure.predictors import Predictor, TorchPredictor
from accel.techniques import BuildContext

NAME = "torchscript"
FILE = "model.pt"
# The batch traced: padded, so that the attention mask is traced as data.
EXAMPLE = ("what is the balance of my checking account", "hi")
# Other shapes the trace must reproduce the reference on: batch 1 unpadded, longer padded
# batches, a batch larger than the example.
PROBES: tuple[tuple[str, ...], ...] = (
    ("set a timer for ten minutes",),
    ("hello", "transfer one hundred dollars from my checking account to my savings account now"),
    ("what's the weather like tomorrow", "x", "book a table", "how do i reset my pin", "ok"),
)
# Largest |logit difference| from the eager reference allowed on the probes: the same
# arithmetic in another order (frozen, folded) differs by rounding only.
LOGIT_ATOL = 1e-3


class TraceError(RuntimeError):
    """The traced module does not reproduce the reference."""


class _LogitsOf(torch.nn.Module):
    """The reference's forward on positional tensors (what tracing takes), logits out."""

    def __init__(self, model: torch.nn.Module, names: Sequence[str]) -> None:
        super().__init__()
        self.model = model
        self.names = tuple(names)

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.names, tensors, strict=True))).logits


class _Scripted(torch.nn.Module):
    """A TorchScript module called like a transformers classifier: keyword tensors in, an
    object with ``.logits`` out (what :class:`TorchPredictor` expects)."""

    def __init__(self, scripted: torch.jit.ScriptModule, names: Sequence[str]) -> None:
        super().__init__()
        self.scripted = scripted
        self.names = tuple(names)

    def forward(self, **encoded: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(logits=self.scripted(*(encoded[n] for n in self.names)))


class TorchScriptPredictor(TorchPredictor):
    """The reference's tokenization and labels, the frozen TorchScript file's forward pass;
    its size is the size of that file."""

    def __init__(self, path: Path, names: Sequence[str], ctx: BuildContext) -> None:
        ref = ctx.reference
        with _quiet():
            scripted = torch.jit.load(str(path), map_location="cpu")
        super().__init__(
            NAME,
            _Scripted(scripted, names),
            ref.tokenizer,
            ref.labels,
            device="cpu",
            max_positions=ref.model.config.max_position_embeddings,
        )
        self.path = path

    def size_bytes(self) -> int:
        return self.path.stat().st_size


def build(ctx: BuildContext) -> Predictor:
    """The cached frozen TorchScript of ``ctx.reference``, checked on :data:`PROBES`."""
    if ctx.device != "cpu":
        raise ValueError(f"{NAME} runs on cpu only, got device {ctx.device!r}")
    ref = ctx.reference
    names = list(ref.tokenizer(list(EXAMPLE), padding=True, return_tensors="pt").keys())
    recipe = {"technique": NAME, "inputs": names, "example": EXAMPLE}

    def trace(folder: Path) -> None:
        model = _LogitsOf(ref.model, names).eval()
        example = ref.tokenizer(list(EXAMPLE), padding=True, return_tensors="pt")
        with _quiet(), torch.no_grad():
            traced = torch.jit.trace(model, tuple(example[n] for n in names), check_trace=False)
            frozen = torch.jit.freeze(traced.eval())
            torch.jit.save(frozen, str(folder / FILE))

    path = ctx.artifact(NAME, recipe, trace).path / FILE
    predictor = TorchScriptPredictor(path, names, ctx)
    check(predictor, ref.model, PROBES)
    return predictor


def check(
    predictor: TorchScriptPredictor, reference: torch.nn.Module, batches: Sequence[Sequence[str]]
) -> None:
    """Raise :class:`TraceError` unless ``predictor`` gives ``reference``'s logits on every
    batch (within :data:`LOGIT_ATOL`)."""
    for batch in batches:
        encoded = predictor.tokenizer(
            list(batch),
            padding=True,
            truncation=True,
            max_length=predictor.max_length,
            return_tensors="pt",
        )
        with torch.inference_mode():
            expected = reference(**encoded).logits
            obtained = predictor.model(**encoded).logits
        worst = float((obtained - expected).abs().max())
        if not worst <= LOGIT_ATOL:
            raise TraceError(
                f"{NAME}: the traced model's logits differ from the reference's by {worst:.2e} "
                f"(> {LOGIT_ATOL}) on a batch of {len(batch)} x {encoded['input_ids'].shape[1]} "
                "tokens: the trace does not generalize to this model (input-dependent control "
                "flow); this technique cannot serve it"
            )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence TorchScript's deprecation notices and the tracer's warnings (the build checks
    the trace itself)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        yield
