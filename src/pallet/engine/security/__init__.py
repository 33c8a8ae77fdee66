"""Engine-side security defaults: capabilities, seccomp profiles, masked paths, user namespaces.

The container engine turns docker-style options (--cap-add, --cap-drop, --privileged,
--security-opt, --userns-remap) into the security fields of an OCI config; the runtime
(pallet.runtime.capabilities, .seccomp, .lsm, .idmap) applies them.
"""
