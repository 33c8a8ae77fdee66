"""pallet.image."""
