"""The gate: numbers to verdicts. Gated-metric declarations, contracts, baseline files, the
comparison, the latency rules and the one verdict per cell. Pure Python on measurements:
no torch, transformers or onnxruntime import.
"""
