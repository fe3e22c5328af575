"""The pytest plugin (the ``pytest11`` entry point ``accel``): wiring only.

``hooks`` (options, cells, outcomes, the table), ``hookspecs`` (policy hooks), ``options``
(declared once, shared with ``accel run``), ``state`` (the typed session state) and ``suite``
(the gate's tests: ``pytest --pyargs accel.plugin.suite``).
"""
