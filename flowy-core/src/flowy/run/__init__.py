"""Running pipelines: context, steps, pipelines, loading, the engine, the worker, caching and
explain. Imports the kernel, artifacts and stacks.
"""
