"""Stages several technique families compose (ONNX graphs, students and the teacher's logits,
PyTorch int8): cached artifacts with their recipes. Families import stages, never each
other.
"""
