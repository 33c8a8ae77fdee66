"""pallet.api."""
