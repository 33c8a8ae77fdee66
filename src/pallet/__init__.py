"""pallet: a daemonless, Docker-compatible container engine and OCI runtime."""

__version__ = "0.1.0"
__all__ = ["__version__"]
