#!/usr/bin/env bash
# Single-node Ceph RGW (S3 with Object Lock) for tests, from Debian's packages.
#
#   scripts/ceph-rgw.sh install   apt-get the packages (idempotent, quick when present)
#   scripts/ceph-rgw.sh start     bootstrap on first use, start mon -> osd -> radosgw,
#                                 wait for S3, create the S3 user, write $DIR/s3.env
#   scripts/ceph-rgw.sh status    show what runs (exit 0 only when all three run and S3 answers)
#   scripts/ceph-rgw.sh stop      stop radosgw -> osd -> mon
#   scripts/ceph-rgw.sh reset     stop, then delete the state directory
#   scripts/ceph-rgw.sh env       print $DIR/s3.env
#
# Everything (config, keyrings, mon/osd data, block file, logs, pid files, sockets) lives under
# one state directory; /etc/ceph and /var/lib/ceph are never read or written. Daemons run as the
# invoking user, listen on 127.0.0.1 only, cephx is on. No ceph-mgr: RGW does not need it (the
# cluster reports HEALTH_WARN "no active mgr", which blocks nothing here).
#
# Environment:
#   LIUHEN_CEPH_DIR       state directory            (default /tmp/liuhen-ceph)
#   LIUHEN_RGW_PORT       RGW (S3) port, beast        (default 7480)
#   LIUHEN_CEPH_MON_PORT  monitor port, msgr v2 only  (default 3300)
#   LIUHEN_CEPH_TIMEOUT   seconds to wait for each daemon to come up / go down (default 120)
#   LIUHEN_S3_UID         RGW user id                 (default liuhen)
#   LIUHEN_S3_REGION      written as AWS_DEFAULT_REGION (default us-east-1)
set -euo pipefail

DIR="${LIUHEN_CEPH_DIR:-/tmp/liuhen-ceph}"
RGW_PORT="${LIUHEN_RGW_PORT:-7480}"
MON_PORT="${LIUHEN_CEPH_MON_PORT:-3300}"
TIMEOUT="${LIUHEN_CEPH_TIMEOUT:-120}"
S3_UID="${LIUHEN_S3_UID:-liuhen}"
S3_REGION="${LIUHEN_S3_REGION:-us-east-1}"

PACKAGES=(ceph-mon ceph-osd radosgw ceph-common ceph-base uuid-runtime curl jq)
MON_ID=a
OSD_ID=0
RGW_NAME=client.rgw.liuhen
BLOCK_SIZE=10G

CONF="$DIR/ceph.conf"
export CEPH_CONF="$CONF"
ADMIN_KEYRING="$DIR/keyring/client.admin.keyring"
RGW_KEYRING="$DIR/keyring/$RGW_NAME.keyring"
MON_DATA="$DIR/mon/ceph-$MON_ID"
OSD_DATA="$DIR/osd/ceph-$OSD_ID"
OSD_BLOCK="$DIR/osd$OSD_ID.block"
OURS="$DIR/.liuhen-ceph"            # written first: marks the directory as this script's
BOOTSTRAPPED="$DIR/.bootstrapped"   # written last: the cluster is complete
S3_ENV="$DIR/s3.env"

DIE_HINT=""   # set by cmd_start: appended to every fatal error
log() { printf '[ceph-rgw] %s\n' "$*" >&2; }
die() {
    printf '[ceph-rgw] ERROR: %s\n' "$*" >&2
    [[ -z "$DIE_HINT" ]] || printf '[ceph-rgw] %s\n' "$DIE_HINT" >&2
    exit 1
}

# Print the last lines of a log file to stderr (used on every failure). With a third argument N,
# only lines after line N (what this run wrote) are considered.
show_log() {
    local f="$1" n="${2:-40}" from="${3:-0}"
    if [[ -f "$f" ]]; then
        printf '[ceph-rgw] ---- last %s lines of %s ----\n' "$n" "$f" >&2
        tail -n "+$((from + 1))" "$f" | tail -n "$n" >&2 || true
        printf '[ceph-rgw] ---- end of %s ----\n' "$f" >&2
    else
        printf '[ceph-rgw] (no log file %s)\n' "$f" >&2
    fi
}
lines_of() { if [[ -f "$1" ]]; then wc -l <"$1"; else echo 0; fi; }

# The daemon's own log, from where this start began.
declare -A LOG_MARK=()
show_daemon_log() { show_log "$(logfile_of "$1")" "${2:-40}" "${LOG_MARK[$1]:-0}"; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ceph CLI / radosgw-admin against our cluster only (client.admin's keyring is named in the
# config: passing -k to the ceph CLI makes it warn about /etc/ceph), with a bounded wait.
cephcli() {
    timeout 60 ceph -c "$CONF" -n client.admin --connect-timeout 30 "$@"
}
rgwadmin() {
    timeout 120 radosgw-admin -c "$CONF" -n client.admin "$@"
}

require_installed() {
    local b missing=()
    for b in ceph ceph-mon ceph-osd radosgw radosgw-admin ceph-authtool monmaptool uuidgen curl jq; do
        command -v "$b" >/dev/null 2>&1 || missing+=("$b")
    done
    ((${#missing[@]} == 0)) || die "missing commands: ${missing[*]} — run: $0 install"
}

# ---------------------------------------------------------------- processes

pidfile_of() { printf '%s/run/%s.pid' "$DIR" "$1"; }   # $1 = mon.a | osd.0 | client.rgw.liuhen
logfile_of() { printf '%s/log/%s.log' "$DIR" "$1"; }

# Prints the pid of daemon $1 if it runs and is ours (its command line names our config).
daemon_pid() {
    local pf pid
    pf="$(pidfile_of "$1")"
    [[ -s "$pf" ]] || return 1
    pid="$(tr -dc '0-9' <"$pf")"
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- " -c $CONF " || return 1
    printf '%s' "$pid"
}

is_running() { daemon_pid "$1" >/dev/null; }

port_in_use() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# Start daemon: $1 = name (for pid/log files), rest = command. Daemons fork themselves;
# their stdio goes to a file so they never hold the caller's pipes.
spawn_daemon() {
    local name="$1"; shift
    local out="$DIR/log/$name.stdout"
    LOG_MARK[$name]="$(lines_of "$(logfile_of "$name")")"
    log "starting $name: $*"
    if ! "$@" </dev/null >"$out" 2>&1; then
        show_log "$out" 20
        show_daemon_log "$name"
        die "$name failed to start (its stdout/stderr: $out)"
    fi
}

wait_for_pid() {
    local name="$1" deadline=$((SECONDS + 30))
    until is_running "$name"; do
        if ((SECONDS >= deadline)); then
            show_log "$DIR/log/$name.stdout" 20
            show_daemon_log "$name"
            die "$name did not write a live pid file $(pidfile_of "$name") within 30 s"
        fi
        sleep 0.2
    done
}

stop_daemon() {
    local name="$1" pid deadline
    if ! pid="$(daemon_pid "$name")"; then
        log "$name: not running"
        rm -f "$(pidfile_of "$name")"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + TIMEOUT))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            log "WARNING: $name (pid $pid) still alive ${TIMEOUT}s after SIGTERM; sending SIGKILL"
            show_log "$(logfile_of "$name")" 20
            kill -KILL "$pid" 2>/dev/null || true
            sleep 1
            break
        fi
        sleep 0.2
    done
    rm -f "$(pidfile_of "$name")"
}

# ---------------------------------------------------------------- config and bootstrap

write_conf() {
    local fsid="$1"
    cat >"$CONF" <<EOF
# Generated by scripts/ceph-rgw.sh — single-node test cluster, state in $DIR
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$MON_PORT]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_msgr1 = false
ms_bind_msgr2 = true
ms_bind_ipv6 = false
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
auth_allow_insecure_global_id_reclaim = false
run_dir = $DIR/run
crash_dir = $DIR/crash
mon_cluster_log_file = $DIR/log/ceph.log
# one OSD, no replication
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_warn_on_insecure_global_id_reclaim_allowed = false
mon_max_pg_per_osd = 1000

[client]
log_file = /dev/null
admin_socket =

[client.admin]
keyring = $ADMIN_KEYRING

[mon]
mon_data = $MON_DATA
keyring = $MON_DATA/keyring
log_file = $DIR/log/\$name.log
pid_file = $DIR/run/\$name.pid
admin_socket = $DIR/run/\$name.asok
mon_data_avail_warn = 5
mon_data_avail_crit = 2

[osd]
osd_data = $OSD_DATA
keyring = $OSD_DATA/keyring
log_file = $DIR/log/\$name.log
pid_file = $DIR/run/\$name.pid
admin_socket = $DIR/run/\$name.asok
osd_objectstore = bluestore
# the block device is a sparse file outside the OSD data directory
bluestore_block_path = $DIR/osd\$id.block
bluestore_block_size = $BLOCK_SIZE
bluestore_block_create = true
bluestore_block_db_path =
bluestore_block_db_create = false
bluestore_block_wal_path =
bluestore_block_wal_create = false
bluestore_fsck_on_mkfs = false
# small memory: 896 MiB is the smallest osd_memory_target Ceph 16 accepts; the fixed cache is
# what keeps the idle RSS small
osd_memory_target = 939524096
bluestore_cache_autotune = false
bluestore_cache_size = 67108864
osd_op_num_shards = 2
osd_op_num_threads_per_shard = 1

[$RGW_NAME]
keyring = $RGW_KEYRING
rgw_data = $DIR/rgw
log_file = $DIR/log/\$name.log
pid_file = $DIR/run/\$name.pid
admin_socket = $DIR/run/\$name.asok
rgw_frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw_enable_apis = s3
rgw_thread_pool_size = 64
rgw_luarocks_location = $DIR/rgw/luarocks
EOF
}

bootstrap() {
    local t0 fsid osd_uuid osd_secret id
    t0="$(now)"
    if [[ -f "$OURS" ]]; then
        die "$DIR holds no finished cluster (no $BOOTSTRAPPED): a previous bootstrap failed; run: $0 reset"
    fi
    if [[ -e "$DIR" ]] && [[ -n "$(ls -A "$DIR" 2>/dev/null)" ]]; then
        die "$DIR is not empty and was not made by this script; set LIUHEN_CEPH_DIR to a new or empty directory"
    fi
    log "bootstrapping a new cluster in $DIR"
    DIE_HINT="bootstrap failed: run $0 reset (stops what started, deletes $DIR), then start again"
    mkdir -p "$DIR"
    echo "state directory of scripts/ceph-rgw.sh; '$0 reset' deletes it" >"$OURS"
    mkdir -p "$DIR"/{keyring,mon,osd,rgw,log,run,crash,tmp}
    fsid="$(uuidgen)"
    write_conf "$fsid"

    # keys: mon., client.admin
    ceph-authtool --create-keyring "$DIR/tmp/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    ceph-authtool --create-keyring "$ADMIN_KEYRING" --gen-key -n client.admin \
        --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
    ceph-authtool "$DIR/tmp/mon.keyring" --import-keyring "$ADMIN_KEYRING" >/dev/null

    # monitor
    monmaptool --create --fsid "$fsid" --addv "$MON_ID" "[v2:127.0.0.1:$MON_PORT]" "$DIR/tmp/monmap" >/dev/null
    mkdir -p "$MON_DATA"
    ceph-mon -c "$CONF" --mkfs -i "$MON_ID" --monmap "$DIR/tmp/monmap" --keyring "$DIR/tmp/mon.keyring" \
        >"$DIR/log/mon-mkfs.log" 2>&1 || { show_log "$DIR/log/mon-mkfs.log"; die "ceph-mon --mkfs failed"; }
    start_mon

    # OSD: register it, then ceph-osd --mkfs (bluestore on the sparse file; no ceph-volume/LVM)
    osd_uuid="$(uuidgen)"
    osd_secret="$(ceph-authtool --gen-print-key)"
    id="$(printf '{"cephx_secret": "%s"}' "$osd_secret" | cephcli osd new "$osd_uuid" -i -)"
    [[ "$id" == "$OSD_ID" ]] || die "ceph osd new returned id '$id', expected $OSD_ID"
    mkdir -p "$OSD_DATA"
    ceph-authtool --create-keyring "$OSD_DATA/keyring" --name "osd.$OSD_ID" --add-key "$osd_secret" >/dev/null
    truncate -s "$BLOCK_SIZE" "$OSD_BLOCK"     # sparse
    ceph-osd -c "$CONF" -i "$OSD_ID" --mkfs --osd-uuid "$osd_uuid" >"$DIR/log/osd-mkfs.log" 2>&1 \
        || { show_log "$DIR/log/osd-mkfs.log"; show_log "$(logfile_of "osd.$OSD_ID")"; die "ceph-osd --mkfs failed"; }

    # RGW key
    cephcli auth get-or-create "$RGW_NAME" mon 'allow rw' osd 'allow rwx' -o "$RGW_KEYRING"
    rm -rf "$DIR/tmp"
    date -u +%FT%TZ >"$BOOTSTRAPPED"
    log "bootstrap done in $(elapsed "$t0") s (fsid $fsid)"
}

# ---------------------------------------------------------------- start steps

start_mon() {
    local name="mon.$MON_ID" deadline
    if is_running "$name"; then log "$name already running"; return 0; fi
    port_in_use "$MON_PORT" && die "port 127.0.0.1:$MON_PORT is taken by another process (set LIUHEN_CEPH_MON_PORT)"
    spawn_daemon "$name" ceph-mon -c "$CONF" -i "$MON_ID"
    wait_for_pid "$name"
    deadline=$((SECONDS + TIMEOUT))
    until cephcli quorum_status >/dev/null 2>&1; do
        is_running "$name" || { show_daemon_log "$name"; die "$name exited during start"; }
        if ((SECONDS >= deadline)); then
            show_daemon_log "$name"
            die "$name did not form a quorum within ${TIMEOUT}s"
        fi
        sleep 0.5
    done
    log "$name in quorum"
}

start_osd() {
    local name="osd.$OSD_ID" deadline
    if is_running "$name"; then log "$name already running"; return 0; fi
    spawn_daemon "$name" ceph-osd -c "$CONF" -i "$OSD_ID"
    wait_for_pid "$name"
    deadline=$((SECONDS + TIMEOUT))
    until [[ "$(cephcli osd dump -f json 2>/dev/null | jq -r ".osds[] | select(.osd == $OSD_ID) | .up")" == 1 ]]; do
        is_running "$name" || { show_daemon_log "$name"; die "$name exited during start"; }
        if ((SECONDS >= deadline)); then
            show_daemon_log "$name"
            die "$name was not marked up within ${TIMEOUT}s"
        fi
        sleep 0.5
    done
    log "$name up"
}

rgw_answers() { curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$RGW_PORT/"; }

start_rgw() {
    local name="$RGW_NAME" deadline
    if is_running "$name"; then
        log "$name already running"
    else
        port_in_use "$RGW_PORT" && die "port 127.0.0.1:$RGW_PORT is taken by another process (set LIUHEN_RGW_PORT)"
        spawn_daemon "$name" radosgw -c "$CONF" -n "$name"
        wait_for_pid "$name"
    fi
    deadline=$((SECONDS + TIMEOUT))
    until rgw_answers; do
        is_running "$name" || { show_daemon_log "$name"; die "$name exited during start"; }
        if ((SECONDS >= deadline)); then
            show_daemon_log "$name"
            die "$name did not answer HTTP on 127.0.0.1:$RGW_PORT within ${TIMEOUT}s"
        fi
        sleep 0.5
    done
    log "$name answers on http://127.0.0.1:$RGW_PORT"
}

ensure_user() {
    local info access secret
    if ! info="$(rgwadmin user info --uid="$S3_UID" 2>/dev/null)"; then
        log "creating S3 user $S3_UID"
        info="$(rgwadmin user create --uid="$S3_UID" --display-name="liuhen tests")" \
            || die "radosgw-admin user create failed"
    fi
    access="$(jq -r '.keys[0].access_key // empty' <<<"$info")"
    secret="$(jq -r '.keys[0].secret_key // empty' <<<"$info")"
    [[ -n "$access" && -n "$secret" ]] || die "user $S3_UID has no S3 key: $info"
    (umask 077 && cat >"$S3_ENV.tmp") <<EOF
AWS_ACCESS_KEY_ID=$access
AWS_SECRET_ACCESS_KEY=$secret
LIUHEN_S3_ENDPOINT_URL=http://127.0.0.1:$RGW_PORT
AWS_DEFAULT_REGION=$S3_REGION
EOF
    mv "$S3_ENV.tmp" "$S3_ENV"
    log "S3 user $S3_UID, access key $access: credentials in $S3_ENV"
    log "  use: set -a; . $S3_ENV; set +a   (or: $0 env)"
}

# ---------------------------------------------------------------- subcommands

cmd_install() {
    local p missing=()
    for p in "${PACKAGES[@]}"; do
        [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" == installed ]] || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        log "all packages installed: $(ceph --version)"
        return 0
    fi
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-cache policy "${missing[0]}" | grep -q 'Candidate: [0-9]'; then
        log "no apt candidate for ${missing[0]} yet; running apt-get update"
        apt-get update -q
    fi
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
        log "apt-get install failed (package lists may be stale); running apt-get update and trying once more"
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
    log "installed: $(ceph --version)"
}

cmd_start() {
    local t0
    t0="$(now)"
    require_installed
    if [[ ! -f "$BOOTSTRAPPED" ]]; then
        bootstrap
    else
        grep -qF "127.0.0.1:$RGW_PORT" "$CONF" \
            || die "$CONF was made for another RGW port than $RGW_PORT; run: $0 reset (or use the old port)"
        grep -qF "127.0.0.1:$MON_PORT]" "$CONF" \
            || die "$CONF was made for another monitor port than $MON_PORT; run: $0 reset"
    fi
    mkdir -p "$DIR/run" "$DIR/log"
    DIE_HINT="start failed: daemons that did start are left running for inspection ($0 status; $0 stop)"
    # fail before starting anything when a port we need belongs to someone else
    if ! is_running "mon.$MON_ID" && port_in_use "$MON_PORT"; then
        die "port 127.0.0.1:$MON_PORT is taken by another process (set LIUHEN_CEPH_MON_PORT): $(ss -Hltnp "sport = :$MON_PORT" | head -1)"
    fi
    if ! is_running "$RGW_NAME" && port_in_use "$RGW_PORT"; then
        die "port 127.0.0.1:$RGW_PORT is taken by another process (set LIUHEN_RGW_PORT): $(ss -Hltnp "sport = :$RGW_PORT" | head -1)"
    fi
    start_mon
    start_osd
    start_rgw
    ensure_user
    log "started in $(elapsed "$t0") s — $(ceph --version | awk '{print $3, $5}')"
}

cmd_stop() {
    local t0
    t0="$(now)"
    if [[ ! -f "$OURS" ]]; then log "no cluster state in $DIR: nothing of ours runs"; return 0; fi
    stop_daemon "$RGW_NAME"
    stop_daemon "osd.$OSD_ID"
    stop_daemon "mon.$MON_ID"
    log "stopped in $(elapsed "$t0") s"
}

cmd_status() {
    local name pid rc=0 rss
    if [[ ! -f "$BOOTSTRAPPED" ]]; then echo "no cluster in $DIR"; return 3; fi
    for name in "mon.$MON_ID" "osd.$OSD_ID" "$RGW_NAME"; do
        if pid="$(daemon_pid "$name")"; then
            rss="$(awk '/^VmRSS:/ {printf "%.0f MiB", $2/1024}' "/proc/$pid/status")"
            printf '%-20s running  pid %-8s rss %s\n' "$name" "$pid" "$rss"
        else
            printf '%-20s stopped\n' "$name"; rc=3
        fi
    done
    if rgw_answers; then
        echo "S3 endpoint          http://127.0.0.1:$RGW_PORT answers"
    else
        echo "S3 endpoint          http://127.0.0.1:$RGW_PORT does not answer"; rc=3
    fi
    if is_running "mon.$MON_ID"; then
        cephcli health 2>&1 | sed 's/^/ceph health          /' || true
    fi
    [[ -f "$S3_ENV" ]] && echo "credentials          $S3_ENV"
    return "$rc"
}

cmd_reset() {
    if [[ -d "$DIR" && ! -f "$OURS" && -n "$(ls -A "$DIR")" ]]; then
        die "refusing to delete $DIR: it has no $OURS, so this script did not make it"
    fi
    cmd_stop
    if [[ -d "$DIR" ]]; then
        log "deleting $DIR"
        rm -rf -- "$DIR"
    fi
}

cmd_env() {
    [[ -f "$S3_ENV" ]] || die "no $S3_ENV: run $0 start"
    cat "$S3_ENV"
}

main() {
    [[ "$DIR" == /* && "$DIR" != / ]] || die "LIUHEN_CEPH_DIR must be an absolute path other than /: '$DIR'"
    case "${1:-}" in
        install) cmd_install ;;
        start) cmd_start ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        reset) cmd_reset ;;
        env) cmd_env ;;
        *) echo "usage: $0 install|start|status|stop|reset|env" >&2; exit 2 ;;
    esac
}

main "$@"
