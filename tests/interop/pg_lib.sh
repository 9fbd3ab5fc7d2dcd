#!/bin/bash
# A throw-away PostgreSQL server from Debian's packages for tests: initdb in a temporary
# directory, 127.0.0.1 only on a free port, unix socket inside that directory.
#   . tests/interop/pg_lib.sh; pg_start; ...use $PG_URL...; pg_stop
# As root the server runs as the `postgres` user (initdb refuses root).
# shellcheck shell=bash

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

pg_as() { # runs a command as the server's user
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# pg_start [DBNAME]: sets PG_DIR, PG_PORT, PG_URL (postgres://cobble@127.0.0.1:PORT/DBNAME).
pg_start() {
	local db=${1:-cobble}
	if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
		echo "pg_lib: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
		return 1
	fi
	PG_DIR=$(mktemp -d /tmp/cobble-pg.XXXXXX)
	chmod 755 "$PG_DIR"
	[ "$(id -u)" = 0 ] && chown postgres: "$PG_DIR"
	PG_PORT=$(pg_free_port)
	pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U cobble -A trust -E UTF8 --no-locale \
		>"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c max_connections=200" \
		start >/dev/null || { cat "$PG_DIR/server.log" >&2; return 1; }
	pg_as "$PG_BIN/createdb" -h "$PG_DIR" -p "$PG_PORT" -U cobble "$db" || return 1
	PG_URL="postgres://cobble@127.0.0.1:$PG_PORT/$db"
	export PG_DIR PG_PORT PG_URL
}

pg_createdb() { pg_as "$PG_BIN/createdb" -h "$PG_DIR" -p "$PG_PORT" -U cobble "$1"; }

pg_psql() { pg_as "$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U cobble -X -q -At "$@"; }

pg_restart() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 -m fast \
		-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c max_connections=200" \
		restart >/dev/null
}

pg_stop() {
	[ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ] || return 0
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -w -t 60 -m fast stop >/dev/null 2>&1
	rm -rf "$PG_DIR"
	PG_DIR=
}
