"""pallet.runtime.cgroups."""
