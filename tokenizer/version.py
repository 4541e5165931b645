"""The tokenizer's version and the ``producer`` string it writes into every file it makes."""

__version__ = "0.1.0"
PRODUCER = f"provable-train tokenizer {__version__}"
