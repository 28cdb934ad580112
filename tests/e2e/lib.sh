# Helpers shared by tests/e2e/run.sh and tests/e2e/report.sh (sourced, not run).

stop_pid() {   # NAME PID [SECONDS]
    local name=$1 pid=$2 secs=${3:-30}
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    echo "  stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 $((secs * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "  $name (pid $pid) did not stop within ${secs}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
