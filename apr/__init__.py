"""apr: the one console script over both subjects (``apr tokenize …``, ``apr pretrain …``, ``apr inspect …``).

It sits above :mod:`tokenizer` and :mod:`trainer`, which each contribute their subcommands through a
``register(subparsers)`` function and never import this package back.
"""
