"""pallet.runtime.commands."""
