#!/usr/bin/env bash
# Prints what a ground with a node left behind after it stopped, one line each; nothing when all is gone.
#
# Usage: ground-leftovers.sh [NETNS]   (the ground's namespace, e.g. wsdb-12, from its "test ground
# ready" line; without it only what any ground could have left is checked)
# Checked: the network namespace, the host's veth, routes into the ground's ranges, cgroups, mounts
# under any ground's folder, processes started from a ground's folder that is gone, libcni's cache
# files of the namespace, and the host-wide folders a node would create (/run/containerd,
# /var/lib/kubelet).
set -uo pipefail
netns="${1:-}"

if [[ -n "$netns" ]]; then
  index="${netns#wsdb-}"
  ip netns list 2>/dev/null | grep -qw "$netns" && echo "network namespace $netns"
  ip link show "wsdbh$index" >/dev/null 2>&1 && echo "link wsdbh$index"
  ip -4 route show 2>/dev/null | grep -E "^10\.25[123]\.$index\." | sed 's/^/route /'
  for dir in /sys/fs/cgroup/*/"$netns"; do [[ -d "$dir" ]] && echo "cgroup $dir"; done
  for f in /var/lib/cni/results/"$netns"-*; do [[ -e "$f" ]] && echo "file $f"; done
fi
awk '$5 ~ /\/wsdb-ground-/ { print "mount " $5 }' /proc/self/mountinfo
# Processes of a ground whose folder is gone; a janitor notices its parent's end within a second,
# so they get ten seconds to go.
orphans() {
  local pid cmd dir
  for pid in $(pgrep -f '/wsdb-ground-' 2>/dev/null); do
    cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
    dir="$(grep -o '/[^ ]*/wsdb-ground-[A-Za-z0-9]*' <<<"$cmd" | sed -n 1p)"
    [[ -n "$dir" && ! -d "$dir" ]] && echo "process $pid: $(tr -s ' \n' ' ' <<<"${cmd:0:160}")"
  done
}
for _ in $(seq 1 20); do
  [[ -z "$(orphans)" ]] && break
  sleep 0.5
done
orphans
for dir in /run/containerd /var/lib/kubelet; do [[ -e "$dir" ]] && echo "folder $dir"; done
true
