#!/bin/busybox sh
# avocado-rr guest /init (POSIX sh for busybox).
#
# Mounts what it needs, loads the kernel modules listed in
# /etc/avocado-rr/modules (dependencies first), finds the cloud-init
# NoCloud ISO (volume id "cidata"), runs its user-data and powers off.
# Every step prints a line "AVOCADO-RR: <step> [details]" on the console.
#
# user-data format: a shell script starting with "#!" (as NoCloud
# user-data may be).  It is sourced in a subshell, so it can call the
# helpers below:
#   rr_marker TEXT...            print "AVOCADO-RR: TEXT..."
#   rr_disk DEV [KIB]            hash the first KIB KiB (default 256) of
#                                DEV, write a fixed pattern there, drop
#                                caches, read it back and compare
#   rr_net_up [ADDR/LEN] [GW] [IFACE]
#                                static IPv4 (default 10.0.2.15/24 via
#                                10.0.2.2 on eth0), no DHCP
#   rr_http_get HOST PORT PATH   HTTP/1.0 GET with nc, prints the status
#                                line and sha256 and size of the body
# Any other user-data (e.g. "#cloud-config") is reported as unsupported.

/bin/busybox mkdir -p /proc /sys /dev /tmp /run /mnt/cidata /usr/bin \
    /usr/sbin /sbin
/bin/busybox --install -s
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH

rr_marker() {
    echo "AVOCADO-RR: $*"
}

rr_poweroff() {
    sync
    umount /mnt/cidata 2>/dev/null
    rr_marker poweroff
    # stay up a little after the last marker: a recorder waiting for it
    # stops the machine there (over QMP), which it can't once QEMU exited
    sleep 2
    poweroff -f
    # not reached; never let /init exit (the kernel would panic)
    while :; do sleep 60; done
}

# wait_for TEST ARG: retry "test TEST ARG" for up to ~10 s of guest time
wait_for() {
    tries=0
    while ! test "$1" "$2"; do
        tries=$((tries + 1))
        [ "$tries" -gt 100 ] && return 1
        sleep 0.1
    done
    return 0
}

rr_pattern() {
    # 32 bytes a line, 32 lines a KiB
    awk -v n=$(($1 * 32)) \
        'BEGIN { for (i = 0; i < n; i++) printf "avocado-rr block %014d\n", i }'
}

rr_disk() {
    dev=$1
    kib=${2:-256}
    if ! wait_for -b "$dev"; then
        rr_marker "disk-missing $dev"
        return 1
    fi
    before=$(dd if="$dev" bs=1024 count="$kib" 2>/dev/null | sha256sum)
    rr_marker "disk-before $dev ${before%% *}"
    written=$(rr_pattern "$kib" | sha256sum)
    rr_pattern "$kib" | dd of="$dev" bs=1024 count="$kib" iflag=fullblock \
        conv=fsync 2>/dev/null
    sync
    blockdev --flushbufs "$dev"
    echo 3 > /proc/sys/vm/drop_caches
    readback=$(dd if="$dev" bs=1024 count="$kib" 2>/dev/null | sha256sum)
    rr_marker "disk-written ${written%% *}"
    rr_marker "disk-readback ${readback%% *}"
    if [ "${written%% *}" = "${readback%% *}" ]; then
        rr_marker disk-ok
    else
        rr_marker disk-mismatch
        return 1
    fi
}

rr_net_up() {
    addr=${1:-10.0.2.15/24}
    gw=${2:-10.0.2.2}
    ifc=${3:-eth0}
    if ! wait_for -e "/sys/class/net/$ifc"; then
        rr_marker "net-missing $ifc"
        return 1
    fi
    ip link set lo up
    ip link set "$ifc" up
    ip addr add "$addr" dev "$ifc"
    ip route add default via "$gw"
    rr_marker "net-up $ifc $addr via $gw"
}

rr_http_get() {
    host=$1
    port=$2
    path=$3
    printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' \
        "$path" "$host" "$port" | nc -w 30 "$host" "$port" > /tmp/http.resp
    status=$(head -n 1 /tmp/http.resp | tr -d '\r')
    cr=$(printf '\r')
    hlen=$(sed -n "1,/^${cr}\$/p" /tmp/http.resp | wc -c)
    tail -c +$((hlen + 1)) /tmp/http.resp > /tmp/http.body
    sum=$(sha256sum < /tmp/http.body)
    size=$(wc -c < /tmp/http.body)
    rr_marker "http-status $status"
    rr_marker "http-sha256 ${sum%% *} size=$size"
    case "$status" in
        "HTTP/"*" 200 "*) return 0 ;;
    esac
    return 1
}

find_cidata() {
    tries=0
    while [ "$tries" -le 100 ]; do
        for dev in $(findfs LABEL=cidata 2>/dev/null) /dev/sr* /dev/vd* \
                /dev/sd*; do
            [ -b "$dev" ] || continue
            if mount -t iso9660 -o ro "$dev" /mnt/cidata 2>/dev/null; then
                if [ -f /mnt/cidata/user-data ]; then
                    CIDATA_DEV=$dev
                    return 0
                fi
                umount /mnt/cidata
            fi
        done
        tries=$((tries + 1))
        sleep 0.1
    done
    return 1
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
# keep kernel messages from splitting the markers on the console
dmesg -n 1
rr_marker init

if [ -f /etc/avocado-rr/modules ]; then
    while read -r mod; do
        [ -n "$mod" ] || continue
        insmod "/lib/modules/$mod" || rr_marker "insmod-failed $mod"
    done < /etc/avocado-rr/modules
fi
rr_marker modules-loaded

if ! find_cidata; then
    rr_marker "cidata-missing"
    rr_poweroff
fi
rr_marker "cidata $CIDATA_DEV"
instance=$(sed -n 's/^instance-id: *//p' /mnt/cidata/meta-data 2>/dev/null)
rr_marker "instance-id ${instance:-none}"

cp /mnt/cidata/user-data /tmp/user-data
if [ "$(head -c 2 /tmp/user-data)" = "#!" ]; then
    rr_marker user-data-start
    ( . /tmp/user-data )
    rr_marker "user-data-done rc=$?"
else
    rr_marker "user-data-unsupported $(head -n 1 /tmp/user-data)"
fi
rr_poweroff
