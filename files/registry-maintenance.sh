#!/bin/sh
# Managed by the registry deploy (files/registry-maintenance.sh): the registry's stop-the-world chores,
# safe to run at any time and to interrupt anywhere. Run by gc.py, delete_repos.py, prune_repos.py, the
# registry-gc timer, and by hand:
#
#   registry-maintenance gc [--dry-run] [--delete-untagged]
#   registry-maintenance delete-repos NAME...   a repository's own data only; nested ones stay
#   registry-maintenance prune                  repositories with no tag left
#   registry-maintenance recover                undo a read-only state an interrupted chore left
#   registry-maintenance migrate FROM TO ARGS... copy the data (volume:NAME or bind:PATH), run on TO
#   registry-maintenance tags                   every tag (push time, digest) and manifest stored
#   registry-maintenance delete-manifests REPOSITORY@DIGEST=TAG,...   delete them, then collect garbage
#   registry-maintenance backup FILE            archive the data (read-only only while it is linked aside)
#   registry-maintenance restore FILE [--force] put an archive's data in place and prove every tag
#   registry-maintenance stats | status
#   registry-maintenance report                 what status.py shows, as @-lines (takes no lock)
#   registry-maintenance metrics                the chores' metrics for the node exporter (takes no lock)
#
# With S3 storage the replicas share one bucket, and collecting needs every one of them read-only; gc.py,
# delete_repos.py and prune_repos.py run these steps on every replica, one replica at a time where they
# switch it (the load balancer drains it meanwhile):
#   registry-maintenance hold CHORE             take the lock until release, or until this SSH connection ends
#   registry-maintenance mark CHORE [--delete-untagged]   collect's first half, every replica still writable
#   registry-maintenance switch CHORE read-only|writable
#   registry-maintenance shared CHORE URL,... gc|delete-repos|prune|delete-manifests|backup|restore ARGS...
#                                               once, when every URL refuses uploads
#   registry-maintenance after CHORE backup|restore ARGS...   once, when every replica is writable again
#   registry-maintenance release CHORE          let the lock go; fails if the shared step failed
#
# Each chore first takes the host's maintenance lock (deploys take it too), then undoes any read-only
# state an earlier chore left behind (SIGKILL, reboot), then works. The registry is read-only (pulls
# work, uploads get 405) only while it collects, and a refused upload proves it before anything is
# collected; after switching back, an accepted upload proves it is writable before this says so.
# SIGHUP, SIGINT and SIGTERM switch it back once the command running ends; SIGKILL leaves that to the next
# chore or deploy.
# shellcheck source=files/registry-common.sh.j2
. /usr/local/lib/registry-deploy/common.sh
set -eu

PROBE_REPOSITORY=registry-maintenance/write-probe
LOG=/var/log/registry-maintenance.log
IN_WINDOW=0
# Across replicas (the shared step): every replica's URL, comma-separated; empty on a host of its own.
SHARED_URLS=
# Where the registry keeps its data in an S3 bucket.
STORE_ROOT=docker/registry/v2

usage() {
    sed -n 's/^#   //p' "$0" >&2
    exit 2
}

in_registry() { docker exec "$REGISTRY_CONTAINER" "$@"; }

# $1 percent-encoded as AWS SigV4 signs it: all but A-Z a-z 0-9 - . _ ~.
uri_encode() {
    printf '%s' "$1" | od -An -v -tu1 | awk 'BEGIN { ORS = "" } { for (i = 1; i <= NF; i++) { c = $i + 0
        if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 46 \
            || c == 95 || c == 126) printf "%c", c; else printf "%%%02X", c } }'
}

# Every request to the store names the chore's step as its User-Agent, so the store's own log tells which
# step of which chore made it (S3_AGENT: "registry-maintenance STEP").
S3_AGENT=registry-maintenance
s3_request() { curl -sS --fail --connect-timeout 5 -m 120 -A "$S3_AGENT" -K "$S3_CURL_CONFIG" "$@"; }

# "KEY SIZE MODIFIED ETAG" of every object in the bucket whose key starts with $1, from every page of the
# listing (MODIFIED: the store's own time of the object's last write, as S3 writes it: 2026-12-01T07:00:00.000Z;
# ETAG: the store's tag of its content, "-" when it gives none).
s3_objects() {
    _token=
    while :; do
        # curl signs the query as written: its parameters must be sorted and encoded as SigV4 expects.
        _query="list-type=2&prefix=$(uri_encode "$1")"
        [ -z "$_token" ] || _query="continuation-token=$(uri_encode "$_token")&$_query"
        _page=$(s3_request "$S3_ENDPOINT/$S3_BUCKET?$_query") || return 1
        printf '%s\n' "$_page" | sed 's#<Contents>#\n#g; s#&quot;##g' | sed -n \
            -e 's#^<Key>\([^<]*\)</Key>.*<LastModified>\([^<]*\)</LastModified>.*<ETag>"*\([^<"]*\)"*</ETag>.*<Size>\([0-9]*\)</Size>.*#\1 \4 \2 \3#p' \
            -e 't' -e 's#^<Key>\([^<]*\)</Key>.*<LastModified>\([^<]*\)</LastModified>.*<Size>\([0-9]*\)</Size>.*#\1 \3 \2 -#p'
        case $_page in *'<IsTruncated>true</IsTruncated>'*) ;; *) return 0 ;; esac
        _token=$(printf '%s\n' "$_page" | sed -n 's#.*<NextContinuationToken>\([^<]*\)</NextContinuationToken>.*#\1#p')
        [ -n "$_token" ] || return 1
    done
}

# The objects under $1 into file $2, or the chore stops here.
listed() {
    s3_objects "$1" >"$2" || die "could not list s3://$S3_BUCKET/$1 at $S3_ENDPOINT; nothing more was done"
}

# "N blobs, M bytes" of a listing of the bucket's blobs (s3_objects) on stdin.
blob_totals() { awk '$1 ~ /\/data$/ { n += 1; s += $2 } END { printf "%d blobs, %d bytes\n", n, s }'; }

blob_stats() {
    if [ "$STORAGE" = s3 ]; then
        # This chore's mark listed them already (and its sweep took out what it removed).
        if [ "$(cut -d' ' -f1 "$GC_MARK/chore" 2>/dev/null)" = "$CHORE_ID" ]; then
            blob_totals <"$GC_MARK/blobs"
            return
        fi
        _objects=$(mktemp)
        if s3_objects "$STORE_ROOT/blobs/" >"$_objects"; then
            blob_totals <"$_objects"
        else
            echo "unknown (the bucket could not be listed)"
        fi
        rm -f "$_objects"
        return
    fi
    in_registry sh -c "find $DATA_ROOT/blobs -type f -name data -exec stat -c %s {} + 2>/dev/null || true" \
        | awk '{ n += 1; s += $1 } END { printf "%d blobs, %d bytes\n", n, s }'
}

# The registry (or the one at URL $1) answers an upload's start with 405.
refuses_writes() { [ "$(http_status POST "${1:-$REGISTRY_URL}/v2/$PROBE_REPOSITORY/blobs/uploads/")" = 405 ]; }

# Start an upload and cancel it; true when the registry accepted it.
accepts_writes() {
    headers=$(mktemp)
    code=$(curl -s -o /dev/null -D "$headers" -w '%{http_code}' --connect-timeout 3 -m 10 -K "$CURL_CONFIG" \
        -X POST "$REGISTRY_URL/v2/$PROBE_REPOSITORY/blobs/uploads/" || true)
    location=$(tr -d '\r' <"$headers" | sed -n 's/^[Ll]ocation: *//p')
    rm -f "$headers"
    [ "$code" = 202 ] || return 1
    case $location in
        /*) http_status DELETE "$REGISTRY_URL$location" >/dev/null ;;
        ?*) http_status DELETE "$location" >/dev/null ;;
    esac
}

# The chore's read-only window. On a host of its own this switches the registry. Across replicas each one
# was switched by its own step: this proves every one refuses uploads before anything is removed.
enter_window() {
    if [ -z "$SHARED_URLS" ]; then
        read_only
        return
    fi
    for _url in $(printf '%s' "$SHARED_URLS" | tr , ' '); do
        _code=$(http_status POST "$_url/v2/$PROBE_REPOSITORY/blobs/uploads/")
        [ "$_code" = 405 ] || die "the replica at $_url answers an upload with HTTP $_code, not 405: it is not read-only; nothing was removed"
    done
    say "every replica refuses uploads (405): $SHARED_URLS"
}

leave_window() { [ -n "$SHARED_URLS" ] || writable; }

read_only() {
    mkdir -p "$(dirname "$READ_ONLY_MARK")"
    cat "$LOCK" >"$READ_ONLY_MARK"
    IN_WINDOW=1
    point_config_at readonly.yml
    if twin_possible; then
        twin_takes_over || {
            writable
            die "the registry's read-only twin did not serve within ${HEALTH_TIMEOUT}s; switched back, nothing done"
        }
    fi
    if ! restart_registry; then
        writable
        die "the registry did not answer in read-only mode within ${HEALTH_TIMEOUT}s; switched back, nothing done"
    fi
    if ! refuses_writes || { [ -n "$PROXY_URL" ] && ! refuses_writes "$PROXY_URL"; }; then
        writable
        die "the registry still accepted an upload in read-only mode; switched back, nothing done"
    fi
    say "read-only: uploads are refused (405), pulls work"
}

writable() {
    point_config_at writable.yml
    restart_registry \
        || die "the registry did not answer within ${HEALTH_TIMEOUT}s after switching back to writable; run: registry-maintenance recover"
    twin_gives_back \
        || die "the access proxy did not take the registry back from its read-only twin; run: registry-maintenance recover"
    wait_until 10 accepts_writes \
        || die "the registry refused a test upload after switching back: it is NOT writable; run: registry-maintenance recover"
    rm -f "$READ_ONLY_MARK"
    IN_WINDOW=0
    say "writable again: a test upload was accepted"
}

# --- The read-only twin. With the access proxy in front, the registry is switched without a moment in
# which no one serves: a twin of it (same image, mounts and configuration, read-only, on
# 127.0.0.1:READONLY_PORT) starts, the proxy sends every request to it, and the registry restarts
# read-only (its requests in flight finish first) and later writable, taking the requests back before the
# twin goes. The restarts also empty the registry's in-memory cache, so no blob a collection removed is
# still answered for. Without a proxy (users off) the registry restarts in place, as before.

# The proxy's runtime API socket on this host, found by twin_possible (before any proxy_cli).
PROXY_API=

# HAProxy's runtime API: send it command $1 (several separated by ";"), print its answer.
proxy_cli() { printf '%s\n' "$1" | socat -t 10 stdio "UNIX-CONNECT:$PROXY_API"; }

# The proxy runs, with its runtime API (a proxy made before the twin existed has none until a deploy).
twin_possible() {
    [ -n "$PROXY_VOLUME" ] && command -v socat >/dev/null 2>&1 || return 1
    PROXY_API="$(docker volume inspect -f '{{.Mountpoint}}' "$PROXY_VOLUME" 2>/dev/null)/$PROXY_SOCKET"
    [ -n "$(proxy_stat readonly 18 2>/dev/null)" ]
}

# Field $2 of server $1 (registry or readonly) in the proxy's statistics of its backend: 18, its status
# (UP, MAINT, DOWN...); 5, the requests it is serving.
proxy_stat() { proxy_cli "show stat" | awk -F, -v s="$1" -v f="$2" '$1 == "registry" && $2 == s { print $f }'; }
# True when the proxy sends server $1 requests: its checks pass and it is not in maintenance.
proxy_server_up() { [ "$(proxy_stat "$1" 18)" = UP ]; }

twin_serves() { [ "$(http_status GET "http://127.0.0.1:$READONLY_PORT/v2/")" = 200 ]; }

twin_takes_over() {
    docker rm -f "$READONLY_CONTAINER" >/dev/null 2>&1 || true
    _env=$(mktemp)
    docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$REGISTRY_CONTAINER" | sed '/^$/d' >"$_env"
    _started=$(docker run -d --name "$READONLY_CONTAINER" --volumes-from "$REGISTRY_CONTAINER" --env-file "$_env" \
        --publish "127.0.0.1:$READONLY_PORT:5000" --restart no \
        --stop-timeout "$(docker inspect -f '{{.Config.StopTimeout}}' "$REGISTRY_CONTAINER")" \
        "$(docker inspect -f '{{.Image}}' "$REGISTRY_CONTAINER")" 2>&1) || { rm -f "$_env"; say "$_started"; return 1; }
    rm -f "$_env"
    wait_until "$HEALTH_TIMEOUT" twin_serves || { show_logs "$READONLY_CONTAINER"; return 1; }
    # One command, so that the proxy never has neither: the twin answers (just proved), so its health is
    # set up at once rather than after its next check.
    proxy_cli "set server registry/readonly state ready; set server registry/readonly health up; set server registry/registry state maint" >/dev/null
    wait_until 5 proxy_server_up readonly && [ "$(proxy_stat registry 18)" = MAINT ] || return 1
    say "the read-only twin serves every request meanwhile"
}

# The proxy sends every request to the registry again and the twin goes (once its transfers are done);
# nothing to do when no twin runs and the proxy already does.
twin_gives_back() {
    if ! twin_possible; then
        docker rm -f "$READONLY_CONTAINER" >/dev/null 2>&1 || true
        return 0
    fi
    # The registry answers (restart_registry proved it): back in one command, as above.
    proxy_cli "set server registry/registry state ready; set server registry/registry health up; set server registry/readonly state maint" >/dev/null
    wait_until 5 proxy_server_up registry || return 1
    if docker container inspect "$READONLY_CONTAINER" >/dev/null 2>&1; then
        wait_until 30 twin_idle || true
        docker rm -f "$READONLY_CONTAINER" >/dev/null
    fi
}

# No request is being served by the twin (the proxy's count of its current sessions).
twin_idle() {
    _busy=$(proxy_stat readonly 5)
    [ "${_busy:-0}" = 0 ]
}

repair_leftover() {
    say "found the registry left read-only by an interrupted chore: $(cat "$READ_ONLY_MARK")"
    [ "$STORAGE" = s3 ] || repair_restore
    writable
    say "repaired the leftover read-only state"
}

# A restore killed while it swapped the data (see restore): with the archive's data not yet in place, the
# data it moved aside goes back; with it in place, the data it was asked to replace goes, as it would have.
repair_restore() {
    _root=$(data_dir 2>/dev/null) && [ -n "$_root" ] || return 0
    if [ -d "$_root/.replaced" ]; then
        if [ -d "$_root/docker" ]; then
            rm -rf "$_root/.replaced"
            say "an interrupted restore had put the archive's data in place: removed the data it replaced"
        else
            mv "$_root/.replaced" "$_root/docker"
            say "an interrupted restore had moved the registry's data aside: put it back (the archive was not restored)"
        fi
    fi
    rm -rf "$_root/.restore"
}

# A signal is handled once the command running in the foreground ends (a collection is never cut short):
# then the registry is switched back before exiting. Output goes where the chore's went (fds 3 and 4,
# saved at the start: the signal may come while a command's output is redirected to a file).
interrupted() {
    trap '' HUP INT TERM
    exec 1>&3 2>&4
    # After a hang-up nobody reads our output any more, and writing to it would kill us.
    [ "$1" != HUP ] || exec >>"$LOG" 2>&1
    if [ "$IN_WINDOW" = 1 ]; then
        say "interrupted by SIG$1 while read-only: switching back"
        writable
    fi
    die "interrupted by SIG$1"
}

# Keep this chore's output where it goes now (fds 3 and 4) and handle signals with interrupted.
handle_signals() {
    exec 3>&1 4>&2
    trap 'interrupted HUP' HUP
    trap 'interrupted INT' INT
    trap 'interrupted TERM' TERM
}

# --- The collector on S3 storage. distribution's own walks the bucket one request after another, every
# step of it with every replica read-only (about 0.5 s a repository on the sandbox's Ceph, 2,800 requests
# for 200 repositories). This one reads the bucket in a few listings of 1,000 keys and fetches manifests
# in parallel. It marks with the registry still writable (mark), then, inside the window in which every
# replica refuses uploads, lists the repositories again and reads only what is new or changed since: the
# window grows with what changed during the mark, not with the registry's size. Marking is distribution's
# (every manifest revision and what it names; with --delete-untagged only tagged ones, what they name, and
# any manifest another kept one names), by digests read from the manifests' text: a digest anywhere in a
# manifest keeps its blob, so a reference a manifest's format adds later is never missed. What it removes
# and the races it is safe against: docs/maintenance.md ("The collector on S3").

# This chore's mark: the listings and what was read, complete once its `chore` file is written (last).
GC_MARK=/var/lib/registry-maintenance/gc-mark
# "MANIFEST DIGEST" lines: the digests each manifest's text names (itself included). A manifest's digest is
# the hash of its text, so a line is never stale; kept across chores for the manifests still stored.
MANIFEST_REFS=/var/lib/registry-maintenance/manifest-refs
# The chore this step belongs to (across replicas its name; run alone, this process).
CHORE_ID=pid-$$
# Transfers at once when reading or deleting many objects.
S3_PARALLEL=16

# One transfer per "KEY OUTPUT" line of file $1 (OUTPUT: where its body goes), S3_PARALLEL at once, signed
# and named as s3_request's; more curl arguments after $1 (the method, what to write per transfer).
s3_parallel() {
    _cfg=$1.curl
    awk -v base="$S3_ENDPOINT/$S3_BUCKET" '{ printf "url = \"%s/%s\"\noutput = \"%s\"\n", base, $1, $2 }' "$1" >"$_cfg"
    shift
    [ ! -s "$_cfg" ] || curl -sS -g --no-progress-meter --connect-timeout 5 -m 120 --parallel \
        --parallel-max "$S3_PARALLEL" -A "$S3_AGENT" -K "$S3_CURL_CONFIG" -K "$_cfg" "$@" || true
    rm -f "$_cfg"
}

# Fetch the objects in file $1 ("KEY OUTPUT" lines) in parallel into OUTPUT; "STATUS OUTPUT" per object
# on stdout (404: no such object; 000: no answer).
s3_fetch() { s3_parallel "$1" -w '%{http_code} %{filename_effective}\n'; }

# Delete the objects whose keys are in file $1, in parallel; fails unless every one answered 2xx (S3
# answers 204 for a key already gone, so deleting twice is no error): a transfer that got no answer at all
# (curl gone) counts as failed too.
s3_delete_keys() {
    [ -s "$1" ] || return 0
    awk '{ print $1, "/dev/null" }' "$1" >"$1.transfers"
    s3_parallel "$1.transfers" -X DELETE -w '%{http_code} %{url}\n' >"$1.answers"
    _failed=$(awk '$1 !~ /^2/' "$1.answers" | head -n 3)
    _deleted=$(awk '$1 ~ /^2/ { print $2 }' "$1.answers" | sort -u | wc -l)
    rm -f "$1.transfers" "$1.answers"
    if [ -n "$_failed" ] || [ "$_deleted" -ne "$(awk '{ print $1 }' "$1" | sort -u | wc -l)" ]; then
        say "deleting from s3://$S3_BUCKET failed: ${_failed:-some got no answer}"
        return 1
    fi
}

# For every manifest revision in repositories listing $1 not yet in MANIFEST_REFS, read the manifest and
# add what it names. A revision whose manifest is missing from the store is reported and names nothing.
s3_manifest_refs() {
    touch "$MANIFEST_REFS"
    _work=$(mktemp -d)
    sed -n 's#.*/_manifests/revisions/\([a-z0-9]*\)/\([0-9a-f]*\)/link .*#\1:\2#p' "$1" | sort -u >"$_work/stored"
    mkdir "$_work/read"
    awk '{ print $1 }' "$MANIFEST_REFS" | sort -u | comm -23 "$_work/stored" - \
        | awk -v root="$STORE_ROOT/blobs" -v dir="$_work/read" '{ split($1, d, ":")
            printf "%s/%s/%s/%s/data %s/%s-%s\n", root, d[1], substr(d[2], 1, 2), d[2], dir, d[1], d[2] }' >"$_work/wanted"
    s3_fetch "$_work/wanted" >"$_work/fetched"
    # Every manifest read (200) or missing (404), each answered once: a manifest whose text was not read
    # would keep nothing it names.
    _failed=$(awk '$1 != 200 && $1 != 404' "$_work/fetched" | head -n 3)
    if [ -n "$_failed" ] || [ "$(awk '{ print $2 }' "$_work/fetched" | sort -u | wc -l)" != "$(wc -l <"$_work/wanted")" ]; then
        rm -rf "$_work"
        die "could not read every manifest from s3://$S3_BUCKET (${_failed:-some got no answer}); nothing was removed"
    fi
    awk '$1 == 404 { n = split($2, p, "/"); sub("-", ":", p[n]); print p[n] }' "$_work/fetched" | while read -r _missing; do
        say "manifest $_missing is listed in a repository but its data is not in the store: it names nothing"
    done
    # "MANIFEST MANIFEST" for each one read, then "MANIFEST DIGEST" for each digest its text names. Every
    # manifest names one at least (a config, or its platforms): one read that names none stops the chore.
    awk '$1 == 200 { n = split($2, p, "/"); sub("-", ":", p[n]); print p[n], p[n] }' "$_work/fetched" >"$_work/new"
    if grep -roHE '(sha256|sha384|sha512):[0-9a-f]{64,128}' "$_work/read" >"$_work/names"; then :; else
        [ $? -eq 1 ] || { rm -rf "$_work"; die "could not read the manifests fetched; nothing was removed"; }
    fi
    sed 's#^.*/\([a-z0-9]*\)-\([0-9a-f]*\):#\1:\2 #' "$_work/names" >>"$_work/new"
    _blank=$(awk '$1 != $2 { names[$1] = 1; next } { read[$1] = 1 } END { for (m in read) if (!(m in names)) { print m; exit } }' "$_work/new")
    if [ -n "$_blank" ]; then
        rm -rf "$_work"
        die "manifest $_blank names no digest: it could not be read whole; nothing was removed"
    fi
    # Only what is still stored is kept: the file grows with the registry, not with its history.
    awk 'FILENAME == ARGV[1] { stored[$1] = 1; next } $1 in stored' "$_work/stored" "$MANIFEST_REFS" "$_work/new" \
        | sort -u >"$MANIFEST_REFS.new"
    mv "$MANIFEST_REFS.new" "$MANIFEST_REFS"
    wc -l <"$_work/wanted" >"$1.read"
    rm -rf "$_work"
}

# "KEY ETAG DIGEST" of every tag's current link in repositories listing $1, into file $2: read again only
# where the link is new or its ETag changed since file $3 (an earlier reading, or nothing).
s3_current_tags() {
    _work=$(mktemp -d)
    awk '$1 ~ /\/_manifests\/tags\/[^\/]*\/current\/link$/ { print $1, $4 }' "$1" | sort >"$_work/now"
    touch "$_work/before"
    [ -z "${3:-}" ] || [ ! -f "$3" ] || sort "$3" >"$_work/before"
    # Unchanged: same key and ETag (S3's ETag of a single PUT is the MD5 of its content).
    awk 'FILENAME == ARGV[1] { seen[$1 " " $2] = $3; next } ($1 " " $2) in seen { print $1, $2, seen[$1 " " $2] }' \
        "$_work/before" "$_work/now" >"$2"
    awk -v dir="$_work" 'FILENAME == ARGV[1] { seen[$1 " " $2] = 1; next } !(($1 " " $2) in seen) { print $1, dir "/t" FNR }' \
        "$_work/before" "$_work/now" >"$_work/wanted"
    s3_fetch "$_work/wanted" >"$_work/fetched"
    if awk '$1 != 200 { bad = 1 } END { exit !bad }' "$_work/fetched" \
        || [ "$(awk '{ print $2 }' "$_work/fetched" | sort -u | wc -l)" != "$(wc -l <"$_work/wanted")" ]; then
        rm -rf "$_work"
        die "could not read every tag from s3://$S3_BUCKET; nothing was removed"
    fi
    # Each link holds its digest, with no newline; anything else stops the chore (a tag read wrong could
    # leave its manifest untagged, and deleted).
    awk '{ digest = ""; getline digest <$2; close($2); print $1, digest }' "$_work/wanted" >"$_work/read"
    if awk '$2 !~ /^[a-z0-9]+:[0-9a-f]+$/ { bad = 1 } END { exit !bad }' "$_work/read"; then
        rm -rf "$_work"
        die "a tag's link in s3://$S3_BUCKET does not hold a digest; nothing was removed"
    fi
    awk 'FILENAME == ARGV[1] { etag[$1] = $2; next } { print $1, etag[$1], $2 }' "$_work/now" "$_work/read" >>"$2"
    wc -l <"$_work/wanted" >"$2.read"
    rm -rf "$_work"
}

# True when this chore marked the bucket with the registry writable (flags $1 as it marked).
s3_marked() { [ "$(cat "$GC_MARK/chore" 2>/dev/null)" = "$CHORE_ID ${1:-}" ]; }

# Mark, with the registry writable: the blobs (the only ones the sweep may remove), the repositories, what
# each manifest names, and with --delete-untagged ($1) every tag.
s3_mark() {
    _started=$(date +%s%N)
    S3_AGENT="registry-maintenance gc-mark"
    rm -rf "$GC_MARK"
    mkdir -p "$GC_MARK"
    # The repositories first: a layer link listed then whose blob the listing after lacks names no blob.
    listed "$STORE_ROOT/repositories/" "$GC_MARK/repositories"
    listed "$STORE_ROOT/blobs/" "$GC_MARK/blobs"
    s3_manifest_refs "$GC_MARK/repositories"
    [ -z "${1:-}" ] || s3_current_tags "$GC_MARK/repositories" "$GC_MARK/tags"
    printf '%s %s\n' "$CHORE_ID" "${1:-}" >"$GC_MARK/chore"
    say "marked $(grep -c '/_manifests/revisions/' "$GC_MARK/repositories" || true) manifest revisions and $(wc -l <"$GC_MARK/blobs") blobs in $((($(date +%s%N) - _started) / 1000000))ms ($(cat "$GC_MARK/repositories.read") manifests read)"
}

# Decide, deleting untagged manifests when $1 says so, from the mark and repositories listing $2 (the
# window's): into $GC_MARK, the keys of untagged manifests (doomed-manifests: tag history links first, the
# revision last), of blobs (doomed-blobs) and of layer links (doomed-layers): those to the blobs removed, and
# those a sweep cut off left to no blob (unchanged since the mark, whose blobs were listed after it, and
# named by no kept manifest); "eligible for deletion" lines, as distribution's, in decided.
s3_decide() {
    rm -f "$GC_MARK"/doomed-*
    touch "$GC_MARK/tags"
    awk -v untagged="$1" -v root="$STORE_ROOT/" -v out="$GC_MARK" '
        function mark(d,   n, i, r) {
            if (d in marked) return
            marked[d] = 1
            n = split(refs[d], r, " ")
            for (i = 1; i <= n; i++) mark(r[i])
        }
        part == "refs" { if ($1 != $2) refs[$1] = refs[$1] " " $2; next }
        part == "tags" { t = $1; sub(/\/_manifests\/tags\/[^\/]*\/current\/link$/, "", t); tagged[t SUBSEP $3] = 1; next }
        part == "marked" { at_mark[$1] = $3 " " $4; next }
        part == "now" {
            key = $1
            if (!match(key, /\/_(manifests|layers|uploads)\//)) next
            repo = substr(key, 1, RSTART - 1); rest = substr(key, RSTART + 1)
            if (rest ~ /^_manifests\/revisions\/[a-z0-9]+\/[0-9a-f]+\//) {
                split(rest, p, "/"); d = p[3] ":" p[4]
                revision[repo SUBSEP d] = 1; revkeys[repo SUBSEP d] = revkeys[repo SUBSEP d] " " key
            } else if (rest ~ /^_manifests\/tags\/[^\/]+\/index\/[a-z0-9]+\/[0-9a-f]+\/link$/) {
                split(rest, p, "/"); d = p[5] ":" p[6]
                tagkeys[repo SUBSEP d] = tagkeys[repo SUBSEP d] " " key
            } else if (rest ~ /^_layers\/[a-z0-9]+\/[0-9a-f]+\/link$/) {
                split(rest, p, "/"); layer[key] = p[2] ":" p[3]
                if (at_mark[key] == $3 " " $4) unchanged[key] = 1
            }
            next
        }
        part == "blobs" {   # docker/registry/v2/blobs/ALG/XX/HEX/data
            split(substr($1, length(root) + 1), p, "/")
            if (p[1] == "blobs") { d = p[2] ":" p[4]; blobkeys[d] = blobkeys[d] " " $1; size[d] += $2 }
        }
        END {
            # mark() follows what each manifest names, so a manifest a kept one names (an image index'"'"'s
            # platforms) is marked, and what it names, wherever it is stored.
            for (rd in revision) { split(rd, x, SUBSEP); if (untagged == "" || rd in tagged) mark(x[2]) }
            count = 0
            for (d in marked) count++
            manifests = 0
            for (rd in revision) {
                split(rd, x, SUBSEP)
                if (x[2] in marked) continue
                manifests++
                print "manifest eligible for deletion: " substr(x[1], length(root) + length("repositories/") + 1) "@" x[2]
                n = split(tagkeys[rd], k, " "); for (i = 1; i <= n; i++) print k[i] > (out "/doomed-manifests")
                n = split(revkeys[rd], k, " "); for (i = 1; i <= n; i++) print k[i] > (out "/doomed-manifests")
            }
            blobs = 0; bytes = 0
            for (d in blobkeys) {
                if (d in marked) continue
                blobs++; bytes += size[d]; doomed[d] = 1
                print "blob eligible for deletion: " d
                n = split(blobkeys[d], k, " "); for (i = 1; i <= n; i++) print k[i] > (out "/doomed-blobs")
            }
            for (key in layer) {
                d = layer[key]
                if (d in doomed || (key in unchanged && !(d in blobkeys) && !(d in marked))) print key > (out "/doomed-layers")
            }
            printf "%d blobs marked, %d blobs (%d bytes) and %d manifests eligible for deletion\n", count, blobs, bytes, manifests
        }' part=refs "$MANIFEST_REFS" part=tags "$GC_MARK/tags" part=marked "$GC_MARK/repositories" \
        part=now "$2" part=blobs "$GC_MARK/blobs" >"$GC_MARK/decided"
}

# Collect on S3: the mark made with the registry writable when this chore made one, else made now; then,
# unless a dry run, inside the window: the repositories listed again, what is new or changed read, the
# decision, and the sweep in distribution's order (untagged manifests, blobs, layer links). Interrupted,
# what was removed was garbage and the next collection removes the rest.
s3_collect() {
    _dry=
    _untagged=
    for _arg in "$@"; do
        case $_arg in
            --dry-run) _dry=1 ;;
            --delete-untagged) _untagged=--delete-untagged ;;
        esac
    done
    if ! s3_marked "$_untagged"; then
        [ -n "$_dry" ] || say "no mark made with the registry writable for this chore: marking in the window"
        s3_mark "$_untagged"
    fi
    _listing=$GC_MARK/repositories
    if [ -z "$_dry" ]; then
        S3_AGENT="registry-maintenance gc-window"
        _listing=$GC_MARK/repositories.window
        listed "$STORE_ROOT/repositories/" "$_listing"
        s3_manifest_refs "$_listing"
        _changed=0
        if [ -n "$_untagged" ]; then
            s3_current_tags "$_listing" "$GC_MARK/tags.window" "$GC_MARK/tags"
            mv "$GC_MARK/tags.window" "$GC_MARK/tags"
            _changed=$(cat "$GC_MARK/tags.window.read")
        fi
        say "in the window: $(cat "$_listing.read") manifests and $_changed tags new or changed since the mark were read"
    fi
    s3_decide "$_untagged" "$_listing"
    [ -z "$_dry" ] || return 0
    touch "$GC_MARK/doomed-manifests" "$GC_MARK/doomed-blobs" "$GC_MARK/doomed-layers"
    S3_AGENT="registry-maintenance gc-sweep"
    for _doomed in manifests blobs layers; do
        s3_delete_keys "$GC_MARK/doomed-$_doomed" \
            || die "the sweep stopped part way: what it removed was garbage; run gc again to finish"
    done
    # What the store holds now, for the stats after: the mark's blobs less those removed.
    awk 'FILENAME == ARGV[1] { gone[$1] = 1; next } !($1 in gone)' "$GC_MARK/doomed-blobs" "$GC_MARK/blobs" >"$GC_MARK/blobs.after"
    mv "$GC_MARK/blobs.after" "$GC_MARK/blobs"
}

collect() {
    started=$(date +%s%N)
    out=$(mktemp)
    if [ "$STORAGE" = s3 ]; then
        s3_collect "$@"
        cp "$GC_MARK/decided" "$out"
    else
        in_registry mkdir -p "$DATA_ROOT/repositories"
        if ! in_registry registry garbage-collect "$@" "$CONFIG_TARGET/config.yml" >"$out" 2>&1; then
            cat "$out" >&2
            rm -f "$out"
            return 1
        fi
    fi
    elapsed=$((($(date +%s%N) - started) / 1000000))
    eligible=$(grep -c '^\(blob\|manifest\) eligible for deletion' "$out" || true)
    grep 'eligible for deletion' "$out" || true
    rm -f "$out"
}

gc() {
    dry_run=
    untagged=
    for arg in "$@"; do
        case $arg in
            --dry-run) dry_run=--dry-run ;;
            --delete-untagged) untagged=--delete-untagged ;;
            *) usage ;;
        esac
    done
    # distribution 2's collector deletes an image index's platform manifests (no tag points at them), and
    # the index's tag stops pulling; distribution 3 marks them through the index.
    [ -z "$untagged" ] || [ "$REGISTRY_MAJOR" -ge 3 ] \
        || die "--delete-untagged on registry $REGISTRY_MAJOR would break every multi-arch image (its platform manifests have no tag); registry 3 keeps them; nothing was done"
    # On S3 the mark is made before the window (across replicas by the chore's mark step).
    [ "$STORAGE" != s3 ] || s3_marked "$untagged" || [ -n "$SHARED_URLS" ] || s3_mark "$untagged"
    stats=$(blob_stats)
    if [ "${stats%% *}" = 0 ]; then
        say "nothing to collect: the registry holds no blob"
        return
    fi
    if [ -n "$dry_run" ]; then
        collect --dry-run ${untagged:+"$untagged"}
        say "dry run: $eligible blobs and manifests would go; nothing removed"
        return
    fi
    say "before: $stats"
    enter_window
    collect ${untagged:+"$untagged"}
    say "garbage collected in ${elapsed}ms"
    leave_window
    after=$(blob_stats)
    say "after: $after"
    mkdir -p "$(dirname "$LAST_GC")"
    printf '%s %s %s\n' "$stats" "$after" "$(date +%s)" | awk '{ print $1, $3, $5, $7, $9 }' >"$LAST_GC"
}

valid_name() {
    case $1 in *'
'*) return 1 ;; esac
    printf '%s\n' "$1" | grep -Eqx '[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*'
}

is_repository() {
    if [ "$STORAGE" = s3 ]; then
        _objects=$(mktemp)
        # Its own _manifests, _layers or _uploads (a bucket has no empty directories: a repository whose
        # manifests were all deleted keeps only its layer links, and the catalog still lists it).
        listed "$STORE_ROOT/repositories/$1/_" "$_objects"
        _found=$(head -c 1 "$_objects")
        rm -f "$_objects"
        [ -n "$_found" ]
        return
    fi
    in_registry test -d "$DATA_ROOT/repositories/$1/_manifests"
}

# A repository's own data: its manifests, layer links and uploads. Repositories nested under it (team/app
# under team) live beside these and stay; its directory, and empty parents, go only once empty (a bucket
# has no directories).
remove_repository() {
    if [ "$STORAGE" = s3 ]; then
        _objects=$(mktemp)
        listed "$STORE_ROOT/repositories/$1/" "$_objects"
        awk -v own="$STORE_ROOT/repositories/$1/" 'index($1, own) == 1 \
            && substr($1, length(own) + 1) ~ /^_(manifests|layers|uploads)\// { print $1 }' "$_objects" \
            | while read -r _key; do
                s3_request -o /dev/null -X DELETE "$S3_ENDPOINT/$S3_BUCKET/$_key" || exit 1
            done || die "could not delete all of $1 from s3://$S3_BUCKET; run the chore again to finish it"
        rm -f "$_objects"
        return
    fi
    dir="$DATA_ROOT/repositories/$1"
    in_registry rm -rf "$dir/_manifests" "$dir/_layers" "$dir/_uploads"
    while [ "$dir" != "$DATA_ROOT/repositories" ] && in_registry rmdir "$dir" 2>/dev/null; do
        dir=$(dirname "$dir")
    done
}

# The registry lists no tag of repository $1: registry 2 answers 404 (NAME_UNKNOWN); registry 3 on S3
# answers 200 with no tag (its S3 driver lists a prefix that holds nothing as empty, not as missing).
repository_gone() {
    _tags=$(api_get "$1/tags/list" 404-is-empty) || return 1
    [ -z "$(printf '%s\n' "$_tags" | json_list tags)" ]
}

delete_repos() {
    [ $# -gt 0 ] || usage
    for name in "$@"; do
        valid_name "$name" || die "'$name' is not a repository name; nothing was deleted"
        is_repository "$name" || die "no such repository: $name; nothing was deleted"
    done
    say "before: $(blob_stats)"
    enter_window
    for name in "$@"; do
        remove_repository "$name"
        say "removed repository $name"
    done
    collect
    say "garbage collected in ${elapsed}ms"
    leave_window
    for name in "$@"; do
        repository_gone "$name" || die "repository $name still answers after its deletion"
    done
    say "after: $(blob_stats)"
}

# Repositories that have manifests but no tag, one per line.
untagged_repositories() {
    if [ "$STORAGE" = s3 ]; then
        _objects=$(mktemp)
        listed "$STORE_ROOT/repositories/" "$_objects"
        awk -v root="$STORE_ROOT/repositories/" '{ key = substr($1, length(root) + 1)
            if (match(key, /\/_(manifests|layers|uploads)\//)) { name = substr(key, 1, RSTART - 1); stored[name] = 1
                if (index(substr(key, RSTART + 1), "_manifests/tags/") == 1) tagged[name] = 1 } }
            END { for (name in stored) if (!(name in tagged)) print name }' "$_objects" | sort
        rm -f "$_objects"
        return
    fi
    root="$DATA_ROOT/repositories"
    all=$(mktemp)
    in_registry find "$root" -type d -name _manifests 2>/dev/null | sed "s#^$root/##; s#/_manifests\$##" \
        | sort >"$all" || true
    in_registry find "$root" -type d -path '*/_manifests/tags/*' -prune 2>/dev/null \
        | sed "s#^$root/##; s#/_manifests/tags/[^/]*\$##" | sort -u | comm -23 "$all" - || true
    rm -f "$all"
}

prune() {
    names=$(mktemp)
    untagged_repositories >"$names"
    if [ ! -s "$names" ]; then
        rm -f "$names"
        say "nothing to prune: every repository has a tag"
        return
    fi
    say "before: $(blob_stats)"
    enter_window
    # Listed again now that no push can add a tag meanwhile.
    untagged_repositories >"$names"
    while read -r name; do
        remove_repository "$name"
        say "pruned empty repository $name"
    done <"$names"
    rm -f "$names"
    collect
    say "garbage collected in ${elapsed}ms"
    leave_window
    say "after: $(blob_stats)"
}

# The directory on this host behind a storage place: volume:NAME or bind:PATH.
host_path() {
    case $1 in
        volume:*) docker volume inspect --format '{{.Mountpoint}}' "${1#volume:}" ;;
        bind:/*) printf '%s\n' "${1#bind:}" ;;
        *) die "not a storage place: $1 (volume:NAME or bind:PATH)" ;;
    esac
}

# The registry's data directory on this host, whichever place it is (what its container mounts).
data_dir() {
    docker inspect --format \
        "{{range .Mounts}}{{if eq .Destination \"${DATA_ROOT%/docker/registry/v2}\"}}{{.Source}}{{end}}{{end}}" \
        "$REGISTRY_CONTAINER"
}

# "PUSHED REPOSITORY TAG DIGEST", one line per tag stored under data root $1 (PUSHED: the tag's last write).
tag_lines() {
    _repositories="$1/docker/registry/v2/repositories"
    [ -d "$_repositories" ] || return 0
    find "$_repositories" -path '*/_manifests/tags/*/current/link' -printf '%T@ %p\n' | while read -r _pushed _link; do
        _tag=${_link%/current/link}
        _repository=${_tag%/_manifests/tags/*}
        printf '%s %s %s %s\n' "${_pushed%.*}" "${_repository#"$_repositories"/}" "${_tag##*/}" "$(cat "$_link")"
    done | sort -k2
}

# "repository:tag digest", sorted, from tag lines on stdin: what two copies of the data are compared by.
as_digests() { awk '{ print $2 ":" $3 " " $4 }' | sort; }
# The same for every tag stored under data root $1.
tag_digests() { tag_lines "$1" | as_digests; }

# Every manifest each repository stores, as "REPOSITORY DIGEST BASE64-OF-THE-MANIFEST".
manifest_lines() {
    _repositories="$1/docker/registry/v2/repositories"
    [ -d "$_repositories" ] || return 0
    find "$_repositories" -path '*/_manifests/revisions/sha256/*/link' | while read -r _link; do
        _revision=${_link%/link}
        _hex=${_revision##*/}
        _repository=${_revision%/_manifests/revisions/sha256/*}
        _blob="$1/docker/registry/v2/blobs/sha256/$(printf %.2s "$_hex")/$_hex/data"
        [ ! -f "$_blob" ] || printf '%s sha256:%s %s\n' "${_repository#"$_repositories"/}" "$_hex" "$(base64 -w0 <"$_blob")"
    done
}

blob_files() { find "$1/docker/registry/v2/blobs" -type f -name data -exec stat -c '%n %s' {} + 2>/dev/null \
    | sed "s#^$1/##" | sort; }

# Copy the registry's data with the registry read-only (pulls keep working), prove the copy holds every
# tag with the same digest and every blob with the same size, run the registry on it (still read-only),
# prove every tag answers with its digest there, then switch back to writable. FROM is left as it was.
migrate() {
    [ $# -ge 3 ] || usage
    from=$(host_path "$1")
    to=$(host_path "$2")
    source_place=$1
    target_place=$2
    shift 2
    [ -d "$to" ] || die "$target_place does not exist; nothing was copied"
    if [ -e "$to/$MIGRATION_INCOMPLETE" ]; then
        rm -rf "${to:?}/docker" "${to:?}/$MIGRATION_INCOMPLETE"
        say "cleared the unfinished copy an interrupted migration left in $target_place"
    fi
    [ -z "$(tag_digests "$to")" ] || die "$target_place already holds tags; nothing was copied"
    read_only
    touch "$to/$MIGRATION_INCOMPLETE"
    expected=$(mktemp)
    tag_digests "$from" >"$expected"
    # The place keeps its own mode and owner (the bind directory is root-only): only its contents come over.
    mode=$(stat -c %a "$to")
    owner=$(stat -c %u:%g "$to")
    cp -a "$from/." "$to/"
    chmod "$mode" "$to"
    chown "$owner" "$to"
    if ! tag_digests "$to" | cmp -s - "$expected" || [ "$(blob_files "$from")" != "$(blob_files "$to")" ]; then
        rm -f "$expected"
        writable
        die "the copy in $target_place differs from $source_place; the registry stays on $source_place"
    fi
    say "copied $(wc -l <"$expected") tags and $(blob_files "$to" | wc -l) blobs to $target_place"
    REGISTRY_LOCK_HELD=1 /usr/local/sbin/registry-container replace "$REGISTRY_CONTAINER" "$@"
    rm -f "$to/$MIGRATION_INCOMPLETE"
    every_tag_answers "$expected" || die "on $target_place not every tag answers as it did; $source_place is untouched"
    say "every tag answers with its digest from $target_place"
    rm -f "$expected"
    writable
    say "migrated from $source_place to $target_place; $source_place is left as it was"
}

# An object's content, from the bucket.
s3_get() { s3_request "$S3_ENDPOINT/$S3_BUCKET/$1"; }

# The repositories' objects into file $1 (one listing of the bucket: s3_tag_lines, s3_manifest_lines and
# s3_delete_manifest read it, so a chore lists once).
repositories_listed() { listed "$STORE_ROOT/repositories/" "$1"; }

# tag_lines for the bucket, from listing $1 (repositories_listed): PUSHED is the store's time of the tag's
# last write (its current/link object).
s3_tag_lines() {
    _root="$STORE_ROOT/repositories/"
    if ! grep '/_manifests/tags/[^/]*/current/link ' "$1" | while read -r _key _size _modified _etag; do
        _tag=${_key%/current/link}
        _repository=${_tag%/_manifests/tags/*}
        _digest=$(s3_get "$_key") || exit 1
        printf '%s %s %s %s\n' "$(date -d "$_modified" +%s)" "${_repository#"$_root"}" "${_tag##*/}" "$_digest"
    done >"$1.tags"; then
        rm -f "$1.tags"
        die "could not read every tag from s3://$S3_BUCKET; nothing was done"
    fi
    sort -k2 "$1.tags"
    rm -f "$1.tags"
}

# manifest_lines for the bucket, from listing $1 (repositories_listed).
s3_manifest_lines() {
    _root="$STORE_ROOT/repositories/"
    grep '/_manifests/revisions/sha256/[0-9a-f]*/link ' "$1" | while read -r _key _rest; do
        _revision=${_key%/link}
        _hex=${_revision##*/}
        _repository=${_revision%/_manifests/revisions/sha256/*}
        _manifest=$(s3_get "$STORE_ROOT/blobs/sha256/$(printf %.2s "$_hex")/$_hex/data" | base64 -w0) || continue
        printf '%s sha256:%s %s\n' "${_repository#"$_root"}" "$_hex" "$_manifest"
    done
}

list_stored() {
    if [ "$STORAGE" = s3 ]; then
        _listing=$(mktemp)
        repositories_listed "$_listing"
        # Every tag or none: a decision made on some of them could let a digest go that another needs.
        _tags=$(s3_tag_lines "$_listing") || exit 1
        printf '%s\n' "$_tags" | sed '/^$/d; s/^/@tag /'
        s3_manifest_lines "$_listing" | sed 's/^/@manifest /'
        rm -f "$_listing"
        return
    fi
    root="$(data_dir)"
    tag_lines "$root" | sed 's/^/@tag /'
    manifest_lines "$root" | sed 's/^/@manifest /'
}

# True when a manifest of repository $1 in manifest lines file $4, other than those of the chosen entries
# ($3: "REPOSITORY@DIGEST=..." lines), names digest $2: an image index pushed since the decision that
# needs it as a platform.
needed_by_another() {
    _found=$(awk -v r="$1" '$1 == r { print $2, $3 }' "$4" | while read -r _digest _encoded; do
        case $3 in *"$1@$_digest="*) continue ;; esac
        if printf '%s' "$_encoded" | base64 -d | grep -qF "\"$2\""; then echo "$_digest"; break; fi
    done)
    [ -n "$_found" ]
}

# What a manifest DELETE does to the store, done inside the read-only window of every replica (which
# refuse a DELETE meanwhile), in distribution's own order: the manifest's revision link in repository $1
# removed (digest $2), then the tags that point at it ($3: space-separated) untagged; $4: the window's
# listing (repositories_listed). Interrupted in between, the tags are still listed, so the next run decides
# them again and finishes (the other order would leave a manifest no tag names, which registry 2's
# collector keeps for ever). Its blobs go with the garbage collection after.
s3_delete_manifest() {
    _doomed=$(mktemp)
    echo "$STORE_ROOT/repositories/$1/_manifests/revisions/sha256/${2#sha256:}/link" >"$_doomed"
    for _tag in $3; do
        awk -v p="$STORE_ROOT/repositories/$1/_manifests/tags/$_tag/" 'index($1, p) == 1 { print $1 }' "$4"
    done >>"$_doomed"
    while read -r _key; do
        s3_request -o /dev/null -X DELETE "$S3_ENDPOINT/$S3_BUCKET/$_key" || exit 1
    done <"$_doomed" || die "could not delete all of $1@$2 from s3://$S3_BUCKET; run the chore again to finish it"
    rm -f "$_doomed"
}

# Delete manifests, each only if the tags pointing at it now are those it was chosen with (a tag pushed
# meanwhile keeps its manifest) and no other manifest names it now (an index pushed meanwhile keeps its
# platforms), then collect their garbage. On a host of its own through the API, writable; across replicas
# on S3 in the store itself, inside the window in which every replica refuses uploads and deletes.
delete_manifests() {
    [ $# -gt 0 ] || usage
    current=$(mktemp)
    manifests_now=$(mktemp)
    listing=$(mktemp)
    if [ "$STORAGE" = s3 ]; then
        # Across replicas this runs inside the read-only window: what the store says now cannot change.
        enter_window
        repositories_listed "$listing"
        s3_tag_lines "$listing" >"$current"
        s3_manifest_lines "$listing" >"$manifests_now"
    else
        tag_lines "$(data_dir)" >"$current"
        manifest_lines "$(data_dir)" >"$manifests_now"
    fi
    chosen_entries=$(printf '%s\n' "$@")
    deleted=0
    for entry in "$@"; do
        reference=${entry%%=*}
        repository=${reference%@*}
        digest=${reference#*@}
        chosen=${entry#*=}
        others=$(awk -v r="$repository" -v d="$digest" -v chosen=",$chosen," \
            '$2 == r && $4 == d && index(chosen, "," $3 ",") == 0 { printf " %s", $3 }' "$current")
        if [ -n "$others" ]; then
            say "kept $repository@$digest: other tags point at it now:$others"
            continue
        fi
        if needed_by_another "$repository" "$digest" "$chosen_entries" "$manifests_now"; then
            say "kept $repository@$digest: a manifest pushed since (an image index) names it"
            continue
        fi
        if [ "$STORAGE" = s3 ]; then
            s3_delete_manifest "$repository" "$digest" "$(awk -v r="$repository" -v d="$digest" \
                '$2 == r && $4 == d { printf "%s ", $3 }' "$current")" "$listing"
            deleted=$((deleted + 1))
            say "deleted $repository@$digest${chosen:+ (tags $chosen)}"
            continue
        fi
        code=$(http_status DELETE "$REGISTRY_URL/v2/$repository/manifests/$digest")
        case $code in
            202 | 404)
                deleted=$((deleted + 1))
                say "deleted $repository@$digest${chosen:+ (tags $chosen)}"
                ;;
            *)
                rm -f "$current" "$manifests_now" "$listing"
                die "deleting $repository@$digest answered HTTP $code; stopped"
                ;;
        esac
    done
    rm -f "$current" "$manifests_now" "$listing"
    say "deleted $deleted manifests"
    gc
}

# Archive the data to FILE: read-only only while the data is hard-linked aside (blobs never change once
# written, so the links are a consistent copy), then writable while the links are archived. The archive
# is FILE.partial until complete: an interrupted backup never leaves one that looks complete.
backup() {
    [ $# -eq 1 ] || usage
    file=$1
    root="$(data_dir)"
    snapshot="$root/.backup-snapshot"
    mkdir -p "$(dirname "$file")"
    chmod 700 "$(dirname "$file")"
    rm -rf "$snapshot" "$(dirname "$file")"/*.partial
    [ -d "$root/docker" ] || die "nothing to back up: the registry holds no data"
    read_only
    mkdir "$snapshot"
    cp -al "$root/docker" "$snapshot/docker"
    tag_lines "$root" >"$snapshot/tags.txt"
    writable
    write_archive "$snapshot" "$file"
}

# Archive directory $1 (tags.txt and the docker/ tree) to file $2, as $2.partial until complete, then
# remove the directory.
write_archive() {
    tar -C "$1" -cf "$2.partial" tags.txt docker
    rm -rf "$1"
    sum=$(sha256sum <"$2.partial" | cut -d' ' -f1)
    mv "$2.partial" "$2"
    say "backed up $(tar -xOf "$2" tags.txt | wc -l) tags, $(stat -c %s "$2") bytes to $2 sha256:$sum"
}

# Put an archive's data in place of the registry's (refused when the registry holds tags, unless
# --force), with the registry read-only; then writable again, and every tag proved through the API.
restore() {
    [ $# -ge 1 ] || usage
    file=$1
    root="$(data_dir)"
    tar -tf "$file" tags.txt >/dev/null 2>&1 || die "$file is not a registry backup (no tags.txt in it)"
    if [ -n "$(tag_lines "$root")" ] && [ "${2:-}" != --force ]; then
        die "the registry already holds tags: refused, nothing changed (registry_restore_force=True replaces them)"
    fi
    staging="$root/.restore"
    rm -rf "$staging"
    mkdir "$staging"
    tar -C "$staging" -xf "$file"
    expected=$(mktemp)
    as_digests <"$staging/tags.txt" >"$expected"
    read_only
    # The data replaced is moved aside, not deleted, until the archive's data is in place.
    rm -rf "$root/.replaced"
    [ ! -d "$root/docker" ] || mv "$root/docker" "$root/.replaced"
    mv "$staging/docker" "$root/docker"
    rm -rf "$staging" "$root/.replaced"
    writable
    every_tag_answers "$expected" || die "after the restore not every tag answers with its digest"
    say "restored $(wc -l <"$expected") tags from $file; every one answers with its digest"
    rm -f "$expected"
}

# --- Backup and restore on S3 storage: the same archive (tags.txt, and the docker/ tree as a filesystem
# registry keeps it), so an archive of either kind restores onto either.

# Inside the window every replica refuses uploads: the repositories' links into directory $1 (those whose
# content their key names are written from the key; tags' current links are read), and tags.txt. Uploads in
# progress (_uploads) are not data yet, and stay out.
s3_capture() {
    _dir=$1
    rm -rf "$_dir"
    mkdir -p "$_dir"
    chmod 700 "$_dir"
    repositories_listed "$_dir/objects"
    s3_tag_lines "$_dir/objects" >"$_dir/tags.txt"
    awk '{ print $1 }' "$_dir/objects" | grep -v '/_uploads/' | while read -r _key; do
        case $_key in
            */_manifests/tags/*/current/link) continue ;;
            */sha256/*/link) _hex=${_key%/link} ;;
            *) continue ;;
        esac
        mkdir -p "$_dir/$(dirname "$_key")"
        printf 'sha256:%s' "${_hex##*/}" >"$_dir/$_key"
    done
    _root="$STORE_ROOT/repositories"
    while read -r _pushed _repository _tag _digest; do
        _link="$_dir/$_root/$_repository/_manifests/tags/$_tag/current/link"
        mkdir -p "$(dirname "$_link")"
        printf '%s' "$_digest" >"$_link"
    done <"$_dir/tags.txt"
    rm -f "$_dir/objects"
    say "captured $(wc -l <"$_dir/tags.txt") tags and their links in the window"
}

# With the registry writable again (the lock still held, so no collector runs): every blob the captured
# links in directory $1 name, copied from the bucket (blobs never change once written), then the archive
# FILE ($2) written as FILE.partial and renamed once complete.
s3_archive() {
    _dir=$1
    file=$2
    [ -d "$_dir/$STORE_ROOT" ] || die "no captured links in $_dir: the backup's window did not complete; nothing was archived"
    # Every digest a layer link, a manifest revision or a tag's index names is in the link's own key.
    find "$_dir/$STORE_ROOT/repositories" -path '*/sha256/*/link' | sed -n 's#.*/sha256/\([0-9a-f]\{64\}\)/link$#\1#p' \
        | sort -u | while read -r _hex; do
        _key="$STORE_ROOT/blobs/sha256/$(printf %.2s "$_hex")/$_hex/data"
        mkdir -p "$_dir/$(dirname "$_key")"
        # A layer link outlives its blob once the collector removed it (distribution leaves it): nothing to copy.
        case $(s3_request -o "$_dir/$_key" -w '%{http_code}' "$S3_ENDPOINT/$S3_BUCKET/$_key" 2>/dev/null) in
            200) ;;
            404) rm -f "$_dir/$_key" ;;
            *) exit 1 ;;
        esac
    done || die "could not copy every blob from s3://$S3_BUCKET; no archive was written"
    mkdir -p "$(dirname "$file")"
    chmod 700 "$(dirname "$file")"
    rm -f "$(dirname "$file")"/*.partial
    write_archive "$_dir" "$file"
}

# Inside the window: archive $1's data into the bucket, blobs first, then the links, the tags' current
# links last (a tag never names what is not there yet); its tags.txt copied to $2 for the proof after.
# Refused when the bucket holds a tag the archive does not hold with the same digest: tags all of the archive
# are what a restore of it that was interrupted wrote, and it is finished.
s3_restore() {
    file=$1
    tar -tf "$file" tags.txt >/dev/null 2>&1 || die "$file is not a registry backup (no tags.txt in it)"
    _listing=$(mktemp)
    repositories_listed "$_listing"
    _existing=$(s3_tag_lines "$_listing") || exit 1
    rm -f "$_listing"
    _dir=$(mktemp -d)
    tar -C "$_dir" -xf "$file"
    if [ -n "$_existing" ]; then
        printf '%s\n' "$_existing" | awk '{ print $2, $3, $4 }' | sort >"$_dir/held"
        awk '{ print $2, $3, $4 }' "$_dir/tags.txt" | sort >"$_dir/archived"
        _foreign=$(comm -23 "$_dir/held" "$_dir/archived" | head -n 3 | tr '\n' ';')
        if [ -n "$_foreign" ]; then
            rm -rf "$_dir"
            die "the bucket already holds tags that are not this archive's ($_foreign ...): refused, nothing changed (restore onto an empty bucket)"
        fi
        say "the bucket holds $(wc -l <"$_dir/held") of the archive's tags and no other: finishing a restore of it that was interrupted"
        rm -f "$_dir/held" "$_dir/archived"
    fi
    (cd "$_dir" && find docker -type f ! -path '*/_uploads/*') | awk '{ order = /\/blobs\// ? 0 : /\/current\/link$/ ? 2 : 1
        print order, $0 }' | sort -n | while read -r _order _key; do
        s3_request -o /dev/null -T "$_dir/$_key" "$S3_ENDPOINT/$S3_BUCKET/$_key" || exit 1
    done || { rm -rf "$_dir"; die "could not write every object to s3://$S3_BUCKET; run the restore again"; }
    cp "$_dir/tags.txt" "$2"
    rm -rf "$_dir"
    say "wrote $(wc -l <"$2") tags' data to s3://$S3_BUCKET"
}

# --- Chores across replicas (S3 storage): each step a command of its own, run by pyinfra in order.

# What the shared step of chore $1 left when it failed: the release step reports it.
failed_mark() { printf '%s/failed-%s' "$(dirname "$READ_ONLY_MARK")" "$1"; }

# The sshd process serving the SSH connection this runs over (nothing when run otherwise): the first
# ancestor whose name starts with sshd (sshd-session since OpenSSH 9.8).
connection_process() {
    _pid=$$
    while [ "$_pid" -gt 1 ]; do
        _pid=$(sed 's/^.*) //' "/proc/$_pid/stat" | cut -d' ' -f2)
        case $(cat "/proc/$_pid/comm" 2>/dev/null) in sshd*)
            echo "$_pid"
            return
            ;;
        esac
    done
}

# Keep the lock (fd 9, inherited) for chore $1 until it is released, or MAINTENANCE_TIMEOUT passes, or
# the connection $2 has ended (a killed run, a dropped session) and no step of the chore still runs here:
# a lost run never keeps it, and a step it left running is never overtaken.
keep_hold() {
    _deadline=$(($(date +%s) + MAINTENANCE_TIMEOUT))
    while [ "$(date +%s)" -lt "$_deadline" ] && [ "$(cut -d' ' -f1 "$HOLD" 2>/dev/null)" = "$1" ]; do
        if [ "$2" != none ] && [ ! -d "/proc/$2" ]; then
            _step=$(cat "$HOLD.step" 2>/dev/null || true)
            if [ -z "$_step" ] || ! kill -0 "$_step" 2>/dev/null; then
                break
            fi
        fi
        sleep 1
    done
}

hold() {
    [ $# -eq 1 ] || usage
    rm -f "$(failed_mark "$1")"
    anchor=$(connection_process)
    # The holder keeps fd 9 and nothing else of this command's, so the step's SSH channel closes.
    setsid "$0" keep-hold "$1" "${anchor:-none}" </dev/null >/dev/null 2>&1 3>&- 4>&- &
    printf '%s %s\n' "$1" "$!" >"$HOLD"
    say "holding the maintenance lock for chore $1 until it ends${anchor:+ or its SSH connection does}"
}

# Stop unless this host still holds the lock for chore $1; else this is the step running under it.
held() {
    _holder=$(cat "$HOLD" 2>/dev/null || true)
    if [ "${_holder%% *}" != "$1" ] || ! kill -0 "${_holder#* }" 2>/dev/null; then
        die "this host no longer holds the maintenance lock for chore $1 (its connection ended, or it ran past ${MAINTENANCE_TIMEOUT}s); nothing was done"
    fi
    echo $$ >"$HOLD.step"
}

switch() {
    [ $# -eq 2 ] || usage
    held "$1"
    case $2 in
        read-only) read_only ;;
        writable) writable ;;
        *) usage ;;
    esac
}

# The chore itself, once, after proving every replica (URLs $2) refuses uploads. A failure is kept for
# the release step: the replicas are switched back first, then the run fails.
shared() {
    [ $# -ge 3 ] || usage
    failed=$(failed_mark "$1")
    (
        held "$1"
        curl --help all 2>/dev/null | grep -q -- --aws-sigv4 \
            || die "this host's curl cannot sign S3 requests (--aws-sigv4 needs curl 7.75 or later); nothing was done"
        SHARED_URLS=$2
        CHORE_ID=$1
        chore=$3
        shift 3
        record_chore "$chore"
        case $chore in
            gc) gc "$@" ;;
            delete-repos) delete_repos "$@" ;;
            prune) prune ;;
            delete-manifests) delete_manifests "$@" ;;
            backup)
                enter_window
                s3_capture "$@"
                ;;
            restore)
                enter_window
                s3_restore "$@"
                ;;
            *) usage ;;
        esac
    ) || {
        touch "$failed"
        exit 1
    }
}

# The part of chore $1 that runs once every replica is writable again, the lock still held: a backup's
# blobs copied and archived, a restore's tags proved. Skipped when the shared step failed (release says so).
after() {
    [ $# -ge 2 ] || usage
    failed=$(failed_mark "$1")
    if [ -e "$failed" ]; then
        say "the shared step of chore $1 failed: nothing more done"
        return
    fi
    (
        held "$1"
        chore=$2
        shift 2
        record_chore "$chore"
        case $chore in
            backup) s3_archive "$@" ;;
            restore)
                _expected=$(mktemp)
                as_digests <"$1" >"$_expected"
                rm -f "$1"
                every_tag_answers "$_expected" || die "after the restore not every tag answers with its digest"
                say "restored $(wc -l <"$_expected") tags; every one answers with its digest"
                rm -f "$_expected"
                ;;
            *) usage ;;
        esac
    ) || {
        touch "$failed"
        exit 1
    }
}

# Chore $1's mark (its collection's first half), every replica holding its lock and still writable: the
# shared step then reads, inside the window, only what changed since. $2: --delete-untagged, if so.
mark() {
    [ $# -ge 1 ] || usage
    held "$1"
    CHORE_ID=$1
    s3_mark "${2:-}"
}

release() {
    [ $# -eq 1 ] || usage
    _holder=$(cat "$HOLD" 2>/dev/null || true)
    if [ "${_holder%% *}" = "$1" ]; then
        rm -f "$HOLD" "$HOLD.step"
        kill "${_holder#* }" 2>/dev/null || true
    fi
    if [ -e "$(failed_mark "$1")" ]; then
        rm -f "$(failed_mark "$1")"
        die "chore $1 failed here (its error is above); every replica was switched back"
    fi
    say "released the maintenance lock of chore $1"
}

# A chore (or a deploy) holds the maintenance lock now. Asked with a shared lock, which chores' exclusive one
# excludes and another asker's does not: two questions at once (a re-run asks side by side) never see each other.
lock_held() { [ -e "$LOCK" ] && ! flock -n -s "$LOCK" true; }

# The last chore recorded, if it never said how it ended: "CHORE EPOCH" (its start).
unfinished_chore() { awk '$2 == "started" { print $1, $3 }' "$LAST_CHORE" 2>/dev/null || true; }

# The last chore, if it was killed before it could say how it ended: unfinished, and no chore holds the lock.
killed_chore() {
    [ -e "$LAST_CHORE" ] && ! lock_held || return 0
    unfinished_chore
}

# Record chore $1 as started (the lock held), and how it ends when this script exits (a SIGKILL leaves
# "started", which the next chore records as a failure).
record_chore() {
    mkdir -p "$(dirname "$LAST_CHORE")" "$CHORE_RESULTS"
    # This chore holds the lock: the last one, if unfinished, was killed.
    _killed=$(unfinished_chore)
    if [ -n "$_killed" ]; then
        echo "${_killed#* }" >"$CHORE_RESULTS/${_killed%% *}.failed"
    fi
    printf '%s started %s\n' "$1" "$(date +%s)" >"$LAST_CHORE"
    CHORE_RECORDED=$1
    trap 'recorded_end $?' EXIT
    write_metrics || true
}

recorded_end() {
    if [ "$1" = 0 ]; then _how=ok; else _how=failed; fi
    _now=$(date +%s)
    printf '%s %s %s\n' "$CHORE_RECORDED" "$_how" "$_now" >"$LAST_CHORE"
    echo "$_now" >"$CHORE_RESULTS/$CHORE_RECORDED.$_how"
    # The lock goes with this process: the metrics must not say a chore still holds it.
    exec 9>&-
    write_metrics || true
}

# Text as a Prometheus label value: backslashes and quotes escaped, on one line.
label() { printf '%s' "$1" | tr '\n' ' ' | sed 's/[\\"]/\\&/g'; }

# One metric: NAME TYPE HELP, then "LABELS VALUE" lines on stdin (LABELS "-" for none, or {k="v"}).
metric() {
    printf '# HELP %s %s\n# TYPE %s %s\n' "$1" "$3" "$1" "$2"
    while IFS= read -r _line; do
        _labels=${_line% *}
        [ "$_labels" != - ] || _labels=
        printf '%s%s %s\n' "$1" "$_labels" "${_line##* }"
    done
}

# When chore $1 last ended as $2 (ok or failed), as epoch seconds; 0 when never.
chore_time() {
    _at=$(cat "$CHORE_RESULTS/$1.$2" 2>/dev/null || echo 0)
    if [ "$2" = failed ] && [ -n "$3" ] && [ "${3%% *}" = "$1" ] && [ "${3#* }" -gt "$_at" ]; then _at=${3#* }; fi
    echo "$_at"
}

# "SIZE AVAILABLE" in bytes of where the data is: the filesystem, or with S3 the quota and what the
# blobs leave of it (the bucket listed at most every BUCKET_EVERY seconds, the count kept in BUCKET_BYTES);
# nothing when not known.
BUCKET_EVERY=600
BUCKET_BYTES=/var/lib/registry-maintenance/bucket-bytes
storage_space() {
    if [ "$STORAGE" != s3 ]; then
        _dir=$(data_dir 2>/dev/null) && [ -n "$_dir" ] && df -P -B1 "$_dir" 2>/dev/null | awk 'NR == 2 { print $2, $4 }'
        return
    fi
    [ -n "$S3_QUOTA" ] || return 0
    read -r _used _at <"$BUCKET_BYTES" 2>/dev/null || _at=0
    if [ $(($(date +%s) - ${_at:-0})) -ge "$BUCKET_EVERY" ]; then
        _stats=$(blob_stats)
        case $_stats in *" bytes") _used=$(printf '%s' "$_stats" | awk '{ print $3 }') ;; *) return 0 ;; esac
        mkdir -p "$(dirname "$BUCKET_BYTES")"
        echo "$_used $(date +%s)" >"$BUCKET_BYTES"
    fi
    echo "$S3_QUOTA $((S3_QUOTA - _used))"
}

# The chores' state as metrics, into the node exporter's textfile directory (written whole, then moved
# in place, so a scrape never reads half of it); nothing without a node exporter. Cheap: no listing.
write_metrics() {
    [ -n "$CHORE_METRICS" ] && [ -d "$(dirname "$CHORE_METRICS")" ] || return 0
    _new="$CHORE_METRICS.$$.new"
    _killed=$(killed_chore)
    {
        if [ -e "$READ_ONLY_MARK" ]; then echo "- 1"; else echo "- 0"; fi |
            metric registry_read_only gauge "1 while a chore has the registry read-only, or left it so."
        if [ -e "$READ_ONLY_MARK" ]; then
            echo "- $(stat -c %Y "$READ_ONLY_MARK")" | metric registry_read_only_since_timestamp_seconds gauge \
                "When the registry was switched read-only."
        fi
        if lock_held; then echo "{holder=\"$(label "$(lock_holder)")\"} 1"; else echo "- 0"; fi |
            metric registry_maintenance_lock_held gauge "1 while a chore or a deploy holds the maintenance lock."
        echo "- $MAINTENANCE_TIMEOUT" | metric registry_maintenance_timeout_seconds gauge \
            "The longest a chore may run (registry_maintenance_timeout)."
        _chores=$( {
            find "$CHORE_RESULTS" -type f \( -name '*.ok' -o -name '*.failed' \) 2>/dev/null | sed 's#.*/##; s/\.[a-z]*$//'
            [ -z "$_killed" ] || echo "${_killed%% *}"
        } | sort -u)
        for _chore in $_chores; do echo "{chore=\"$_chore\"} $(chore_time "$_chore" ok)"; done |
            metric registry_chore_last_success_timestamp_seconds gauge "When each chore last ended well (0: never)."
        for _chore in $_chores; do echo "{chore=\"$_chore\"} $(chore_time "$_chore" failed "$_killed")"; done |
            metric registry_chore_last_failure_timestamp_seconds gauge \
                "When each chore last failed or was killed (0: never)."
        if [ -s "$LAST_GC" ]; then
            read -r _blobs_before _bytes_before _blobs_after _bytes_after _at <"$LAST_GC"
            printf '{when="before"} %s\n{when="after"} %s\n' "$_blobs_before" "$_blobs_after" |
                metric registry_gc_blobs gauge "Blobs stored before and after the last garbage collection."
            printf '{when="before"} %s\n{when="after"} %s\n' "$_bytes_before" "$_bytes_after" |
                metric registry_gc_bytes gauge "Bytes of blobs before and after the last garbage collection."
            echo "- $_at" | metric registry_gc_last_timestamp_seconds gauge "When the last garbage collection ended."
        fi
        if _space=$(storage_space) && [ -n "$_space" ]; then
            echo "- ${_space% *}" | metric registry_storage_size_bytes gauge \
                "Size of the filesystem the registry's data is on, or the bucket's quota."
            echo "- ${_space#* }" | metric registry_storage_available_bytes gauge "Bytes free on it."
        fi
        echo "- $(date +%s)" | metric registry_metrics_timestamp_seconds gauge "When these metrics were written."
    } >"$_new"
    mv -f "$_new" "$CHORE_METRICS"
}

# What status.py shows, one "@KEY VALUE" line each; read-only, no lock taken (a chore may be running).
report() {
    if lock_held; then echo "@running $(lock_holder)"; fi
    [ ! -e "$READ_ONLY_MARK" ] || echo "@read-only $(cat "$READ_ONLY_MARK")"
    [ ! -e "$LAST_CHORE" ] || echo "@last-chore $(cat "$LAST_CHORE")"
    echo "@image $(docker inspect --format '{{.Config.Image}}' "$REGISTRY_CONTAINER" 2>/dev/null || true)"
    echo "@state $(docker inspect --format '{{.State.Status}}' "$REGISTRY_CONTAINER" 2>/dev/null || echo missing)"
    echo "@stored $(blob_stats)"
    if [ "$STORAGE" = s3 ]; then
        _objects=$(mktemp)
        if s3_objects "$STORE_ROOT/repositories/" >"$_objects"; then
            sed -n 's#^\(.*\)/_manifests/tags/[^/]*/current/link .*#\1#p' "$_objects" | sort | uniq -c \
                | awk '{ r += 1; t += $1 } END { printf "@tags %d %d\n", r, t }'
        fi
        rm -f "$_objects"
    else
        tag_lines "$(data_dir)" | awk '{ r[$2] = 1; t += 1 } END { printf "@tags %d %d\n", length(r), t }'
    fi
}

status() {
    if lock_held; then
        say "running: $(lock_holder)"
    else
        say "no chore is running"
    fi
    if [ -e "$READ_ONLY_MARK" ]; then
        say "read-only since: $(cat "$READ_ONLY_MARK")"
    else
        say "writable"
    fi
}

action=${1:-}
[ $# -eq 0 ] || shift
case $action in
    gc | delete-repos | prune | delete-manifests)
        # A shared store: collecting or deleting from one replica while the others accept uploads would
        # delete the blobs of their uploads in flight. A dry run removes nothing.
        [ "$STORAGE" != s3 ] || [ "$*" = --dry-run ] || [ "$*" = "--dry-run --delete-untagged" ] \
            || die "on S3 storage $action needs every replica read-only: run it across replicas (gc.py, delete_repos.py, prune_repos.py, retention.py); nothing was done"
        ;;
    backup | restore)
        [ "$STORAGE" != s3 ] || die "on S3 storage $action runs across the replicas (backup.py, restore.py); nothing was done"
        ;;
esac
case $action in
    gc | delete-repos | prune | recover | migrate | delete-manifests | backup | restore | hold)
        handle_signals
        [ -f "$CONFIG_DIR/writable.yml" ] && [ -f "$CONFIG_DIR/readonly.yml" ] \
            || die "$CONFIG_DIR has no writable.yml and readonly.yml yet: run deploy.py first"
        take_lock "registry-maintenance $action${1:+ $1}"
        [ "$action" = hold ] || record_chore "$action"
        repaired=no
        if [ -e "$READ_ONLY_MARK" ]; then
            repair_leftover
            repaired=yes
        fi
        ;;
    switch | mark | shared | after | release)
        # Steps of a chore across replicas: the lock is held by its hold step.
        handle_signals
        ;;
    stats | status | tags | keep-hold | report | metrics) ;;
    *) usage ;;
esac
case $action in
    gc) gc "$@" ;;
    delete-repos) delete_repos "$@" ;;
    prune) prune ;;
    migrate) migrate "$@" ;;
    tags) list_stored ;;
    delete-manifests) delete_manifests "$@" ;;
    backup) backup "$@" ;;
    restore) restore "$@" ;;
    recover) [ "$repaired" = yes ] || say "nothing to repair: no chore left the registry read-only" ;;
    hold) hold "$@" ;;
    keep-hold) keep_hold "$@" ;;
    switch) switch "$@" ;;
    mark) mark "$@" ;;
    shared) shared "$@" ;;
    after) after "$@" ;;
    release) release "$@" ;;
    stats) say "$(blob_stats)" ;;
    status) status ;;
    report) report ;;
    metrics) write_metrics ;;
esac
