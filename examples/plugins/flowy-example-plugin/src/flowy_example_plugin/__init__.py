"""flowy-example-plugin: a JSON-lines tracker and a ``fractions.Fraction`` materializer.

Built only on Flowy's public API (``flowy.hookimpl``, ``flowy.kernel.contracts``,
``flowy.testing``), the way a third party would write it.
"""
