"""Measurement: predictors, accuracy, interleaved timing and the speedup's interval, scaling,
the machine record and its capabilities. Records (:mod:`accel.measure.records`) import no
torch.
"""
