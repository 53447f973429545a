#!/bin/bash
# A throw-away single-node Slurm (munged + slurmctld + slurmd on 127.0.0.1) living entirely in DIR:
# its key, sockets, config, state and logs. Nothing system-wide is read or written.
#   slurm_cluster.sh start DIR   -> exit 0 when `sinfo` shows the node idle; prints SLURM_CONF=...
#                                   exit 77 (with the reason on stdout) when Slurm cannot run here
#   slurm_cluster.sh stop DIR    -> stops all three daemons (idempotent)
# Every wait is bounded; used by tests/slurm/test_slurm.cpp.
set -u
cmd=${1:?start|stop}
dir=${2:?DIR}
skip() { echo "SKIP: $*"; exit 77; }

stop() {
  export SLURM_CONF="$dir/slurm.conf"
  # Jobs first (this cluster's only: SLURM_CONF points at it), so no job step outlives slurmd.
  if [ -f "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    timeout 10 scancel --user=root 2>/dev/null
    for _ in $(seq 50); do
      [ -z "$(timeout 5 squeue -h 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  for f in slurmd.pid slurmctld.pid munge/munged.pid; do
    [ -f "$dir/$f" ] || continue
    pid=$(cat "$dir/$f" 2>/dev/null)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
  done
  # Bounded wait, then the hard way; only the pids this cluster wrote.
  for _ in $(seq 50); do
    alive=0
    for f in slurmd.pid slurmctld.pid munge/munged.pid; do
      [ -f "$dir/$f" ] && kill -0 "$(cat "$dir/$f")" 2>/dev/null && alive=1
    done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for f in slurmd.pid slurmctld.pid munge/munged.pid; do
    [ -f "$dir/$f" ] && kill -9 "$(cat "$dir/$f")" 2>/dev/null
  done
  return 0
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR"; exit 2; }

[ "$(id -u)" = 0 ] || skip "not root: slurmd must run as root"
for b in munged slurmctld slurmd sbatch squeue scancel sinfo; do
  command -v "$b" >/dev/null || skip "$b not installed (Debian packages slurm-wlm and munge)"
done

mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
chmod 755 "$dir"
chmod 700 "$dir/munge"
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$dir/munge/munge.key"
sock="$dir/munge/munge.sock"
# -f: the temp dir's parents are world-writable with the sticky bit, which munged refuses without.
munged -f --key-file="$dir/munge/munge.key" --socket="$sock" --pid-file="$dir/munge/munged.pid" \
  --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" \
  || skip "munged failed to start: $(tail -3 "$dir/munge/munged.log" 2>/dev/null)"

host=$(hostname -s)
ctld_port=$(free_port)
slurmd_port=$(free_port)
cat > "$dir/slurm.conf" <<EOF
ClusterName=vlbtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
MpiDefault=none
SchedulerParameters=sched_interval=1
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -c -f "$SLURM_CONF" >"$dir/log/slurmctld.stdout" 2>&1 \
  || { stop; skip "slurmctld failed to start: $(tail -3 "$dir/log/slurmctld.log" 2>/dev/null)"; }
slurmd -f "$SLURM_CONF" >"$dir/log/slurmd.stdout" 2>&1 \
  || { stop; skip "slurmd failed to start: $(tail -3 "$dir/log/slurmd.log" 2>/dev/null)"; }
for _ in $(seq 100); do
  state=$(sinfo -h -o %t 2>/dev/null | head -1)
  [ "$state" = idle ] && { echo "SLURM_CONF=$SLURM_CONF"; exit 0; }
  sleep 0.2
done
out=$(sinfo 2>&1; tail -5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" 2>&1)
stop
skip "the Slurm node did not become idle within 20 s: $out"
