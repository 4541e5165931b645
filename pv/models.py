"""The contract schema as pydantic models: the single source of truth for validation and JSON Schema.

Every model forbids unknown keys, because a misspelt key (``ship_blocker:``) that is silently
ignored is exactly the kind of quiet failure contracts exist to prevent.

Contracts written for the reference ``pv`` (the Rust provable-contracts tool) load as they are
where the formats agree: ``registry``, obligation ids and the reference obligation types,
``kani_harnesses`` and the ``verification_summary`` counts are typed optional fields here (lint
checks them against the contract). Where the formats conflict (no ``metadata.id``, the reference
``kind`` words, no ``ship_blocking``, shell commands as ``test:``), validation says what to change
and ``pv migrate`` changes it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from pv.enums import ContractKind, DischargeLevel, KaniStrategy, ObligationType, Status, Verdict
from pv.semver import SEMVER_PATTERN

FALSIFIER_ID_PATTERN = r"^FALSIFY-[A-Z0-9-]+-\d{3}$"
CONTRACT_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"

NonEmptyStr = Annotated[str, Field(min_length=1)]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
SemVer = Annotated[str, Field(pattern=SEMVER_PATTERN, examples=["1.3.0"])]
# Every number pv reads as a bound or a baseline: NaN compares false with everything and infinity
# passes every upper bound, so either one silently switches a guard off.
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChangelogEntry(_Strict):
    version: SemVer
    date: dt.date
    change: NonEmptyStr


class Metadata(_Strict):
    id: Annotated[str, Field(pattern=CONTRACT_ID_PATTERN, description="Equals the file name without .yaml")]
    version: SemVer
    status: Status
    kind: ContractKind
    created: dt.date
    updated: dt.date
    author: NonEmptyStr
    description: NonEmptyStr
    references: list[NonEmptyStr] = Field(
        default_factory=list,
        description="Citations, URLs, or repo-relative paths (optionally path::symbol); paths must exist.",
    )
    depends_on: list[Annotated[str, Field(pattern=CONTRACT_ID_PATTERN)]] = Field(default_factory=list)
    changelog: list[ChangelogEntry] = Field(min_length=1)
    registry: StrictBool | None = Field(
        default=None,
        description="Reference pv: true marks a data-registry contract (lookup tables, enum definitions, "
        "config bounds), which the reference tool exempts from needing proofs. Kept for round trips; pv "
        "applies the same rules to every contract.",
    )


class Equation(_Strict):
    formula: NonEmptyStr
    description: str | None = None
    domain: str | None = None
    codomain: str | None = None
    invariants: list[NonEmptyStr] = Field(default_factory=list)
    preconditions: list[NonEmptyStr] = Field(default_factory=list)


class ProofObligation(_Strict):
    id: Annotated[str, Field(pattern=NAME_PATTERN)] | None = Field(
        default=None, description="Optional id, unique in the contract (e.g. ACTIH-INV-001), that "
        "`kani_harnesses[].obligation` may name.", examples=["TOK-INV-001"])
    type: ObligationType
    property: NonEmptyStr
    formal: str | None = None
    tolerance: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = Field(
        default=None, description="Reference pv: numerical tolerance the property holds within.")
    applies_to: list[NonEmptyStr] = Field(
        default_factory=list, description="Names of equations (keys of `equations`) this obligation covers."
    )


class KaniHarness(_Strict):
    """A Kani bounded-model-checking harness (reference pv). pv does not run Kani; lint checks that
    the obligation it names exists, and ``verification_summary.proven`` cannot exceed what harnesses cover."""

    id: Annotated[str, Field(pattern=NAME_PATTERN)] = Field(examples=["KANI-TOK-001"])
    obligation: NonEmptyStr = Field(
        description="What it proves: a proof obligation's `id`, its `property` text, or an equation name.")
    property: str | None = Field(default=None, description="The property the harness asserts.")
    bound: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Largest input size explored (kani::unwind).")
    strategy: KaniStrategy | None = None
    solver: NonEmptyStr | None = Field(default=None, description="SAT/SMT solver, e.g. cadical, kissat, z3.")
    harness: NonEmptyStr | None = Field(default=None, description="The Rust harness function's name.")


class FalsificationTest(_Strict):
    id: Annotated[str, Field(pattern=FALSIFIER_ID_PATTERN, examples=["FALSIFY-TOK-001"])]
    rule: NonEmptyStr
    prediction: NonEmptyStr
    test: str | None = Field(
        default=None,
        description=(
            "Binding: 'falsifiers/test_x.py::test_name' (pytest node id), a bare test function name "
            "searched in falsifiers/ and tests/, 'CMD: <command>' (any language; `pv verify` runs it from the "
            "repo root and its exit code is the verdict), or 'LIVE: <command>' (hardware or long runs; only "
            "with `pv verify --live`). Omit (null) while unbound."
        ),
    )
    if_fails: NonEmptyStr
    ship_blocking: StrictBool
    counter_example_classes: list[NonEmptyStr] = Field(default_factory=list)
    discharge_level: DischargeLevel = DischargeLevel.UNBOUND
    verdict: Verdict = Verdict.PENDING
    check: str | None = Field(
        default=None,
        description="For LIVE bindings: a pv expression over the run's metrics JSON, e.g. "
        "'step_0_loss <= 0.7 * ln(vocab_size)'.",
    )
    metrics_file: str | None = Field(
        default=None, description="For LIVE bindings: repo-relative JSON file the command writes."
    )
    loss_floor: FiniteFloat | None = Field(
        default=None,
        description="Sanity guard for LIVE checks: a reported loss below this floor is a failure "
        "(a degenerate corpus), not a pass.",
    )
    artifacts: list[NonEmptyStr] = Field(
        default_factory=list, description="Repo-relative input files hashed into the evidence record."
    )
    subject: list[NonEmptyStr] = Field(
        default_factory=list,
        description="What `pv mutate` mutates to show the bound test can fail: repo-relative `path.py` or "
        "`path.py::qualname` (e.g. `trainer/preflight.py::preflight_tokenizer_vocab`). Default: the project "
        "source lines the test executes.",
    )
    applies_to: list[NonEmptyStr] = Field(
        default_factory=list,
        description="Names of equations (keys of `equations`) this falsifier tests: it discharges the proof "
        "obligations that apply to the same equations (the report's traceability matrix follows these links).",
    )
    inputs: list[NonEmptyStr] = Field(
        default_factory=list,
        description="For CMD bindings: repo-relative globs of the files the command's verdict depends on "
        "(e.g. 'crates/apr-cli/src/**/*.rs'). A recorded verdict stays fresh while they are unchanged; "
        "without `inputs`, a change to any non-ignored file makes it stale.",
    )
    timeout_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        default=None,
        description="For CMD and LIVE bindings: seconds before the command's whole process group is killed "
        "and the verdict is a timeout (CMD default 600; `pv verify --timeout` lowers it).",
    )


class VerificationSummary(_Strict):
    """Hand-written counts; lint (gate summary) checks every count stated against the contract."""

    last_verified: dt.date | None = None
    falsifiers_total: int | None = Field(default=None, ge=0)
    falsifiers_bound: int | None = Field(default=None, ge=0)
    total_obligations: int | None = Field(
        default=None, ge=0, description="Reference pv: number of proof obligations; must equal the contract's.")
    proven: int | None = Field(
        default=None, ge=0, description="Reference pv: obligations formally proven; at most the number of "
        "obligations `kani_harnesses` name.")
    tested: int | None = Field(
        default=None, ge=0, description="Reference pv: obligations covered by tests; at most total_obligations, "
        "and more than 0 only when a falsifier is bound.")
    status: NonEmptyStr | None = Field(
        default=None, description="Reference pv: free-form progress word (draft, partial, ...); kept, not checked.")
    notes: str | None = None


class Contract(_Strict):
    metadata: Metadata
    equations: dict[str, Equation] = Field(default_factory=dict)
    proof_obligations: list[ProofObligation] = Field(default_factory=list)
    falsification_tests: list[FalsificationTest] = Field(default_factory=list)
    kani_harnesses: list[KaniHarness] = Field(
        default_factory=list, description="Reference pv: Kani proof harnesses, each naming the obligation it proves.")
    verification_summary: VerificationSummary | None = None
