"""pallet.cli.commands."""
