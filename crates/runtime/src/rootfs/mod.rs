//! The container's root filesystem: mounts, devices, pivot_root, masked and read-only paths.
