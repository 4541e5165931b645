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


# The reference pv's `kind` vocabulary, mapped to ours (None: no equivalent, a person chooses).
# kernel: a mathematical kernel; model-family: architecture metadata; registry: lookup tables, enum
# definitions and config bounds; schema: a generic reference document (the reference suites use it
# for CLI-surface contracts); pattern: a cross-cutting verification pattern (threading, async, parity).
REFERENCE_KINDS: dict[str, ContractKind | None] = {
    "kernel": ContractKind.KERNEL,
    "model-family": ContractKind.ARCHITECTURE,
    "registry": ContractKind.DATA,
    "schema": ContractKind.TOOLING,
    "pattern": None,
}


class ObligationType(StrEnum):
    """The logical shape of a proof obligation.

    The first ten are this project's; the rest are the reference pv's taxonomy, accepted so its
    contracts load unchanged (``idempotency`` is its spelling of ``idempotence``).
    """

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
    # reference pv: properties
    IDEMPOTENCY = "idempotency"
    LINEARITY = "linearity"
    SYMMETRY = "symmetry"
    ASSOCIATIVITY = "associativity"
    CONSERVATION = "conservation"
    ORDERING = "ordering"
    COMPLETENESS = "completeness"
    SOUNDNESS = "soundness"
    INVOLUTION = "involution"
    ROUNDTRIP = "roundtrip"
    STATE_MACHINE = "state_machine"
    CLASSIFICATION = "classification"
    INDEPENDENCE = "independence"
    TERMINATION = "termination"
    # reference pv: design-by-contract shapes
    FRAME = "frame"
    LOOP_INVARIANT = "loop_invariant"
    LOOP_VARIANT = "loop_variant"
    OLD_STATE = "old_state"
    SUBCONTRACT = "subcontract"


class KaniStrategy(StrEnum):
    """How a Kani harness explores its inputs (reference pv): every input up to the bound,
    floats stubbed, composed from function contracts, or bounded integers."""

    EXHAUSTIVE = "exhaustive"
    STUB_FLOAT = "stub_float"
    COMPOSITIONAL = "compositional"
    BOUNDED_INT = "bounded_int"


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
