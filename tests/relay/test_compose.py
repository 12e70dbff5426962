"""docker-compose.yml names ``nats`` (JetStream on, file store on a volume) and ``relay`` (the
grantledger image running ``grantledger relay`` against it), both with health checks."""

from __future__ import annotations

from typing import Any

import yaml

from tests.support.servers import ROOT


def services() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"])


def test_nats_runs_jetstream_on_a_volume_with_a_health_check() -> None:
    nats = services()["nats"]
    assert nats["image"].startswith("nats:")
    assert "-js" in nats["command"]
    assert nats["command"][nats["command"].index("-sd") + 1] == "/data"
    assert nats["volumes"][0].endswith(":/data")
    assert "js-enabled-only" in " ".join(nats["healthcheck"]["test"])


def test_relay_runs_the_image_after_migrations_and_nats_with_a_health_check() -> None:
    found = services()
    relay, api = found["relay"], found["api"]
    assert relay["command"] == ["grantledger", "relay"]
    assert relay["image"] == api["image"]
    assert relay["user"] == api["user"]
    assert relay["environment"]["GRANTLEDGER_NATS_URL"] == "nats://nats:4222"
    assert (
        relay["environment"]["GRANTLEDGER_DATABASE_URL"]
        == api["environment"]["GRANTLEDGER_DATABASE_URL"]
    )
    assert relay["depends_on"]["nats"]["condition"] == "service_healthy"
    assert relay["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    test = relay["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    assert "grantledger_relay_connected 1.0" in test[3]
    compile(test[3], "<healthcheck>", "exec")
