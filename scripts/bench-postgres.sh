#!/usr/bin/env bash
# Casts per second with the board's log on bbolt, on PostgreSQL, and on
# PostgreSQL behind two board processes, measured in one run
# (BENCHMARKS.md, "PostgreSQL: one machine and beyond"):
#
#   scripts/bench-postgres.sh                 # 3 rounds of 6,000 ballots, 64 connections
#   scripts/bench-postgres.sh --runs 5 --ballots 10000 --connections 128
#
# Each round sets up three fresh elections, one a configuration, with the
# same commands a deployment runs (issuer keygen, board keygen, election
# init, issuer roll, issuer serve, board serve, the key ceremony of one
# trustee, board open), and drives each with evote loadtest over loopback
# HTTP:
#
#   bolt  one board process, its log in bbolt (--data)
#   pg1   one board process, its log in a fresh PostgreSQL database
#   pg2   two board processes on one fresh PostgreSQL database, casts sent
#         to them round-robin (loadtest --board A --board B)
#
# The issuer keeps its roll in bbolt in all three, and every voter's token
# is issued before the casting starts: only the casting is timed (loadtest
# issues, then encrypts, then casts). The configurations run interleaved
# (bolt, pg1, pg2, bolt, pg1, pg2, ...) so that the noise of a shared
# machine falls on each alike; the summary gives medians and the ratios.
#
# Around the timed casting alone (loadtest --cast-hook) it also samples the
# CPU time of the load generator, the board(s), the issuer and every process
# of the PostgreSQL server, and the machine's, and, from PostgreSQL's own
# statistics, the sequencer's groups (one SELECT ... FOR UPDATE on log_meta
# each), the statements and the WAL fsyncs per cast.
#
# PostgreSQL: by default a private cluster is made in a temporary directory
# (initdb, pg_ctl: Debian's postgresql package) on a free loopback port,
# with pg_stat_statements loaded and track_wal_io_timing on, and removed at
# the end; its settings are otherwise initdb's defaults (fsync and
# synchronous_commit on). EVOTE_BENCH_POSTGRES=DSN uses a running server
# instead, whose user may create databases (the bench creates and drops
# evote_bench_* ones); its CPU and statistics are then not sampled, since
# other databases may share the server.
#
# Options (or the environment variables beside them):
#   --runs R          rounds (RUNS, default 3)
#   --ballots N       ballots a run, one voter each (BALLOTS, default 6000)
#   --connections C   loadtest's concurrent connections (CONNECTIONS, 64)
#   --db-pool P       each board's --db-pool (DB_POOL, 0: the default)
#   --only LIST       configurations, comma-separated (ONLY, bolt,pg1,pg2)
#   --keep            keep the working directory (KEEP=1)
# EVOTE_BIN names an evote binary; by default one is built from this
# checkout with go build.
set -euo pipefail

# --sample DIR: loadtest's --cast-hook (EVOTE_LOADTEST_PHASE says when).
# Writes DIR/cpu.PHASE: a line "t NANOSECONDS", the machine's /proc/stat cpu
# line as "machine BUSY IDLE" (clock ticks), and a line "ROLE PID TICKS"
# (user+system) for loadtest and every process DIR/pids names, and for each
# PostgreSQL server process if DIR/postmaster names its pid. With
# DIR/pgstats (a psql command) it resets PostgreSQL's statement and WAL
# statistics at the start and writes them at the end, outside the sampled
# CPU time (waiting 11 s for the backends' WAL counts).
if [ "${1:-}" = --sample ]; then
	d=$2 phase=${EVOTE_LOADTEST_PHASE:?--sample runs as loadtest --cast-hook}
	ticks() { # ROLE PID
		local s
		s=$(cat "/proc/$2/stat" 2>/dev/null) || return 0
		s=${s##*) } # after the command name, which may hold spaces
		set -- "$1" "$2" $s
		echo "$1 $2 $((${14} + ${15}))" # utime, stime: fields 14 and 15 of stat
	}
	sample() {
		echo "t $(date +%s%N)"
		read -r _ u n s i w q sq st _ </proc/stat
		echo "machine $((u + n + s + q + sq + st)) $((i + w))"
		ticks loadtest "$EVOTE_LOADTEST_PID"
		while read -r role pid; do ticks "$role" "$pid"; done <"$d/pids"
		if [ -f "$d/postmaster" ]; then
			pm=$(cat "$d/postmaster")
			ticks pg "$pm"
			for c in $(ps -o pid= --ppid "$pm"); do ticks pg "$c"; done
		fi
	}
	if [ "$phase" = cast-start ]; then
		[ ! -f "$d/pgstats" ] || sh -c "$(cat "$d/pgstats")" -- reset >/dev/null
		sample >"$d/cpu.$phase"
	else
		sample >"$d/cpu.$phase"
		[ ! -f "$d/pgstats" ] || sh -c "$(cat "$d/pgstats")" -- dump >"$d/pgstats.out"
	fi
	exit 0
fi

runs=${RUNS:-3} ballots=${BALLOTS:-6000} conns=${CONNECTIONS:-64} pool=${DB_POOL:-0}
only=${ONLY:-bolt,pg1,pg2} keep=${KEEP:-}
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--ballots) ballots=$2; shift 2 ;;
	--connections) conns=$2; shift 2 ;;
	--db-pool) pool=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench-postgres.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/evote-bench-pg.XXXXXX)
chmod 755 "$work"
export EVOTE_PASSPHRASE=bench-postgres-passphrase
started=() # service pids to stop on exit
pgctl=()   # the private cluster's pg_ctl, to stop on exit

# Services are stopped with SIGTERM: a background job of a script starts
# with SIGINT ignored, and one not yet listening would not hear it.
cleanup() {
	local p
	for p in "${started[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${started[@]}"; do wait "$p" 2>/dev/null || true; done
	[ ${#pgctl[@]} -eq 0 ] || "${pgctl[@]}" -m fast -w stop >/dev/null 2>&1 || true
	if [ -n "$keep" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench-postgres: $*" >&2; }

if [ -n "${EVOTE_BIN:-}" ]; then
	evote=$EVOTE_BIN
else
	log "building evote"
	(cd "$root" && go build -o "$work/evote" ./cmd/evote)
	evote=$work/evote
fi
ev() { "$evote" --scrypt-work-factor 10 "$@"; }

# PostgreSQL: a private cluster unless EVOTE_BENCH_POSTGRES names a server.
stats=
if [ -n "${EVOTE_BENCH_POSTGRES:-}" ]; then
	admin=$EVOTE_BENCH_POSTGRES
	log "PostgreSQL at $(echo "$admin" | sed 's#://[^@/]*@#://***@#'); its CPU and statistics are not sampled"
elif [[ $only == *pg* ]]; then
	bin=$(pg_config --bindir 2>/dev/null || true)
	[ -x "$bin/initdb" ] || bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	if [ ! -x "$bin/initdb" ]; then
		echo "bench-postgres.sh: no initdb: apt-get install postgresql, or set EVOTE_BENCH_POSTGRES=DSN" >&2
		exit 1
	fi
	as=()
	if [ "$(id -u)" -eq 0 ]; then as=(runuser -u postgres --); fi
	pgdir=$work/pg
	mkdir "$pgdir"
	[ ${#as[@]} -eq 0 ] || chown postgres: "$pgdir"
	port=
	for p in $(seq 55440 55499); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
	done
	[ -n "$port" ] || { echo "bench-postgres.sh: no free port in 55440-55499" >&2; exit 1; }
	"${as[@]}" "$bin/initdb" -D "$pgdir/data" -U postgres -A trust -E UTF8 --no-instructions >"$pgdir/initdb.log" 2>&1 ||
		{ cat "$pgdir/initdb.log" >&2; exit 1; }
	pgctl=("${as[@]}" "$bin/pg_ctl" -D "$pgdir/data")
	"${pgctl[@]}" -l "$pgdir/server.log" -w -t 60 -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c max_connections=200 \
		-c shared_preload_libraries=pg_stat_statements -c track_wal_io_timing=on" start >/dev/null ||
		{ cat "$pgdir/server.log" >&2; exit 1; }
	admin="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	psql "$admin" -qAtc "CREATE EXTENSION pg_stat_statements" >/dev/null
	stats=1
	log "a private PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on port $port (fsync $(psql "$admin" -Atc 'show fsync'), synchronous_commit $(psql "$admin" -Atc 'show synchronous_commit'))"
fi
dsn() { # the DSN of database $1 on the server $admin names
	local base=${admin%%\?*} q=
	[[ $admin != *\?* ]] || q="?${admin#*\?}"
	echo "${base%/*}/$1$q"
}

# serve NAME ARGS...: starts "evote ARGS..." in the current directory and
# sets url to the address it prints.
serve() {
	local name=$1 i
	shift
	"$evote" --scrypt-work-factor 10 "$@" >"$name.out" 2>"$name.err" &
	local pid=$!
	started+=("$pid")
	echo "$name $pid" >>pids
	for i in $(seq 300); do
		url=$(sed -n 's/.* listening on //p' "$name.out" 2>/dev/null || true)
		[ -z "$url" ] || return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench-postgres.sh: evote $1 $2 did not start:" >&2
	cat "$name.err" >&2
	exit 1
}

stopall() {
	local p
	for p in "${started[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${started[@]}"; do wait "$p" 2>/dev/null || true; done
	started=()
}

# election CFG RUN: one fresh election, its services and a loadtest run, in
# $work/CFG-RUN.
election() {
	local cfg=$1 run=$2 d=$work/$1-$2 db= store
	mkdir "$d"
	cd "$d"
	: >pids
	ev issuer keygen >/dev/null
	ev board keygen --origin bench.evote.example/board >/dev/null
	ev trustee keygen --out t1.sign --pub t1.pub >/dev/null
	ev election init --title "Bench $cfg $run" --question "motion:Adopt the motion?:yes,no:1:1" \
		--trustees 1 --threshold 1 --min-ballots 1 --issuer-key issuer.pub --trustee-key t1.pub >/dev/null
	ev issuer roll --voters "$ballots" --out roll.csv >/dev/null
	echo "bench-admin-token-$RANDOM$RANDOM$RANDOM$RANDOM" >admin.token
	chmod 600 admin.token
	case $cfg in
	bolt) store=(--data board-data) ;;
	*)
		db=evote_bench_$$_${cfg}_$run
		psql "$admin" -qAtc "CREATE DATABASE $db" >/dev/null
		store=(--store "postgres:$(dsn "$db")" --db-pool "$pool")
		;;
	esac
	serve issuer issuer serve --roll roll.csv --election manifest.json --listen 127.0.0.1:0 --rate -1 --data issuer-data
	local issuer=$url
	local common=(--manifest manifest.json --listen 127.0.0.1:0 --admin-token-file admin.token --rate -1 --burst -1)
	serve board1 board serve "${common[@]}" "${store[@]}"
	local boards=(--board "$url") b1=$url
	mkdir ceremony
	ev trustee init --index 1 --state t1.state --signing-key t1.sign --dir ceremony >/dev/null
	ev board post --board "$b1" --admin-token-file admin.token ceremony/ann-1.msg >/dev/null
	ev trustee deal --state t1.state --signing-key t1.sign --dir ceremony --board "$b1" --board-key board.vkey \
		--admin-token-file admin.token ceremony/ann-1.msg >/dev/null
	ev trustee verify --state t1.state --signing-key t1.sign --dir ceremony --board "$b1" --board-key board.vkey ceremony/deal-1.msg >/dev/null
	ev board open --board "$b1" --admin-token-file admin.token >/dev/null
	if [ "$cfg" = pg2 ]; then
		serve board2 board serve "${common[@]}" "${store[@]}"
		boards+=(--board "$url")
	fi
	if [ -n "$stats" ] && [ -n "$db" ]; then
		cat "$work/pg/data/postmaster.pid" | head -1 >postmaster
		cat >pgstats <<-EOF
			if [ "\$1" = reset ]; then
				psql '$admin' -qAtc "SELECT pg_stat_statements_reset(); SELECT pg_stat_reset_shared('wal')"
			else
				# Backends send their WAL counts at most once a second while
				# busy, and 10 s after going idle: wait for them.
				sleep 11
				psql '$admin' -F ' ' -qAtc "SELECT 'wal', wal_records, wal_bytes, wal_write, wal_sync, wal_sync_time FROM pg_stat_wal"
				psql '$admin' -F '|' -qAtc "SELECT 'stmt', calls, total_exec_time, max_exec_time, regexp_replace(query, '\s+', ' ', 'g') FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$db') ORDER BY calls DESC"
			fi
		EOF
	fi
	ev loadtest --issuer "$issuer" "${boards[@]}" --board-key board.vkey --manifest manifest.json --roll roll.csv \
		--ballots "$ballots" --connections "$conns" --json --cast-hook "'$self' --sample '$d'" >report.json 2>loadtest.err ||
		{ echo "bench-postgres.sh: loadtest failed ($cfg, run $run):" >&2; cat loadtest.err >&2; exit 1; }
	stopall
	rm -rf board-data issuer-data
	[ -z "$db" ] || psql "$admin" -qAtc "DROP DATABASE $db" >/dev/null
	cd "$work"
}

# field NAME FILE: a number from loadtest's JSON report.
field() { sed -n "s/^ *\"$1\": \\([-0-9.e+]*\\),\$/\\1/p; s/^ *\"$1\": \\([-0-9.e+]*\\)\$/\\1/p" "$2" | head -1; }

# cpu DIR ROLE: CPU seconds of the processes whose role starts with ROLE
# (board: board1 and board2) between the two samples
# (a process that was not yet running at the start counts from 0; one gone
# by the end is lost, which a pooled connection is not).
cpu() {
	awk -v role="$2" -v hz="$(getconf CLK_TCK)" '
		FNR == NR && index($1, role) == 1 { start[$2] = $3; next }
		FNR != NR && index($1, role) == 1 { sum += $3 - ($2 in start ? start[$2] : 0) }
		END { printf "%.2f\n", sum / hz }' "$1/cpu.cast-start" "$1/cpu.cast-end"
}
# machine DIR: busy CPU seconds of the whole machine, and its cores' seconds.
machine() {
	awk -v hz="$(getconf CLK_TCK)" '
		$1 == "t" { t[FNR == NR] = $2 }
		$1 == "machine" { b[FNR == NR] = $2; i[FNR == NR] = $3 }
		END { busy = (b[0] - b[1]) / hz; all = busy + (i[0] - i[1]) / hz; printf "%.2f %.2f\n", busy, all }' \
		"$1/cpu.cast-start" "$1/cpu.cast-end"
}

log "$runs rounds of $ballots ballots over $conns connections, configurations ${only//,/, }; in $work"
IFS=, read -ra cfgs <<<"$only"
for r in $(seq "$runs"); do
	for cfg in "${cfgs[@]}"; do
		[[ $cfg == bolt || $cfg == pg1 || $cfg == pg2 ]] || { echo "bench-postgres.sh: --only takes bolt, pg1, pg2" >&2; exit 2; }
		election "$cfg" "$r"
		d=$work/$cfg-$r
		n=$(field ballots "$d/report.json") errs=$(field errors "$d/report.json")
		rate=$(field cast_ballots_per_s "$d/report.json")
		read -r busy cores < <(machine "$d")
		line="$cfg $r $(printf %.0f "$rate") $(field p50_ms "$d/report.json") $(field p99_ms "$d/report.json") $errs"
		line+=" $(field cast_seconds "$d/report.json") $(cpu "$d" loadtest) $(cpu "$d" board)"
		line+=" $(cpu "$d" issuer) $(cpu "$d" pg) $busy $cores"
		if [ -f "$d/pgstats.out" ]; then
			groups=$(awk -F'|' '$1 == "stmt" && $5 ~ /^SELECT size FROM log_meta .*FOR UPDATE/ { print $2 }' "$d/pgstats.out")
			stmts=$(awk -F'|' '$1 == "stmt" && $5 !~ /pg_stat/ { s += $2 } END { print s + 0 }' "$d/pgstats.out")
			waited=$(awk -F'|' '$1 == "stmt" && $5 ~ /^SELECT size FROM log_meta .*FOR UPDATE/ { print $3 }' "$d/pgstats.out")
			read -r _ _ _ _ syncs synctime < <(grep '^wal ' "$d/pgstats.out")
			line+=" ${groups:-0} $stmts $syncs $synctime ${waited:-0}"
		else
			line+=" - - - - -"
		fi
		echo "$line" >>"$work/results"
		log "$cfg run $r: $(printf %.0f "$rate") casts/s ($n ballots, $errs errors)"
		[ "$errs" = 0 ] || log "  $cfg run $r had errors: $(sed -n 's/^ *"first_error": //p' "$d/report.json")"
	done
done

# The summary: one line a run, then medians a configuration and the ratios.
awk -v ballots="$ballots" -v conns="$conns" '
	function median(list,   a, n, i, j, t) {
		n = split(list, a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{
		cfg = $1; order[cfg] = order[cfg] ? order[cfg] : ++ncfg; names[order[cfg]] = cfg
		k = ballots / 1000
		board = $9
		runs[cfg] = runs[cfg] " " $3
		p50[cfg] = p50[cfg] " " $4; p99[cfg] = p99[cfg] " " $5; errs[cfg] += $6
		cl[cfg] = cl[cfg] " " $8 / k; cb[cfg] = cb[cfg] " " board / k; ci[cfg] = ci[cfg] " " $10 / k; cp[cfg] = cp[cfg] " " $11 / k
		share_l[cfg] = share_l[cfg] " " 100 * $8 / $13; share_b[cfg] = share_b[cfg] " " 100 * board / $13
		share_p[cfg] = share_p[cfg] " " 100 * $11 / $13
		share_o[cfg] = share_o[cfg] " " 100 * ($12 - $8 - board - $10 - $11) / $13
		idle[cfg] = idle[cfg] " " 100 * ($13 - $12) / $13
		if ($14 != "-") {
			grp[cfg] = grp[cfg] " " $14 / k; size[cfg] = size[cfg] " " ballots / ($14 ? $14 : 1)
			st[cfg] = st[cfg] " " $15 / ballots; sy[cfg] = sy[cfg] " " $16 / k; sm[cfg] = sm[cfg] " " ($16 ? $17 / $16 : 0)
			gap[cfg] = gap[cfg] " " 1000 * $7 / ($14 ? $14 : 1); qd[cfg] = qd[cfg] " " $18 / 1000 / $7
		}
		printf "run  %-4s %2d  %6d casts/s  p50 %6.1f ms  p99 %6.1f ms  errors %d\n", cfg, $2, $3, $4, $5, $6
	}
	END {
		printf "\n%d ballots a run over %d connections; medians of the runs (each run: %s)\n\n", ballots, conns, "a fresh election"
		printf "%-5s %9s %9s %9s   %-26s %s\n", "", "casts/s", "p50 ms", "p99 ms", "runs (casts/s)", "errors"
		for (i = 1; i <= ncfg; i++) {
			c = names[i]; m[c] = median(runs[c])
			printf "%-5s %9d %9.1f %9.1f  %-26s %d\n", c, m[c], median(p50[c]), median(p99[c]), runs[c], errs[c]
		}
		printf "\nCPU seconds per 1,000 casts, during the casting alone (medians)\n"
		printf "%-5s %9s %9s %9s %9s\n", "", "loadtest", "board(s)", "issuer", "postgres"
		for (i = 1; i <= ncfg; i++) { c = names[i]; printf "%-5s %9.3f %9.3f %9.3f %9.3f\n", c, median(cl[c]), median(cb[c]), median(ci[c]), median(cp[c]) }
		printf "\nshare of the machine'\''s cores during the casting, %% (medians; other = processes not of this bench)\n"
		printf "%-5s %9s %9s %9s %9s %9s\n", "", "loadtest", "board(s)", "postgres", "other", "idle"
		for (i = 1; i <= ncfg; i++) { c = names[i]; printf "%-5s %9.0f %9.0f %9.0f %9.0f %9.0f\n", c, median(share_l[c]), median(share_b[c]), median(share_p[c]), median(share_o[c]), median(idle[c]) }
		hdr = 0
		for (i = 1; i <= ncfg; i++) {
			c = names[i]
			if (grp[c] == "") continue
			if (!hdr++) {
				printf "\nthe sequencer and the WAL (medians; PostgreSQL statistics): groups and fsyncs per 1,000 casts,\n"
				printf "statements per cast, the casting time divided by the groups (ms a group: the hold, if the lock\n"
				printf "was never free), and the groups waiting for the lock on average (their summed wait / the time)\n"
				printf "%-5s %11s %11s %11s %11s %11s %11s %11s\n", "", "groups", "casts/group", "statements", "fsyncs", "ms a fsync", "ms a group", "waiting"
			}
			printf "%-5s %11.1f %11.1f %11.2f %11.1f %11.3f %11.2f %11.1f\n", c, median(grp[c]), median(size[c]), median(st[c]), median(sy[c]), median(sm[c]), median(gap[c]), median(qd[c])
		}
		printf "\nratios of the medians:"
		if (m["bolt"] && m["pg1"]) printf "  pg1/bolt %.2f", m["pg1"] / m["bolt"]
		if (m["pg1"] && m["pg2"]) printf "  pg2/pg1 %.2f", m["pg2"] / m["pg1"]
		if (m["bolt"] && m["pg2"]) printf "  pg2/bolt %.2f", m["pg2"] / m["bolt"]
		printf "\n"
	}' "$work/results"
