#!/bin/sh
# As nginx's official image: run each /docker-entrypoint.d/*.sh, then the command (nginx in the foreground).
set -e
for script in /docker-entrypoint.d/*.sh; do
    [ -x "$script" ] && "$script"
done
exec "$@"
