#!/bin/sh
# Renders the page and nginx's configuration from the environment, then runs nginx in the foreground.
set -e

proxy="${NGINX_PROXY_PASS_URL:-$REGISTRY_URL}"
title="${REGISTRY_TITLE:-Docker Registry UI}"
escaped_title=$(printf '%s' "$title" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g')

mkdir -p /tmp/nginx
sed -e "s|@TITLE@|$(printf '%s' "$escaped_title" | sed 's/[|&\\]/\\&/g')|g" \
    -e "s|@DELETE_IMAGES@|${DELETE_IMAGES:-false}|g" \
    -e "s|@SINGLE_REGISTRY@|${SINGLE_REGISTRY:-false}|g" \
    /usr/share/nginx/index.html.in > /usr/share/nginx/html/index.html

if [ -n "$proxy" ]; then
    proxy_location="location /v2 {
            proxy_pass $proxy;
            proxy_http_version 1.1;
            proxy_set_header Host \$http_host;
            proxy_set_header X-Forwarded-Proto \$scheme;
            client_max_body_size 0;
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_read_timeout 900;
        }"
fi

cat > /etc/nginx/nginx.conf <<CONF
worker_processes 1;
user nobody nogroup;
pid /tmp/nginx/nginx.pid;
error_log stderr;
events { worker_connections 256; }
http {
    access_log /dev/stdout;
    client_body_temp_path /tmp/nginx/body;
    proxy_temp_path /tmp/nginx/proxy;
    fastcgi_temp_path /tmp/nginx/fastcgi;
    uwsgi_temp_path /tmp/nginx/uwsgi;
    scgi_temp_path /tmp/nginx/scgi;
    types { text/html html; application/javascript js; application/json json; }
    server {
        listen 80;
        root /usr/share/nginx/html;
        index index.html;
        $proxy_location
    }
    # As in nginx:alpine, which the Joxit image is built on: more servers may be mounted here.
    include /etc/nginx/conf.d/*.conf;
}
CONF

exec nginx -g 'daemon off;'
