"""pallet.oci."""
