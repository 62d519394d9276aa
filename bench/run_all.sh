#!/bin/sh
# Every benchmark of bench/, one after the other, each on its own private
# deployment (removed afterwards). As root, from the repository root:
#   sh bench/run_all.sh            # the sizes
#   QUICK=1 sh bench/run_all.sh    # fewer runs, for a smoke test
set -eu
PY=.venv/bin/python
if [ "${QUICK:-}" ]; then
    $PY bench/lb_create.py --runs 3
    $PY bench/member_create.py --runs 2
    $PY bench/throughput.py --rounds 1 --seconds 5
    $PY bench/member_changes.py --changes 10
    $PY bench/failover.py --runs 2 --single-runs 1
    $PY bench/failover.py --mode haproxy --runs 1 --single-runs 0
    $PY bench/failover.py --mode api --runs 1 --single-runs 0
else
    $PY bench/lb_create.py --runs 20
    $PY bench/member_create.py --runs 5
    $PY bench/throughput.py --rounds 3 --seconds 8
    $PY bench/member_changes.py --changes 100
    $PY bench/failover.py --runs 10 --single-runs 3
    $PY bench/failover.py --mode haproxy --runs 10 --single-runs 0
    $PY bench/failover.py --mode api --runs 5 --single-runs 0
fi
