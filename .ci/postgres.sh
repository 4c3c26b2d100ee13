#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the storage tests.
#
#   eval "$(.ci/postgres.sh)"      # or: source .ci/postgres.sh
#   go test ./internal/store/...   # FIREWATCH_PG_URL is now set
#
# It installs Debian's postgresql if no server binaries are found, runs initdb
# in a temporary directory (as user postgres when run as root: root may not
# run the server), listens on 127.0.0.1 on a free port, creates the database
# "firewatch" and prints `export FIREWATCH_PG_URL=...` plus a `trap ... EXIT`
# that stops the cluster and removes the directory. If FIREWATCH_PG_URL is
# already set and answers, it is reused (idempotent).
#
#   .ci/postgres.sh stop DIR       # stops the cluster in DIR and removes it
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
	local d
	for d in /usr/lib/postgresql/*/bin /usr/local/bin /usr/bin; do
		if [[ -x $d/initdb && -x $d/pg_ctl ]]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

as_owner() {
	if [[ $(id -u) == 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

stop_cluster() {
	local dir=$1 bin
	[[ -n $dir && -d $dir ]] || return 0
	bin=$(find_bin) || true
	if [[ -n ${bin:-} && -f $dir/data/postmaster.pid ]]; then
		as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}

pg_main() {
	if [[ ${1:-} == stop ]]; then
		stop_cluster "${2:-}"
		return 0
	fi
	local bin
	if [[ -n ${FIREWATCH_PG_URL:-} ]] && bin=$(find_bin) && "$bin/pg_isready" -q -d "$FIREWATCH_PG_URL" 2>/dev/null; then
		log "reusing FIREWATCH_PG_URL"
		echo "export FIREWATCH_PG_URL='$FIREWATCH_PG_URL'"
		return 0
	fi
	if ! bin=$(find_bin); then
		log "installing postgresql"
		DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2 || {
			apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
		}
		bin=$(find_bin) || { log "no initdb/pg_ctl after installing postgresql"; return 1; }
	fi
	if [[ $(id -u) == 0 ]] && ! id postgres >/dev/null 2>&1; then
		useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
	fi
	local dir port p
	dir=$(mktemp -d /tmp/firewatch-pg.XXXXXX)
	chmod 0755 "$dir"
	[[ $(id -u) == 0 ]] && chown postgres: "$dir"
	for p in $(seq 54320 54999); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			port=$p
			break
		fi
	done
	[[ -n ${port:-} ]] || { log "no free port"; stop_cluster "$dir"; return 1; }
	if ! as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1; then
		cat "$dir/initdb.log" >&2
		stop_cluster "$dir"
		return 1
	fi
	if ! as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=300" start >&2; then
		cat "$dir/server.log" >&2 || true
		stop_cluster "$dir"
		return 1
	fi
	local base="postgres://postgres@127.0.0.1:$port"
	as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres firewatch
	log "PostgreSQL on 127.0.0.1:$port in $dir"
	echo "export FIREWATCH_PG_URL='$base/firewatch?sslmode=disable'"
	echo "export FIREWATCH_PG_DIR='$dir'"
	echo "trap '$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/postgres.sh stop $dir' EXIT"
}

if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
	# Sourced: apply the exports and the cleanup trap to the caller's shell.
	eval "$(pg_main "$@")"
else
	pg_main "$@"
fi
