#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL cluster for the tests, on a
# loopback port, with its data and socket under one directory:
#
#   eval "$(scripts/postgres.sh start)"   # prints the exports the tests read
#   make test
#   scripts/postgres.sh stop
#
# It needs Debian's postgresql package (initdb, pg_ctl). As root the server
# runs as the postgres user, which PostgreSQL requires. EVOTE_PG_DIR and
# EVOTE_PG_PORT override the directory (/tmp/evote-pg) and port (55432).
set -euo pipefail
dir=${EVOTE_PG_DIR:-/tmp/evote-pg}
port=${EVOTE_PG_PORT:-55432}
bin=$(pg_config --bindir 2>/dev/null || true)
[ -x "$bin/initdb" ] || bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ ! -x "$bin/initdb" ]; then
	echo "postgres.sh: no initdb: apt-get install postgresql" >&2
	exit 1
fi
as=()
if [ "$(id -u)" -eq 0 ]; then as=(runuser -u postgres --); fi
case "${1:-}" in
start)
	if [ ! -d "$dir/data" ]; then
		mkdir -p "$dir"
		[ ${#as[@]} -eq 0 ] || chown postgres: "$dir"
		"${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-instructions >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400" start >&2 ||
		{ cat "$dir/server.log" >&2; exit 1; }
	echo "export EVOTE_TEST_POSTGRES='postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable'"
	;;
stop)
	"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2
	;;
*)
	echo "usage: scripts/postgres.sh start|stop" >&2
	exit 2
	;;
esac
