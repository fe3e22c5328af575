"""Classification accuracy and macro-F1, with CLINC150's in-scope accuracy and out-of-scope
recall when the data has an out-of-scope (reject) label.

An ``evaluate`` metric module, loaded by path so it works offline. One import per line:
``evaluate`` scans a module's imports line by line.
"""

import datasets
import evaluate
from sklearn.metrics import f1_score

_DESCRIPTION = """Accuracy and macro-F1 (scikit-learn's, over every label that occurs) over label
names; with an out-of-scope label, also the two numbers the CLINC150 paper reports: accuracy on
in-scope queries (references other than the out-of-scope label) and recall of the out-of-scope
label."""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): predicted intent names.
    references (list of str): true intent names.
    oos_label (str or None): the out-of-scope (reject) label, None when the data has none.
        Defaults to "oos".
Returns:
    accuracy, macro_f1 (floats in [0, 1]), n (int); with an oos_label, also accuracy_in_scope
    and oos_recall (floats in [0, 1]; nan when a group is empty) and n_in_scope, n_oos (ints).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class IntentAccuracy(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Larson et al., EMNLP 2019",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    # "oos" repeats accel.artifacts.data.OOS on purpose: evaluate loads this file by path as
    # a standalone module, where accel may not be importable; accel always passes the label.
    def _compute(self, predictions, references, oos_label="oos"):
        pairs = list(zip(predictions, references, strict=True))

        def rate(group):
            return sum(p == r for p, r in group) / len(group) if group else float("nan")

        result = {
            "accuracy": rate(pairs),
            "macro_f1": float(f1_score(references, predictions, average="macro", zero_division=0))
            if pairs
            else float("nan"),
            "n": len(pairs),
        }
        if oos_label is None:
            return result
        in_scope = [(p, r) for p, r in pairs if r != oos_label]
        oos = [(p, r) for p, r in pairs if r == oos_label]
        return result | {
            "accuracy_in_scope": rate(in_scope),
            "oos_recall": rate(oos),
            "n_in_scope": len(in_scope),
            "n_oos": len(oos),
        }
