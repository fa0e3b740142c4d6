"""Sub-commands of the ``anima`` CLI, one module each.

A module here named ``foo.py`` becomes ``anima foo``. It defines ``HELP`` (one line),
``add_arguments(parser: argparse.ArgumentParser) -> None`` and ``run(args) -> int``.
Modules import their heavy dependencies inside ``run`` so ``anima --help`` stays fast.
"""
