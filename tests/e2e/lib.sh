# shellcheck shell=bash
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

# A free TCP port on 127.0.0.1 (the kernel's choice).
free_port() {
    perl -MIO::Socket::INET -e \
        'my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0) or die "bind: $!"; print $s->sockport, "\n";'
}

# icinga_defs DIR: sets ICINGA_DEFS, the -D options that put every directory of an Icinga 2
# node below DIR (configuration, data, logs, cache, spool, run), so that neither the
# package's /etc/icinga2 nor /var/lib/icinga2 is used.
icinga_defs() {
    local i=$1
    # shellcheck disable=SC2034 # read by the caller
    ICINGA_DEFS=(
        -DConfiguration.ConfigDir="$i/etc" -DConfiguration.DataDir="$i/data"
        -DConfiguration.LogDir="$i/log" -DConfiguration.CacheDir="$i/cache"
        -DConfiguration.SpoolDir="$i/spool" -DConfiguration.InitRunDir="$i/run"
        -DConfiguration.PidPath="$i/run/icinga2.pid" -DConfiguration.VarsPath="$i/cache/icinga2.vars"
        -DConfiguration.ObjectsPath="$i/cache/icinga2.debug" -DConfiguration.StatePath="$i/data/icinga2.state"
        -DConfiguration.ModAttrPath="$i/data/modified-attributes.conf" -DConfiguration.ZonesDir="$i/etc/zones.d"
    )
}

# icinga_openssl_pki DIR NODE CA_NAME: a CA and the node's certificate for its name AND
# 127.0.0.1 (icinga2 pki new-cert puts no IP in it), so that clients can verify
# https://127.0.0.1:PORT against the CA; made in DIR/pki (its log DIR/pki.log), installed
# into DIR/data/certs. Returns openssl's failure.
icinga_openssl_pki() {
    local i=$1 node=$2 ca=$3
    (
        cd "$i/pki"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$ca" -keyout ca.key -out ca.crt
        openssl req -newkey rsa:2048 -nodes -subj "/CN=$node" -keyout node.key -out node.csr
        printf 'subjectAltName=DNS:%s,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n' "$node" >ext.cnf
        openssl x509 -req -in node.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out node.crt
    ) >"$i/pki.log" 2>&1 || return 1
    cp "$i/pki/ca.crt" "$i/data/certs/ca.crt"
    cp "$i/pki/node.crt" "$i/data/certs/$node.crt"
    cp "$i/pki/node.key" "$i/data/certs/$node.key"
}
