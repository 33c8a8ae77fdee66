"""pallet.cli."""
