"""pallet.runtime.rootfs."""
