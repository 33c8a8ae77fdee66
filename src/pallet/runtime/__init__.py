"""pallet.runtime."""
