"""Intent accuracy for CLINC150: overall accuracy, in-scope accuracy and out-of-scope recall.

An ``evaluate`` metric module, loaded by path so it works offline. One import per line:
``evaluate`` scans a module's imports line by line.
"""

import datasets
import evaluate

_DESCRIPTION = """Accuracy over intent names, with the two numbers the CLINC150 paper reports:
accuracy on in-scope queries (references other than the out-of-scope label) and recall of the
out-of-scope label."""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): predicted intent names.
    references (list of str): true intent names.
    oos_label (str): the out-of-scope intent name. Defaults to "oos".
Returns:
    accuracy, accuracy_in_scope, oos_recall (floats in [0, 1]; nan when a group is empty),
    n, n_in_scope, n_oos (ints).
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
    # a standalone module, where accel may not be importable; accel always passes OOS.
    def _compute(self, predictions, references, oos_label="oos"):
        pairs = list(zip(predictions, references, strict=True))
        in_scope = [(p, r) for p, r in pairs if r != oos_label]
        oos = [(p, r) for p, r in pairs if r == oos_label]

        def rate(group):
            return sum(p == r for p, r in group) / len(group) if group else float("nan")

        return {
            "accuracy": rate(pairs),
            "accuracy_in_scope": rate(in_scope),
            "oos_recall": rate(oos),
            "n": len(pairs),
            "n_in_scope": len(in_scope),
            "n_oos": len(oos),
        }
