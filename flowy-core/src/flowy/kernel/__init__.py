"""The kernel: hook specs, the plugin manager, entry points, the registry, the contracts every
plugin implements, records and errors. It imports nothing else of Flowy.
"""
