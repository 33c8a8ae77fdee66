"""Errors of the registry client, each naming the registry, the repository and what went wrong."""

from __future__ import annotations

from pallet.errors import NotFoundError, PalletError


class RegistryError(PalletError):
    """The registry could not be reached or answered in a way we cannot use."""


class AuthenticationError(RegistryError):
    """The registry (or its token server) refused our credentials or the access asked for."""


class ImageNotFoundError(NotFoundError):
    """The repository, tag or manifest does not exist in the registry."""


class DigestMismatchError(RegistryError):
    """Content received from a registry does not hash to the digest that named it."""
