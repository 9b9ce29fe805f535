#!/bin/sh
# Entry point of the namespaces tier in a pod (Helm values tier=namespaces): a container
# that is not privileged gets /sys/fs/cgroup read-only, in a cgroup namespace of its own.
# With CAP_SYS_ADMIN (added by the chart), remount it writable, as kCTF and redpwn/jail do,
# so judgelet can make a cgroup per run under its own; it moves itself into a leaf and
# delegates the memory and pids controllers (cgroup.rs).
set -eu
if [ ! -w /sys/fs/cgroup ]; then
    mount -o remount,rw /sys/fs/cgroup
fi
exec /usr/local/bin/judgelet "$@"
