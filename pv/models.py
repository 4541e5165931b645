"""The contract schema as pydantic models: the single source of truth for validation and JSON Schema.

Every model forbids unknown keys, because a misspelt key (``ship_blocker:``) that is silently
ignored is exactly the kind of quiet failure contracts exist to prevent.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from pv.enums import ContractKind, DischargeLevel, ObligationType, Status, Verdict
from pv.semver import SEMVER_PATTERN

FALSIFIER_ID_PATTERN = r"^FALSIFY-[A-Z0-9-]+-\d{3}$"
CONTRACT_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"

NonEmptyStr = Annotated[str, Field(min_length=1)]
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


class Equation(_Strict):
    formula: NonEmptyStr
    description: str | None = None
    domain: str | None = None
    codomain: str | None = None
    invariants: list[NonEmptyStr] = Field(default_factory=list)
    preconditions: list[NonEmptyStr] = Field(default_factory=list)


class ProofObligation(_Strict):
    type: ObligationType
    property: NonEmptyStr
    formal: str | None = None
    applies_to: list[NonEmptyStr] = Field(
        default_factory=list, description="Names of equations (keys of `equations`) this obligation covers."
    )


class FalsificationTest(_Strict):
    id: Annotated[str, Field(pattern=FALSIFIER_ID_PATTERN, examples=["FALSIFY-TOK-001"])]
    rule: NonEmptyStr
    prediction: NonEmptyStr
    test: str | None = Field(
        default=None,
        description=(
            "Binding: 'falsifiers/test_x.py::test_name' (pytest node id), a bare test function name "
            "searched in falsifiers/ and tests/, or 'LIVE: <command>'. Omit (null) while unbound."
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
    applies_to: list[NonEmptyStr] = Field(
        default_factory=list,
        description="Names of equations (keys of `equations`) this falsifier tests: it discharges the proof "
        "obligations that apply to the same equations (the report's traceability matrix follows these links).",
    )


class VerificationSummary(_Strict):
    last_verified: dt.date | None = None
    falsifiers_total: int | None = Field(default=None, ge=0)
    falsifiers_bound: int | None = Field(default=None, ge=0)
    notes: str | None = None


class Contract(_Strict):
    metadata: Metadata
    equations: dict[str, Equation] = Field(default_factory=dict)
    proof_obligations: list[ProofObligation] = Field(default_factory=list)
    falsification_tests: list[FalsificationTest] = Field(default_factory=list)
    verification_summary: VerificationSummary | None = None
