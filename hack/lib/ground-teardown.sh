#!/usr/bin/env bash
# Removes everything a test ground with a node made (test/ground/node.ts), in an order that never
# deletes a file under a live mount: the ground's normal stop runs it last, and its janitor runs it
# when the test process died without stopping.
#
# Usage: ground-teardown.sh ROOT NETNS CGROUP HOST_VETH
#   ROOT       the ground's folder (kubelet, containerd, logs...), removed last
#   NETNS      the network namespace (ip netns name) every process of the ground runs in
#   CGROUP     the kubelet's cgroupRoot, e.g. /wsdb-3, under every cgroup v1 hierarchy
#   HOST_VETH  the host's end of the veth pair into NETNS
# Each step is idempotent; arguments may name things already gone. Exits non-zero (after trying
# everything) when something could not be removed, and says what.
set -uo pipefail
root="$1" netns="$2" cgroup="$3" veth="$4"
# Only what a ground names: a folder /…/wsdb-ground-XXXX (no symlink, no ..), wsdb-N, /wsdb-N, wsdbhN.
if ! [[ "$netns" =~ ^wsdb-[0-9]+$ && "$cgroup" =~ ^/wsdb-[0-9]+$ && "$veth" =~ ^wsdbh[0-9]+$ && "$root" =~ ^/[A-Za-z0-9._/-]*/wsdb-ground-[A-Za-z0-9]+$ && "$root" != *..* ]]; then
  echo "ground-teardown: refusing unsafe arguments: '$root' '$netns' '$cgroup' '$veth'" >&2
  exit 2
fi
# The ground's folder goes last: without it there is nothing of this ground left (a normal stop ran),
# and NETNS may already belong to another ground.
if [[ ! -d "$root" ]]; then
  exit 0
fi
if [[ "$(realpath -e "$root")" != "$root" ]]; then
  echo "ground-teardown: $root is not a canonical path (a symlink on the way?); refusing" >&2
  exit 2
fi
problems=()

# Every pid in the cgroup tree (pods' processes), in any hierarchy.
cgroup_pids() {
  local dir
  for dir in /sys/fs/cgroup/*"$cgroup"; do
    [[ -d "$dir" ]] && find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
}
netns_pids() { [[ -e "/run/netns/$netns" ]] && ip netns pids "$netns" 2>/dev/null; }

# Unix socket paths bound inside the namespace outside ROOT (containerd's shims bind theirs under
# /run/containerd/s): removed once their processes are gone.
sockets=()
if [[ -e "/run/netns/$netns" ]]; then
  first="$(netns_pids | sed -n 1p)"
  if [[ -n "$first" ]]; then
    mapfile -t sockets < <(awk 'NR > 1 && $8 ~ /^\/run\/containerd\/s\// {print $8}' "/proc/$first/net/unix" 2>/dev/null | sort -u)
  fi
fi

# 1. Pods first (SIGKILL: their shims and the kubelet may already be gone), then every process in
#    the namespace: TERM, a grace period, KILL.
for round in 1 2 3; do
  pids="$(cgroup_pids)"
  [[ -z "$pids" ]] && break
  kill -KILL $pids 2>/dev/null
  sleep 0.5
done
pids="$(netns_pids)"
if [[ -n "$pids" ]]; then
  kill -TERM $pids 2>/dev/null
  for i in $(seq 1 20); do
    sleep 0.5
    pids="$(netns_pids)"
    [[ -z "$pids" ]] && break
  done
  [[ -n "$pids" ]] && kill -KILL $pids 2>/dev/null && sleep 0.5
fi
left="$(netns_pids; cgroup_pids)"
[[ -n "$left" ]] && problems+=("processes still running: $(echo $left)")
for s in "${sockets[@]}"; do rm -f "$s"; done
# containerd's shims keep their sockets in this fixed folder; it goes once no ground uses it.
rmdir /run/containerd/s /run/containerd 2>/dev/null

# 2. Every mount under ROOT, deepest first (kubelet volumes, its root's own bind mount, container
#    root file systems, pod network namespaces), detached lazily when busy.
mounts_under() {
  # Field 5 of mountinfo is the mount point, with space, tab, newline and backslash written as octal
  # escapes (\040…): decoded before comparing (ROOT itself has none of them).
  local m
  awk '{ print $5 }' /proc/self/mountinfo | while read -r m; do
    m="$(printf '%b' "${m//\\/\\0}")"
    if [[ "$m" == "$root" || "$m" == "$root"/* ]]; then printf '%s\n' "$m"; fi
  done | sort -r
}
for round in 1 2 3; do
  mapfile -t mounts < <(mounts_under)
  [[ ${#mounts[@]} -eq 0 ]] && break
  for m in "${mounts[@]}"; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
done
mapfile -t mounts < <(mounts_under)
[[ ${#mounts[@]} -gt 0 ]] && problems+=("mounts left under $root: ${mounts[*]}")

# 3. The cgroups, children before parents.
for dir in /sys/fs/cgroup/*"$cgroup"; do
  [[ -d "$dir" ]] || continue
  find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null
  [[ -d "$dir" ]] && problems+=("cgroup $dir not removed")
done

# 4. The namespace (its links, addresses, routes and iptables rules go with it) and the host's veth
#    end with its routes.
if [[ -e "/run/netns/$netns" ]]; then
  ip netns delete "$netns" 2>/dev/null || problems+=("network namespace $netns not deleted")
fi
# `ip netns add` made /run/netns a shared mount of its own; the last ground removes it (under the
# lock test/ground/netns.ts takes to add one, and only while it holds no namespace at all).
flock /run/lock bash -c 'if [[ -d /run/netns && -z "$(ls -A /run/netns)" ]] && grep -q " /run/netns /run/netns " /proc/self/mountinfo; then umount /run/netns && rmdir /run/netns; fi' 2>/dev/null
if [[ -n "$veth" ]] && ip link show "$veth" >/dev/null 2>&1; then
  ip link delete "$veth" 2>/dev/null || problems+=("link $veth not deleted")
fi

# 5. libcni's cache of this ground's network (named like the namespace), and its folders once empty.
for f in /var/lib/cni/results/"$netns"-*; do
  [[ -e "$f" ]] || continue
  id="${f#/var/lib/cni/results/"$netns"-}"
  id="${id%-*}"
  rm -f "$f" "/var/lib/cni/results/cni-loopback-$id-lo"
done
rmdir /var/lib/cni/results /var/lib/cni 2>/dev/null

# 6. The files, never across a mount that is still there.
if [[ ${#mounts[@]} -eq 0 ]]; then
  rm -rf --one-file-system "$root" 2>/dev/null || problems+=("could not remove $root")
fi

if [[ ${#problems[@]} -gt 0 ]]; then
  printf 'ground-teardown: %s\n' "${problems[@]}" >&2
  exit 1
fi
exit 0
