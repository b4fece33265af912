"""clipzoo.pipeline: the jobs (train in stages, evaluate, register, predict, demo, convert, catalogue).

Each job is a plain function over a ``Domain``, a ``ModelSpec``, data and settings that returns its result (the
trained ``ClipModel``, the metrics, the ``Published`` version); the CLI only parses arguments, calls one and prints.
"""
