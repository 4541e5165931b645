"""One module per ``pv`` subcommand, each exposing ``register(subparsers)``."""
