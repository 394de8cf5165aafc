# Hosts made of Linux network namespaces on this one machine, for tests of multi-host runs (source it; needs
# root, iproute2 and util-linux). The hosts share this machine's files, cores and processes, but each has its
# own network stack, address, host name and /etc/hosts, so Open MPI and Slurm treat them as separate nodes.
#
#   cluster_up N               hosts hosta, hostb, ... (namespaces vdcPID-a, vdcPID-b, ...) at $CLUSTER_NET.1, .2,
#                              ..., each with one cable to a switch (a bridge in namespace vdcPID-sw). Host i also
#                              answers to nodei (Slurm's naming). Sets CLUSTER_HOSTS, CLUSTER_DIR.
#   cluster_run HOST CMD...    runs CMD on HOST; "$CLUSTER_DIR/on" HOST CMD... is the same as a program (for
#                              timeout, Open MPI's rsh agent "$CLUSTER_DIR/agent", daemons)
#   cluster_link HOST down|up  unplugs / plugs back HOST's cable (its port on the switch)
#   cluster_pids HOST          the processes running on HOST, one pid a line
#   cluster_down               kills everything on the hosts and deletes the namespaces (their links go too)
#   slurm_up                   a Slurm cluster on the hosts (see below)
#
# CLUSTER_PREFIX (default vdc) and the pid of the shell that sources this file name the namespaces (vdc4711-a):
# two runs at once never meet, and the namespaces of a run that was killed before its clean-up (its pid no
# longer runs) are removed by the next cluster_up of the same prefix. CLUSTER_SUBNET (default 10.231.7.0/24)
# must be a /24 this machine does not use. Nothing is made in the root namespace: no traffic leaves the hosts
# and the switch.

CLUSTER_BASE=${CLUSTER_PREFIX:-vdc}
CLUSTER_PREFIX=$CLUSTER_BASE$$
CLUSTER_SUBNET=${CLUSTER_SUBNET:-10.231.7.0/24}
CLUSTER_NET=${CLUSTER_SUBNET%.*}   # the first three octets
CLUSTER_HOSTS=()
CLUSTER_DIR=""

cluster_up() {
  local n=$1 i letter host ns addr sw=$CLUSTER_PREFIX-sw
  case $CLUSTER_SUBNET in *.0/24) ;; *) echo "cluster: CLUSTER_SUBNET must be a /24 like 10.231.7.0/24" >&2; return 1;; esac
  if ip -4 route show | grep -q "^$CLUSTER_NET\.[0-9]*/" || ip -4 addr show | grep -q " $CLUSTER_NET\."; then
    echo "cluster: $CLUSTER_SUBNET is in use on this machine; set CLUSTER_SUBNET to a free /24" >&2; return 1
  fi
  _cluster_sweep_killed_runs
  # Refuse rather than reuse (cluster_up twice without cluster_down).
  if [ -e "/run/netns/$sw" ]; then
    echo "cluster: namespace $sw exists (cluster_up twice without cluster_down)" >&2
    return 1
  fi
  CLUSTER_DIR=$(mktemp -d "/tmp/$CLUSTER_PREFIX.XXXXXX")
  _cluster_scripts
  printf '127.0.0.1 localhost\n::1 localhost ip6-localhost\n' > "$CLUSTER_DIR/hosts"
  : > "$CLUSTER_DIR/namespaces"
  # Every step chained with &&: set -e does not reach into a function its caller runs under `if` or `||`.
  ip netns add "$sw" && ip -n "$sw" link add br0 type bridge && ip -n "$sw" link set br0 up || return 1
  for i in $(seq 1 "$n"); do
    letter=$(printf "\\$(printf %o $((96 + i)))")
    host=host$letter; ns=$CLUSTER_PREFIX-$letter; addr=$CLUSTER_NET.$i
    # The cable: eth0 on the host, a port named after the host's namespace on the switch; both ends are made
    # inside their namespaces. Loopback too: Open MPI and Slurm also talk to themselves.
    ip netns add "$ns" &&
      ip -n "$ns" link set lo up &&
      ip -n "$sw" link add "$ns" type veth peer name eth0 netns "$ns" &&
      ip -n "$sw" link set "$ns" master br0 up &&
      ip -n "$ns" addr add "$addr/24" dev eth0 &&
      ip -n "$ns" link set eth0 up || return 1
    echo "$addr $host node$i" >> "$CLUSTER_DIR/hosts"
    printf '%s %s\n%s %s\n' "$host" "$ns" "node$i" "$ns" >> "$CLUSTER_DIR/namespaces"
    CLUSTER_HOSTS+=("$host")
  done
}

# A switch namespace BASE<pid>-sw whose pid no longer runs was left by a run killed before its clean-up (a
# SIGKILL, a machine shutting the job down): kill what still runs on its hosts and delete its namespaces.
_cluster_sweep_killed_runs() {
  local sw pid
  for sw in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$CLUSTER_BASE[0-9]+-sw\$" || true); do
    pid=${sw#"$CLUSTER_BASE"}; pid=${pid%-sw}
    if [ "$pid" != "$$" ] && kill -0 "$pid" 2>/dev/null; then continue; fi
    echo "cluster: removing the namespaces $CLUSTER_BASE$pid-* of a run that was killed (pid $pid)" >&2
    ( CLUSTER_PREFIX=$CLUSTER_BASE$pid; CLUSTER_DIR=""; cluster_down; rm -rf "/tmp/$CLUSTER_BASE$pid".* )
  done
}

# The two programs cluster_up leaves in CLUSTER_DIR. nsenter, not `ip netns exec`: the latter remounts /sys,
# which hides the cgroup file system slurmd needs at start ("No filesystem mounted on /sys/fs/cgroup").
_cluster_scripts() {
  cat > "$CLUSTER_DIR/on" <<'EOF'
#!/bin/sh
# on NAME COMMAND...: runs COMMAND on namespace host NAME: in its network namespace, with NAME as host name and
# the cluster's hosts file as /etc/hosts, both private to COMMAND and its children (unshare's new UTS and mount
# namespaces; mounts made there vanish with the last process in them).
# CLUSTER_READONLY=NAME:DIR makes DIR read-only on host NAME (a host that cannot write a shared directory).
dir=$(dirname "$0")
ns=$(sed -n "s/^$1 //p" "$dir/namespaces")
[ -n "$ns" ] || { echo "on: no host '$1' in $dir/namespaces" >&2; exit 125; }
name=$1; shift
exec nsenter --net="/run/netns/$ns" unshare --uts --mount sh -c '
  mount --bind "$0/hosts" /etc/hosts && hostname "$1" || exit 125
  case "${CLUSTER_READONLY:-}" in "$1":?*)
    mount --bind -o ro "${CLUSTER_READONLY#*:}" "${CLUSTER_READONLY#*:}" || exit 125;; esac
  shift; exec "$@"' "$dir" "$name" "$@"
EOF
  cat > "$CLUSTER_DIR/agent" <<'EOF'
#!/bin/sh
# Open MPI's rsh agent for the namespace hosts (--mca plm_rsh_agent THIS), called as ssh would be:
# agent [OPTIONS] HOST COMMAND..., where the command words form one line for the remote shell.
while [ "${1#-}" != "$1" ]; do shift; done
host=$1; shift
exec setsid -w "$(dirname "$0")/on" "$host" sh -c "$*"
EOF
  chmod +x "$CLUSTER_DIR/on" "$CLUSTER_DIR/agent"
}

cluster_run() { "$CLUSTER_DIR/on" "$@"; }

_cluster_ns() { sed -n "s/^$1 //p" "$CLUSTER_DIR/namespaces"; }

cluster_pids() { ip netns pids "$(_cluster_ns "$1")"; }

# The switch's port goes down, so the host sees its carrier go (as with a pulled cable); addresses and routes
# stay, and TCP connections retry until the cable is back or they time out.
cluster_link() {
  local ns; ns=$(_cluster_ns "$1")
  ip -n "$CLUSTER_PREFIX-sw" link set "$ns" "$2"
}

# Safe to call more than once and after a partial cluster_up. Works from the names alone (CLUSTER_PREFIX),
# so it also removes a killed run's leftovers.
cluster_down() {
  local ns pids all="" round
  local spaces; spaces=$(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$CLUSTER_PREFIX-" || true)
  # SIGKILL by pid, a few rounds: a process may fork while the previous round kills.
  for round in 1 2 3 4 5; do
    pids=$(for ns in $spaces; do ip netns pids "$ns" 2>/dev/null; done)
    [ -z "$pids" ] && break
    kill -KILL $pids 2>/dev/null || true
    all="$all $pids"
    sleep 0.1
  done
  for ns in $spaces; do ip netns del "$ns" 2>/dev/null || true; done
  # Until they are reaped (an orphan waits for its new parent), so a check right after finds nothing.
  for round in $(seq 50); do
    pids=$(for p in $all; do if [ -e "/proc/$p" ]; then echo "$p"; fi; done)
    [ -z "$pids" ] && break
    sleep 0.1
  done
  [ -n "$CLUSTER_DIR" ] && rm -rf "$CLUSTER_DIR"
  CLUSTER_DIR=""; CLUSTER_HOSTS=()
}

# slurm_up: a Slurm cluster on the hosts, everything as root with its files in $CLUSTER_DIR/slurm: munged and
# slurmctld on node1 (hosta), one slurmd per host as node1, node2, ...; returns once every node is idle. Exports
# SLURM_CONF for clients, which must run on a host (`$CLUSTER_DIR/on node1 sbatch ...`): the root namespace
# cannot reach the nodes. On failure returns 1 with SLURM_WHY saying what did not start and its last words.
slurm_up() {
  local s=$CLUSTER_DIR/slurm i n=${#CLUSTER_HOSTS[@]} idle=0
  SLURM_WHY=""
  mkdir -p "$s/munge" "$s/state" "$s/log" || return 1
  # munged checks its files: the key private, the socket's directory reachable (711) but not writable by others.
  # Its own key and socket, so a site's munged (if any) is neither used nor disturbed.
  chmod 711 "$s/munge" && dd if=/dev/urandom of="$s/munge/key" bs=1024 count=1 2>/dev/null && chmod 600 "$s/munge/key" || return 1
  cat > "$s/slurm.conf" <<EOF
ClusterName=$CLUSTER_PREFIX
SlurmctldHost=node1($CLUSTER_NET.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$s/munge/socket
StateSaveLocation=$s/state
SlurmctldPidFile=$s/slurmctld.pid
SlurmctldLogFile=$s/log/slurmctld.log
# The hosts share one file system: every per-node path needs %n (the node's name).
SlurmdSpoolDir=$s/spool-%n
SlurmdPidFile=$s/slurmd-%n.pid
SlurmdLogFile=$s/log/slurmd-%n.log
# No cgroups: the hosts are namespaces in one machine's cgroup, which slurmd must not manage.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# Cores, not whole nodes, so two jobs with a task per node can run at once.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
ReturnToService=2
EOF
  for i in $(seq 1 "$n"); do
    echo "NodeName=node$i NodeAddr=$CLUSTER_NET.$i CPUs=$(nproc) State=UNKNOWN" >> "$s/slurm.conf"
    # slurmd reads mpi.conf from its slurm.conf's directory. Each node its own PMIx client directory: one
    # shared temporary directory makes the nodes' directories collide ("File exists"), and mpi.conf, unlike
    # slurm.conf, does not expand %n.
    mkdir -p "$s/node$i/pmix" && ln -s ../slurm.conf "$s/node$i/slurm.conf" || return 1
    echo "PMIxCliTmpDirBase=$s/node$i/pmix" > "$s/node$i/mpi.conf"
  done
  echo "PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP" >> "$s/slurm.conf"
  export SLURM_CONF=$s/node1/slurm.conf

  "$CLUSTER_DIR/on" node1 munged --foreground --force --key-file="$s/munge/key" --socket="$s/munge/socket" \
    --pid-file="$s/munge/pid" --seed-file="$s/munge/seed" --log-file="$s/log/munged.log" > "$s/log/munged.out" 2>&1 &
  disown   # the daemons end killed by cluster_down; disowned, bash does not report that
  for _ in $(seq 50); do [ -S "$s/munge/socket" ] && break; sleep 0.1; done
  [ -S "$s/munge/socket" ] || { SLURM_WHY="munged did not start: $(tail -1 "$s/log/munged.out")"; return 1; }
  # -D: in the foreground, so cluster_down finds them on their hosts; -c: no state from an earlier cluster.
  "$CLUSTER_DIR/on" node1 slurmctld -D -c > "$s/log/slurmctld.out" 2>&1 & disown
  for i in $(seq 1 "$n"); do
    SLURM_CONF=$s/node$i/slurm.conf "$CLUSTER_DIR/on" "node$i" slurmd -D -N "node$i" > "$s/log/slurmd-node$i.out" 2>&1 & disown
  done
  for _ in $(seq 100); do
    idle=$(timeout 10 "$CLUSTER_DIR/on" node1 sinfo -h -N -o %T 2>/dev/null | grep -c '^idle' || true)
    [ "$idle" = "$n" ] && return 0
    sleep 0.2
  done
  SLURM_WHY="$idle of $n nodes idle after 20 s; slurmctld: $(tail -1 "$s/log/slurmctld.out"); slurmd: $(tail -q -n 1 "$s"/log/slurmd-node*.out | tr '\n' ' ')"
  return 1
}
