"""keys create: the Ed25519 key pair that signs checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import out

app = typer.Typer(help="Signing keys for checkpoints (kept in files, never in the database).")


@app.command()
def create(
    private_key: Annotated[
        Path, typer.Option("--private-key", help="Where to write the private key (mode 0600).")
    ],
    public_key: Annotated[
        Path, typer.Option("--public-key", help="Where to write the public key (for auditors).")
    ],
) -> None:
    """Make a key pair; refuses to overwrite an existing file."""
    from ledger.store.keys import create_key_pair, key_id  # cryptography: only when used

    public = create_key_pair(private_key, public_key)
    out.print(f"key {key_id(public)}: private {private_key} (mode 0600), public {public_key}")
