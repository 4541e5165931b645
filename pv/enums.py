"""Every closed vocabulary a contract may use, in one place.

The JSON Schema, the error hints and the docs are all generated from these enums, so adding a
member here is the only edit needed to admit a new value.
"""

from __future__ import annotations

from enum import Enum, StrEnum


class Status(StrEnum):
    """Lifecycle of a contract, in promotion order (see ``pv.requirements`` for the rules)."""

    DRAFT = "DRAFT"
    PROPOSED = "PROPOSED"
    PARTIAL_ALGORITHM_LEVEL = "PARTIAL_ALGORITHM_LEVEL"
    FUNCTIONAL = "FUNCTIONAL"
    ACTIVE_RUNTIME = "ACTIVE_RUNTIME"
    DEPRECATED = "DEPRECATED"

    @property
    def rank(self) -> int:
        return _STATUS_ORDER.index(self)


_STATUS_ORDER = [
    Status.DRAFT,
    Status.PROPOSED,
    Status.PARTIAL_ALGORITHM_LEVEL,
    Status.FUNCTIONAL,
    Status.ACTIVE_RUNTIME,
    Status.DEPRECATED,
]


class ContractKind(StrEnum):
    """What a contract pins down."""

    ARCHITECTURE = "architecture"
    TOKENIZER = "tokenizer"
    DATA = "data"
    TRAINING = "training"
    CHECKPOINT = "checkpoint"
    DISTRIBUTED = "distributed"
    KERNEL = "kernel"
    PIPELINE = "pipeline"
    TOOLING = "tooling"


class ObligationType(StrEnum):
    """The logical shape of a proof obligation."""

    INVARIANT = "invariant"
    PRECONDITION = "precondition"
    POSTCONDITION = "postcondition"
    BOUND = "bound"
    EQUIVALENCE = "equivalence"
    DETERMINISM = "determinism"
    IDEMPOTENCE = "idempotence"
    MONOTONICITY = "monotonicity"
    SAFETY = "safety"
    LIVENESS = "liveness"


class DischargeLevel(StrEnum):
    """How strongly a falsifier's bound test discharges its rule.

    ``unit`` and ``property`` run in CI; ``integration`` runs the real pipeline at small scale;
    ``live`` needs a ``LIVE:`` run and recorded evidence; ``advisory`` never blocks.
    """

    UNBOUND = "unbound"
    UNIT = "unit"
    PROPERTY = "property"
    INTEGRATION = "integration"
    LIVE = "live"
    ADVISORY = "advisory"


class Verdict(StrEnum):
    """The last recorded outcome of a falsifier, as a contract author states it."""

    PENDING = "pending"
    SURVIVED = "survived"
    FALSIFIED = "falsified"


def values(enum: type[Enum]) -> list[str]:
    return [member.value for member in enum]
