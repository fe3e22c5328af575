"""The two cached students (and the teacher) on the validation and test splits of CLINC150.

Usage: ``python benchmarks/student_validation.py`` with ``$ACCEL_CLINC_PATH`` set and a cache
that holds the students (a gate run made them; nothing is trained here if it does). Prints
each model's accuracy per split (PyTorch fp32, batches of 64, the gate's truncation), in scope
and on the out-of-scope queries, and the fine-tuned student's lead over the distilled one with
the gate's paired bootstrap 90% interval: which student the frontier cells should be cut from,
decided on the validation split, not the test split the gate reports.
"""

import numpy as np
import torch

from accel.artifacts.data import columns, load_clinc
from accel.artifacts.models import Classifier
from accel.measure.intervals import paired_accuracy_interval
from accel.techniques import BuildContext
from accel.techniques.stages.students import (
    FINETUNED_RECIPE,
    FINETUNED_SLIMMING,
    distilled_student,
    student,
)
from accel.training.teacher import load_classifier


def correct(model: Classifier, texts: list[str], labels: list[int]) -> np.ndarray:
    """1 where the model's argmax is the label, per utterance."""
    out: list[int] = []
    with torch.inference_mode():
        for i in range(0, len(texts), 64):
            batch = model.tokenizer(
                texts[i : i + 64], padding=True, truncation=True, return_tensors="pt"
            )
            out += model.model(**batch).logits.argmax(-1).tolist()
    return np.array(out) == np.array(labels)


def main() -> None:
    data = load_clinc()
    reference = load_classifier("embedded", data)
    ctx = BuildContext(reference=reference, data=data, device="cpu", threads=2)
    models = {
        "teacher": reference,
        "finetuned-student": student(ctx, FINETUNED_RECIPE, FINETUNED_SLIMMING),
        "distilled": distilled_student(ctx),
    }
    for split in ("validation", "test"):
        texts, labels = columns(data[split])
        hits = {name: correct(model, texts, labels) for name, model in models.items()}
        oos = np.array(labels) == reference.labels.index("oos")
        for name, hit in hits.items():
            print(
                f"{split:10s} {name:18s} {hit.mean():.4f} (n={len(hit)}); in scope "
                f"{hit[~oos].mean():.4f}, oos recall {hit[oos].mean():.4f} (n={oos.sum()})"
            )
        lead = hits["finetuned-student"].mean() - hits["distilled"].mean()
        low, high = paired_accuracy_interval(hits["finetuned-student"], hits["distilled"])
        print(
            f"{split:10s} finetuned-student - distilled: {lead * 100:+.2f} points "
            f"[90% CI {low * 100:+.2f} to {high * 100:+.2f}]"
        )


if __name__ == "__main__":
    main()
