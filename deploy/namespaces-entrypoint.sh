#!/bin/sh
# Entry point of the namespaces tier in a pod (Helm values tier=namespaces): a container
# that is not privileged gets its cgroup file systems read-only. With CAP_SYS_ADMIN (added
# by the chart), remount them writable, as kCTF and redpwn/jail do, so judgelet can make a
# cgroup per run under its own: on cgroup v2 the one mount at /sys/fs/cgroup (judgelet then
# moves itself into a leaf and delegates the memory and pids controllers, cgroup.rs); on
# cgroup v1 the tmpfs there and each controller's own mount under it.
set -eu
# Field 5 of mountinfo is the mount point, field 6 its per-mount options. A controller of
# v1 is a bind of the host's hierarchy made read-only per mount: a bind remount makes it
# writable (a plain remount would reconfigure the host's hierarchy, and is refused as busy).
# A v2 mount of the container's own may be read-only as a file system: a plain remount.
awk '$5 ~ "^/sys/fs/cgroup" && $6 ~ /(^|,)ro(,|$)/ { print $5 }' /proc/self/mountinfo |
    while read -r point; do
        mount -o remount,bind,rw "$point" 2>/dev/null || true
        [ -w "$point" ] || mount -o remount,rw "$point"
    done
exec /usr/local/bin/judgelet "$@"
