"""Signed checkpoints checked against the chain: the auditor's form of `verify --checkpoint`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.auth import Auditor
from api.deps import ContainerDep
from api.routers.common import MALFORMED, READ_ERRORS

router = APIRouter(tags=["audit"], responses={**READ_ERRORS, **MALFORMED})

Hash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CheckpointIn(_In):
    position: int = Field(ge=1, le=2**62)
    hash: Hash
    recorded_at: Annotated[str, StringConstraints(max_length=40)]
    event_count: int = Field(ge=1, le=2**62)


class SignedCheckpointIn(_In):
    """A checkpoint file as `grantledger checkpoint` (or the relay) wrote it."""

    checkpoint: CheckpointIn
    algorithm: Literal["Ed25519"] = "Ed25519"
    key_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")]
    signature: Annotated[str, StringConstraints(max_length=200)]


class CheckpointVerifyBody(_In):
    checkpoint: SignedCheckpointIn
    public_key: Annotated[str, StringConstraints(max_length=2000)] = Field(
        description="The signer's Ed25519 public key, PEM (`grantledger keys create`)."
    )


class CheckpointVerifyOut(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    ok: bool
    position: int = Field(description="The checkpoint's position, or where the chain breaks.")
    checked: int = Field(description="Events verified up to the checkpoint.")
    reason: str | None


@router.post(
    "/v1/audit/checkpoints/verify",
    response_model=CheckpointVerifyOut,
    operation_id="verifyCheckpoint",
    summary="Hold the chain to a signed checkpoint",
    description="`ok` only if the Ed25519 signature holds for the given public key and the chain, "
    "walked from position 1, ends at the checkpoint's position in exactly the signed hash. A "
    "chain rewritten and re-hashed by someone with database access, or with its last events "
    "deleted, verifies on its own (`/v1/audit/verify`) but not against a checkpoint signed "
    "before: the answer names the position.",
)
def verify_checkpoint(
    body: CheckpointVerifyBody, _: Auditor, container: ContainerDep
) -> CheckpointVerifyOut:
    # cryptography (≈ 8 MB in a worker) only for the requests that check a signature.
    from ledger.store import checkpoint as checkpoints
    from ledger.store.keys import parse_public_key

    signed = checkpoints.SignedCheckpoint.parse(body.checkpoint.model_dump())
    key = parse_public_key(body.public_key.encode(), "public_key")
    # On this request's thread and connection, as the audit verify: never a pool of them.
    verdict = checkpoints.verify(container.engine, signed, key, workers=1)
    return CheckpointVerifyOut.model_validate(verdict)
