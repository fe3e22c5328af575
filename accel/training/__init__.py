"""Training: produces weights (fine-tuning, the embedded teacher, distillation, unstructured
and structured pruning, the sparse format). Never imports techniques.
"""
