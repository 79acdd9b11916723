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

usage() {
    sed -n 's/^#   //p' "$0" >&2
    exit 2
}

in_registry() { docker exec "$REGISTRY_CONTAINER" "$@"; }

blob_stats() {
    in_registry sh -c "find $DATA_ROOT/blobs -type f -name data -exec stat -c %s {} + 2>/dev/null || true" \
        | awk '{ n += 1; s += $1 } END { printf "%d blobs, %d bytes\n", n, s }'
}

refuses_writes() { [ "$(http_status POST "$REGISTRY_URL/v2/$PROBE_REPOSITORY/blobs/uploads/")" = 405 ]; }

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

read_only() {
    mkdir -p "$(dirname "$READ_ONLY_MARK")"
    cat "$LOCK" >"$READ_ONLY_MARK"
    IN_WINDOW=1
    point_config_at readonly.yml
    if ! restart_registry; then
        writable
        die "the registry did not answer in read-only mode within ${HEALTH_TIMEOUT}s; switched back, nothing done"
    fi
    if ! refuses_writes; then
        writable
        die "the registry still accepted an upload in read-only mode; switched back, nothing done"
    fi
    say "read-only: uploads are refused (405), pulls work"
}

writable() {
    point_config_at writable.yml
    restart_registry \
        || die "the registry did not answer within ${HEALTH_TIMEOUT}s after switching back to writable; run: registry-maintenance recover"
    wait_until 10 accepts_writes \
        || die "the registry refused a test upload after switching back: it is NOT writable; run: registry-maintenance recover"
    rm -f "$READ_ONLY_MARK"
    IN_WINDOW=0
    say "writable again: a test upload was accepted"
}

repair_leftover() {
    say "found the registry left read-only by an interrupted chore: $(cat "$READ_ONLY_MARK")"
    writable
    say "repaired the leftover read-only state"
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

collect() {
    in_registry mkdir -p "$DATA_ROOT/repositories"
    out=$(mktemp)
    started=$(date +%s%N)
    if ! in_registry registry garbage-collect "$@" "$CONFIG_TARGET/config.yml" >"$out" 2>&1; then
        cat "$out" >&2
        rm -f "$out"
        return 1
    fi
    elapsed=$((($(date +%s%N) - started) / 1000000))
    eligible=$(grep -c 'eligible for deletion' "$out" || true)
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
    read_only
    collect ${untagged:+"$untagged"}
    say "garbage collected in ${elapsed}ms"
    writable
    say "after: $(blob_stats)"
}

valid_name() {
    case $1 in *'
'*) return 1 ;; esac
    printf '%s\n' "$1" | grep -Eqx '[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*'
}

is_repository() { in_registry test -d "$DATA_ROOT/repositories/$1/_manifests"; }

# A repository's own data: its manifests, layer links and uploads. Repositories nested under it (team/app
# under team) live beside these and stay; its directory, and empty parents, go only once empty.
remove_repository() {
    dir="$DATA_ROOT/repositories/$1"
    in_registry rm -rf "$dir/_manifests" "$dir/_layers" "$dir/_uploads"
    while [ "$dir" != "$DATA_ROOT/repositories" ] && in_registry rmdir "$dir" 2>/dev/null; do
        dir=$(dirname "$dir")
    done
}

delete_repos() {
    [ $# -gt 0 ] || usage
    for name in "$@"; do
        valid_name "$name" || die "'$name' is not a repository name; nothing was deleted"
        is_repository "$name" || die "no such repository: $name; nothing was deleted"
    done
    say "before: $(blob_stats)"
    read_only
    for name in "$@"; do
        remove_repository "$name"
        say "removed repository $name"
    done
    collect
    say "garbage collected in ${elapsed}ms"
    writable
    for name in "$@"; do
        [ "$(http_status GET "$REGISTRY_URL/v2/$name/tags/list")" = 404 ] \
            || die "repository $name still answers after its deletion"
    done
    say "after: $(blob_stats)"
}

# Repositories that have manifests but no tag, one per line.
untagged_repositories() {
    root="$DATA_ROOT/repositories"
    all=$(mktemp)
    in_registry find "$root" -type d -name _manifests 2>/dev/null | sed "s#^$root/##; s#/_manifests\$##" \
        | sort >"$all" || true
    in_registry find "$root" -type d -path '*/_manifests/tags/*' -prune 2>/dev/null \
        | sed "s#^$root/##; s#/_manifests/tags/[^/]*\$##" | sort -u | comm -23 "$all" - || true
    rm -f "$all"
}

prune() {
    if [ -z "$(untagged_repositories)" ]; then
        say "nothing to prune: every repository has a tag"
        return
    fi
    say "before: $(blob_stats)"
    read_only
    # Listed again now that no push can add a tag meanwhile.
    untagged_repositories | while read -r name; do
        remove_repository "$name"
        say "pruned empty repository $name"
    done
    collect
    say "garbage collected in ${elapsed}ms"
    writable
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

# The digest a tag answers with through the API ("" when it does not).
answered_digest() {
    curl -s -I --connect-timeout 3 -m 10 -K "$CURL_CONFIG" \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        -H 'Accept: application/vnd.oci.image.index.v1+json' \
        "$REGISTRY_URL/v2/$1/manifests/$2" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *//p'
}

# True when every "repository:tag digest" line of file $1 answers with its digest through the API.
every_tag_answers() {
    while read -r _reference _digest; do
        _answered=$(answered_digest "${_reference%:*}" "${_reference##*:}")
        if [ "$_answered" != "$_digest" ]; then
            say "${_reference} answers ${_answered:-nothing}, not $_digest"
            return 1
        fi
    done <"$1"
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
    [ -z "$(tag_digests "$to")" ] || die "$target_place already holds tags; nothing was copied"
    read_only
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
    every_tag_answers "$expected" || die "on $target_place not every tag answers as it did; $source_place is untouched"
    say "every tag answers with its digest from $target_place"
    rm -f "$expected"
    writable
    say "migrated from $source_place to $target_place; $source_place is left as it was"
}

list_stored() {
    root="$(data_dir)"
    tag_lines "$root" | sed 's/^/@tag /'
    manifest_lines "$root" | sed 's/^/@manifest /'
}

# Delete manifests through the API, each only if the tags pointing at it now are those it was chosen with
# (a tag pushed meanwhile keeps its manifest), then collect their garbage.
delete_manifests() {
    [ $# -gt 0 ] || usage
    root="$(data_dir)"
    current=$(mktemp)
    tag_lines "$root" >"$current"
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
        code=$(http_status DELETE "$REGISTRY_URL/v2/$repository/manifests/$digest")
        case $code in
            202 | 404)
                deleted=$((deleted + 1))
                say "deleted $repository@$digest${chosen:+ (tags $chosen)}"
                ;;
            *)
                rm -f "$current"
                die "deleting $repository@$digest answered HTTP $code; stopped"
                ;;
        esac
    done
    rm -f "$current"
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
    tar -C "$snapshot" -cf "$file.partial" tags.txt docker
    rm -rf "$snapshot"
    sum=$(sha256sum <"$file.partial" | cut -d' ' -f1)
    mv "$file.partial" "$file"
    say "backed up $(tar -xOf "$file" tags.txt | wc -l) tags, $(stat -c %s "$file") bytes to $file sha256:$sum"
}

# Put an archive's data in place of the registry's (refused when the registry holds tags, unless
# --force), with the registry read-only; then writable again, and every tag proved through the API.
restore() {
    [ $# -ge 1 ] || usage
    file=$1
    root="$(data_dir)"
    tar -tf "$file" tags.txt >/dev/null 2>&1 || die "$file is not a registry backup (no tags.txt in it)"
    if [ -n "$(tag_lines "$root")" ] && [ "${2:-}" != --force ]; then
        die "the registry already holds tags: refused, nothing changed (restore_force=True replaces them)"
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

status() {
    if [ -e "$LOCK" ] && ! flock -n "$LOCK" true; then
        say "running: $(cat "$LOCK")"
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
    gc | delete-repos | prune | delete-manifests | backup | restore | tags | stats)
        # A shared store: collecting or deleting from one replica while the others accept uploads would
        # delete the blobs of their uploads in flight.
        [ "$STORAGE" != s3 ] || die "$action does not run on S3 storage yet (it needs every replica read-only); nothing was done"
        ;;
esac
case $action in
    gc | delete-repos | prune | recover | migrate | delete-manifests | backup | restore)
        exec 3>&1 4>&2
        trap 'interrupted HUP' HUP
        trap 'interrupted INT' INT
        trap 'interrupted TERM' TERM
        [ -f "$CONFIG_DIR/writable.yml" ] && [ -f "$CONFIG_DIR/readonly.yml" ] \
            || die "$CONFIG_DIR has no writable.yml and readonly.yml yet: run deploy.py first"
        take_lock "registry-maintenance $action"
        repaired=no
        if [ -e "$READ_ONLY_MARK" ]; then
            repair_leftover
            repaired=yes
        fi
        ;;
    stats | status | tags) ;;
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
    stats) say "$(blob_stats)" ;;
    status) status ;;
esac
