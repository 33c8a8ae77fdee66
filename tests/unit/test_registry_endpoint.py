"""docker.io is a reference's domain, not a host pallet contacts: without an endpoint, a clear error."""

from __future__ import annotations

import pytest

from pallet.errors import ConfigError
from pallet.image.registry.client import RegistryClient, RegistryOptions


def test_docker_hub_without_endpoint_is_refused_before_any_traffic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PALLET_REGISTRY_ENDPOINTS", raising=False)
    with pytest.raises(ConfigError, match=r"no endpoint configured for docker\.io.*registries\.json.*"
                                          r"PALLET_REGISTRY_ENDPOINTS=docker\.io="):
        RegistryClient("docker.io", RegistryOptions())


def test_docker_hub_endpoint_from_settings_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PALLET_REGISTRY_ENDPOINTS", raising=False)
    with RegistryClient("docker.io", RegistryOptions(endpoints={"docker.io": "127.0.0.1:5999"})) as client:
        assert client.host == "127.0.0.1:5999"
    monkeypatch.setenv("PALLET_REGISTRY_ENDPOINTS", "docker.io=127.0.0.1:5998")
    with RegistryClient("docker.io", RegistryOptions()) as client:
        assert client.host == "127.0.0.1:5998"
