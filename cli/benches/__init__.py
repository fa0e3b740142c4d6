"""Benchmarks for ``anima bench NAME --json``, one module each.

A module here named ``foo.py`` becomes ``anima bench foo``. It defines ``HELP`` (one line),
``add_arguments(parser)`` (optional) and ``run(args) -> dict``: one JSON-serialisable object of
measurements, including the reference measured in the same run.
"""
