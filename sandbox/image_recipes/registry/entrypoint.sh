#!/bin/sh
# The official registry image's entrypoint (registry:2 and registry:3 alike): a config path means "serve it".
set -e

case "$1" in
    *.yaml|*.yml) set -- registry serve "$@" ;;
    serve|garbage-collect|help|-*) set -- registry "$@" ;;
esac

exec "$@"
