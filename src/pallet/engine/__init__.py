"""pallet.engine."""
