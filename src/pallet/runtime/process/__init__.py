"""pallet.runtime.process."""
