#!/bin/sh
# Managed by the registry deploy (files/registry-container.sh): how the deploy changes containers and the
# registry's configuration on this host without taking a working registry down.
#
#   registry-container replace NAME [--displaces OTHER] [--restore-config] DOCKER-CREATE-ARGUMENTS...
#                                   OTHER (a container serving the port NAME is to serve) is stopped for
#                                   the swap, removed once NAME serves, started again if NAME is kept;
#                                   --restore-config: if NAME is kept, with the configuration files
#                                   install-config replaced (the old container was made for those)
#   registry-container restart NAME
#   registry-container try-config DIR               start a throwaway registry on the files in DIR
#   registry-container install-config DIR [FILE...] move the FILEs from DIR into the configuration
#   registry-container healthy [--wait]             one line per check; --wait: until all pass
#
# Changes take the host's maintenance lock, so they never run in the middle of a chore.
# shellcheck source=files/registry-common.sh.j2
. /usr/local/lib/registry-deploy/common.sh
set -eu

usage() {
    sed -n 's/^#   //p' "$0" >&2
    exit 2
}

exists() { docker container inspect "$1" >/dev/null 2>&1; }

PREVIOUS_CONFIG="${CONFIG_DIR%/}.previous"

# The image ID container $1 runs ("" when there is no such container).
container_image() { docker inspect --format '{{.Image}}' "$1" 2>/dev/null || true; }

# True when the container, just started, still runs SETTLE_SECONDS later and was never restarted.
kept_running() {
    sleep "$SETTLE_SECONDS"
    [ "$(docker inspect --format '{{.State.Running}} {{.RestartCount}}' "$1" 2>/dev/null)" = "true 0" ]
}

ui_answers() { [ "$(http_status GET "$UI_URL/")" = 200 ]; }

# The registry's port answers as a registry, whoever serves it: the access proxy asks who you are only
# while the registry behind it answers.
port_served() { case $(http_status GET "$REGISTRY_URL/v2/") in 200 | 401) ;; *) return 1 ;; esac; }

# True once container $1 (the registry, the UI, or another) answers on its published port, within
# HEALTH_TIMEOUT seconds.
answers() {
    case $1 in
        "$REGISTRY_CONTAINER") wait_until "$HEALTH_TIMEOUT" registry_serves ;;
        "${UI_CONTAINER:-}") wait_until "$HEALTH_TIMEOUT" ui_answers ;;
        "${PROXY_CONTAINER:-}") wait_until "$HEALTH_TIMEOUT" proxy_answers ;;
    esac
}

# True when container $2, just started to be $1, keeps running and answers.
serves() { kept_running "$2" && answers "$1"; }

# True when every tag of file $1 ("repository:tag digest" lines; none when $1 is empty) answers with its
# digest.
same_tags() {
    [ -n "$1" ] || return 0
    every_tag_answers "$1" || return 1
    say "every one of the $(wc -l <"$1") tags answers with its digest from the new registry"
    rm -f "$1"
}

# The major version registry image $1 reports of itself (`registry --version`): 2, 3, or nothing.
image_major() {
    _version=$(docker run --rm --network none --entrypoint registry "$1" --version 2>/dev/null | awk '{ print $NF }')
    _version=${_version#v}
    printf '%s\n' "${_version%%.*}"
}

# Refuse registry image $1 unless it says it is the registry line the deploy configured it as, and a
# registry 2 on data a registry 3 served unless the operator allowed it. $2: the image of the registry
# container serving now, if any (for hosts whose data a registry 3 served before SERVED_BY was kept).
check_registry_image() {
    _major=$(image_major "$1")
    [ "$_major" = "$REGISTRY_MAJOR" ] || die "$1 says it is registry ${_major:-(no version: is it a registry image?)}, but the deploy configures it as registry $REGISTRY_MAJOR (its tag, or registry_major_version); refused, nothing changed"
    _served=$(cat "$SERVED_BY" 2>/dev/null || true)
    [ -n "$_served" ] || [ -z "${2:-}" ] || _served=$(image_major "$2")
    if [ "${_served:-0}" -gt "$REGISTRY_MAJOR" ] && [ "$ALLOW_DOWNGRADE" != True ]; then
        die "this host's registry data was last served by registry $_served; registry $REGISTRY_MAJOR never ran on what it may have written (OCI artifacts, referrers, indexes its collector breaks): refused, nothing changed (registry_allow_downgrade=True goes back anyway)"
    fi
}

# Record which registry line now serves the host's data.
served() {
    mkdir -p "$(dirname "$SERVED_BY")"
    echo "$REGISTRY_MAJOR" >"$SERVED_BY"
}

# The container `replace --displaces` stopped, once NAME serves the port it served.
remove_displaced() {
    [ -n "$displaced" ] || return 0
    docker rm --force "$displaced" >/dev/null
    say "removed $displaced: $name serves its port now"
}

# Make NAME a container created with the given arguments. A running one is kept until its replacement,
# created aside as NAME-next, keeps running; otherwise the old one is started again.
replace() {
    name=$1
    shift
    displaced=
    if [ "${1:-}" = --displaces ]; then
        displaced=$2
        shift 2
        exists "$displaced" || displaced=
    fi
    restore=
    if [ "${1:-}" = --restore-config ]; then
        restore=yes
        shift
    fi
    next="$name-next"
    take_lock "registry-container replace $name"
    # Left by a replace that was interrupted: adopted when the old container is already gone.
    if exists "$next"; then
        if exists "$name"; then
            docker rm --force "$next" >/dev/null
            say "removed $next, left aside by an interrupted replace"
        else
            docker rename "$next" "$name"
            say "adopted $next, left by an interrupted replace, as $name"
        fi
    fi
    # The image is the last argument.
    for image in "$@"; do :; done
    upgrade=
    if [ "$name" = "$REGISTRY_CONTAINER" ]; then
        running_image=$(container_image "$name")
        check_registry_image "$image" "$running_image"
        # A new registry image must serve every tag with the digest the old one served.
        if [ -n "$running_image" ] && [ "$running_image" != "$(docker image inspect --format '{{.Id}}' "$image")" ] \
            && registry_answers; then
            upgrade=$(mktemp)
            api_tag_digests "$upgrade" || die "could not list every tag of the running registry to check the new image against; nothing changed"
            say "the running registry serves $(wc -l <"$upgrade") tags; each must answer the same from $image"
        fi
    fi
    # Nothing to keep: the health gate at the end of the deploy proves the new one.
    if ! exists "$name"; then
        remove_displaced
        docker create --name "$name" "$@" >/dev/null
        docker start "$name" >/dev/null
        rm -rf "$PREVIOUS_CONFIG"
        [ "$name" != "$REGISTRY_CONTAINER" ] || served
        say "created $name"
        return
    fi
    docker create --name "$next" "$@" >/dev/null
    docker stop "$name" >/dev/null
    [ -z "$displaced" ] || docker stop "$displaced" >/dev/null
    if docker start "$next" >/dev/null && serves "$name" "$next" && same_tags "$upgrade"; then
        docker rm "$name" >/dev/null
        docker rename "$next" "$name"
        rm -rf "$PREVIOUS_CONFIG"
        say "replaced $name"
        remove_displaced
        if [ "$name" = "$REGISTRY_CONTAINER" ]; then
            served
            [ "$READMIT_SECONDS" = 0 ] || say "waiting ${READMIT_SECONDS}s for the load balancers to send it requests again"
            sleep "$READMIT_SECONDS"
        fi
        return
    fi
    rm -f "$upgrade"
    echo "the new $name container did not keep running and answering as the old one did; the old one is kept:" >&2
    show_logs "$next"
    docker rm --force "$next" >/dev/null 2>&1 || true
    [ -z "$restore" ] || restore_config
    docker start "$name" >/dev/null
    if [ -n "$displaced" ]; then
        # The probes' settings describe the new registry: through the old path, the port must answer.
        docker start "$displaced" >/dev/null
        wait_until "$HEALTH_TIMEOUT" port_served ||
            echo "and the old $name container behind $displaced does not serve the port again either" >&2
    else
        answers "$name" || echo "and the old $name container does not answer either" >&2
    fi
    exit 1
}

restart() {
    take_lock "registry-container restart $1"
    docker restart "$1" >/dev/null
    [ "$1" != "$REGISTRY_CONTAINER" ] || rm -rf "$PREVIOUS_CONFIG"
    say "restarted $1"
}

# Put back the files the last install-config replaced (and remove the ones it added).
restore_config() {
    [ -d "$PREVIOUS_CONFIG" ] || return 0
    for saved in "$PREVIOUS_CONFIG"/*; do
        [ -e "$saved" ] || continue
        file=$(basename "$saved")
        case $file in
            *.absent) rm -f "$CONFIG_DIR/${file%.absent}" ;;
            *) mv -f "$saved" "$CONFIG_DIR/$file" ;;
        esac
    done
    rm -rf "$PREVIOUS_CONFIG"
    say "the configuration files the old container was made for are back"
}

# A throwaway registry (no port, no data) on the configuration in DIR must keep running.
try_config() {
    (check_registry_image "$REGISTRY_IMAGE" "$(container_image "$REGISTRY_CONTAINER")") || { rm -rf "$1"; exit 1; }
    trial=registry-config-trial
    docker rm --force --volumes "$trial" >/dev/null 2>&1 || true
    if docker run --detach --name "$trial" --mount "type=bind,src=$1,dst=$CONFIG_TARGET,readonly" \
        "$REGISTRY_IMAGE" >/dev/null && kept_running "$trial"; then
        docker rm --force --volumes "$trial" >/dev/null
        return
    fi
    echo "the new configuration does not start $REGISTRY_IMAGE; the current one is kept:" >&2
    show_logs "$trial"
    docker rm --force --volumes "$trial" >/dev/null 2>&1 || true
    rm -rf "$1"
    exit 1
}

install_config() {
    staged=$1
    shift
    take_lock "registry-container install-config"
    # The replaced files are kept until the registry made for the new ones serves (replace --restore-config).
    rm -rf "$PREVIOUS_CONFIG"
    mkdir -m 700 "$PREVIOUS_CONFIG"
    for file in "$@"; do
        if [ -e "$CONFIG_DIR/$file" ]; then
            cp -p "$CONFIG_DIR/$file" "$PREVIOUS_CONFIG/$file"
        else
            : >"$PREVIOUS_CONFIG/$file.absent"
        fi
        chown root:root "$staged/$file"
        chmod 600 "$staged/$file"
        mv -f "$staged/$file" "$CONFIG_DIR/$file"
    done
    rm -rf "$staged"
    # While a chore's read-only mark exists, which file config.yml names is the chore's business.
    [ -e "$READ_ONLY_MARK" ] || point_config_at writable.yml
}

# What the health checks ask: "WHAT|URL|BODY" a line, BODY what the answer must be exactly (empty: any).
check_targets() {
    echo "registry|$REGISTRY_URL/v2/|{}"
    [ -z "$PROXY_URL" ] || echo "access proxy|$PROXY_URL/v2/|{}"
    if [ -n "$UI_URL" ]; then
        echo "UI|$UI_URL/|"
        echo "UI proxy to the registry|$UI_URL/v2/_catalog|"
    fi
    for url in $MIRROR_URLS; do
        echo "mirror $url|$url/v2/|{}"
    done
}

# "ok WHAT" or "failed WHAT: GET URL gave ANSWER" for each check, in order: every GET by one curl (a process
# and a TLS setup for all, where one each cost the host four times the CPU), each answer to a file of its own.
checks() {
    answers=$(mktemp -d)
    check_targets >"$answers/targets"
    set --
    n=0
    while IFS='|' read -r _what url _body; do
        n=$((n + 1))
        set -- "$@" -o "$answers/$n" "$url"
    done <"$answers/targets"
    # shellcheck disable=SC2046 # one word per status
    set -- $(curl -s -w '%{http_code}\n' --connect-timeout 3 -m 10 -K "$CURL_CONFIG" "$@" || true)
    n=0
    while IFS='|' read -r what url body; do
        n=$((n + 1))
        code=${1:-000}
        [ $# -eq 0 ] || shift
        got=$(cat "$answers/$n" 2>/dev/null || true)
        if [ "$code" = 200 ] && { [ -z "$body" ] || [ "$got" = "$body" ]; }; then
            echo "ok $what"
        elif [ "$code" = 000 ]; then
            echo "failed $what: GET $url gave no answer"
        else
            echo "failed $what: GET $url gave HTTP $code $(printf '%s' "$got" | head -c 200)"
        fi
    done <"$answers/targets"
    rm -rf "$answers"
}

all_pass() { ! checks | grep -v '^ok ' >/dev/null; }  # reads every line: checks cleans up after itself

healthy() {
    case ${1:-} in
        '') checks ;;
        --wait)
            if wait_until "$HEALTH_TIMEOUT" all_pass; then
                checks
                return
            fi
            checks | sed -n 's/^failed /unhealthy: /p' >&2
            # shellcheck disable=SC2086 # one word per container name
            show_logs $CONTAINERS
            exit 1
            ;;
        *) usage ;;
    esac
}

action=${1:-}
[ $# -eq 0 ] || shift
case $action in
    replace)
        [ $# -ge 2 ] || usage
        replace "$@"
        ;;
    restart)
        [ $# -eq 1 ] || usage
        restart "$1"
        ;;
    try-config)
        [ $# -eq 1 ] || usage
        try_config "$1"
        ;;
    install-config)
        [ $# -ge 1 ] || usage
        install_config "$@"
        ;;
    healthy) healthy "$@" ;;
    *) usage ;;
esac
