// nginx configurations for the benchmarks: an origin answering "hello" (the upstream when
// nginx is installed) and the scenario "nginx proxy_pass with upstream keepalive". Each
// instance runs in the foreground from its own temp prefix on 127.0.0.1, never as the
// system service; bench/run.js starts it and ends it by PID.
'use strict';
const { URL } = require('node:url');

/** Settings both roles share: one worker, files kept inside the temp prefix. */
function commonConf(dir) {
  return `daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
`;
}

function httpCommon(dir) {
  return `access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 0;
  keepalive_timeout 120s;
  keepalive_requests 1000000000;`;
}

/** nginx.conf for an origin on 127.0.0.1:port answering every request with "hello". */
function originConf({ dir, port }) {
  return `${commonConf(dir)}http {
  ${httpCommon(dir)}
  server {
    listen 127.0.0.1:${port};
    location / { default_type text/plain; return 200 "hello"; }
  }
}
`;
}

/** nginx.conf for a reverse proxy on 127.0.0.1:port to `upstream` with pooled connections. */
function proxyConf({ dir, port, upstream }) {
  const target = new URL(upstream);
  return `${commonConf(dir)}http {
  ${httpCommon(dir)}
  upstream origin {
    server ${target.hostname}:${target.port || 80};
    keepalive 64;
    keepalive_requests 1000000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
    }
  }
}
`;
}

module.exports = { originConf, proxyConf };
