"""pallet.network."""
