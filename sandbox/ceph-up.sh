#!/bin/sh
# A single-node Ceph with an S3 gateway, made on first start and started again on every later one:
# mon, mgr, one BlueStore OSD on a sparse 4 GiB file, radosgw (beast) on port 7480; then an S3 user and
# a bucket. Usage: ceph-up.sh ACCESS_KEY SECRET_KEY BUCKET
set -eu
access_key=$1
secret_key=$2
bucket=$3
name=s3
# The daemons talk to each other inside this container only; clients reach radosgw on every address.
ip=127.0.0.1

configure() {
    fsid=$(cat /proc/sys/kernel/random/uuid)
    cat >/etc/ceph/ceph.conf <<EOF
[global]
fsid = $fsid
mon initial members = $name
mon host = $ip
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
# One OSD holds every copy.
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd crush chooseleaf type = 0
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
# The machine's disk is shared with everything else: do not stop writes when it is fairly full.
mon data avail warn = 2
mon data avail crit = 1
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 4294967296
osd memory target = 536870912
[client.rgw.$name]
rgw frontends = beast port=7480
EOF
    ceph-authtool --create-keyring /tmp/mon.keyring --gen-key -n mon. --cap mon 'allow *' >/dev/null
    ceph-authtool --create-keyring /etc/ceph/ceph.client.admin.keyring --gen-key -n client.admin \
        --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
    mkdir -p /var/lib/ceph/bootstrap-osd
    ceph-authtool --create-keyring /var/lib/ceph/bootstrap-osd/ceph.keyring --gen-key -n client.bootstrap-osd \
        --cap mon 'profile bootstrap-osd' --cap mgr 'allow r' >/dev/null
    ceph-authtool /tmp/mon.keyring --import-keyring /etc/ceph/ceph.client.admin.keyring >/dev/null
    ceph-authtool /tmp/mon.keyring --import-keyring /var/lib/ceph/bootstrap-osd/ceph.keyring >/dev/null
    monmaptool --create --add "$name" "$ip" --fsid "$fsid" /tmp/monmap >/dev/null
    mkdir -p "/var/lib/ceph/mon/ceph-$name"
    ceph-mon --mkfs -i "$name" --monmap /tmp/monmap --keyring /tmp/mon.keyring
    rm -f /tmp/mon.keyring /tmp/monmap
    ceph-mon -i "$name"

    mkdir -p "/var/lib/ceph/mgr/ceph-$name"
    ceph auth get-or-create "mgr.$name" mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
        >"/var/lib/ceph/mgr/ceph-$name/keyring"

    uuid=$(cat /proc/sys/kernel/random/uuid)
    osd_key=$(ceph-authtool --gen-print-key)
    id=$(printf '{"cephx_secret": "%s"}' "$osd_key" \
        | ceph osd new "$uuid" -i - -n client.bootstrap-osd -k /var/lib/ceph/bootstrap-osd/ceph.keyring)
    mkdir -p "/var/lib/ceph/osd/ceph-$id"
    ceph-authtool --create-keyring "/var/lib/ceph/osd/ceph-$id/keyring" --name "osd.$id" --add-key "$osd_key" \
        >/dev/null
    ceph-osd -i "$id" --mkfs --osd-uuid "$uuid" 2>&1 | tail -1

    mkdir -p "/var/lib/ceph/radosgw/ceph-rgw.$name"
    ceph auth get-or-create "client.rgw.$name" mon 'allow rw' osd 'allow rwx' \
        >"/var/lib/ceph/radosgw/ceph-rgw.$name/keyring"
}

running() {
    pgrep -x "$1" >/dev/null
}

if [ ! -s /etc/ceph/ceph.conf ]; then
    configure
fi
running ceph-mon || ceph-mon -i "$name"
running ceph-mgr || ceph-mgr -i "$name"
for osd in /var/lib/ceph/osd/ceph-*; do
    running ceph-osd || ceph-osd -i "${osd##*/ceph-}"
done
running radosgw || radosgw -n "client.rgw.$name"

tries=0
until curl -fs -o /dev/null http://127.0.0.1:7480/; do
    tries=$((tries + 1))
    [ "$tries" -lt 120 ] || { echo "radosgw did not answer within 60s" >&2; exit 1; }
    sleep 0.5
done
radosgw-admin user info --uid=registry >/dev/null 2>&1 \
    || radosgw-admin user create --uid=registry --display-name=registry \
        --access-key="$access_key" --secret="$secret_key" >/dev/null
s3="s3cmd --access_key=$access_key --secret_key=$secret_key --host=127.0.0.1:7480 --host-bucket=127.0.0.1:7480"
s3="$s3 --no-ssl --region=us-east-1"
$s3 ls "s3://$bucket" >/dev/null 2>&1 || $s3 mb "s3://$bucket" >/dev/null
echo "ceph up: radosgw on $ip:7480, bucket $bucket"
