"""FastAPI dependencies: what a route may ask for, as ``Annotated`` aliases.

Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency on its
thread pool, a round trip through a queue and the GIL per dependency and request (issue 14).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.container import Container


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]
