#!/usr/bin/env bash
# PostgreSQL from Debian's packages for a self-hosted Prefect server (make postgres / postgres-stop).
#   scripts/postgres.sh start [DIR] [PORT]   install if missing, initdb into DIR, start on 127.0.0.1:PORT,
#                                            create role and database "prefect"; prints the connection URL
#   scripts/postgres.sh stop  [DIR]
# A development database: it listens on the loopback only; the role's password is "prefect" (scram-sha-256
# over TCP), local socket connections (in DIR) are trusted. Run as root, the server runs as the Debian
# "postgres" user (PostgreSQL refuses root), so DIR is owned by it.
set -euo pipefail
action=${1:-start}
dir=$(realpath -m "${2:-.postgres}")
port=${3:-54329}
role=prefect db=prefect password=prefect

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

bin=$(pg_bin)
case "$action" in
start)
  if [ -z "$bin" ]; then
    if [ "$(id -u)" != 0 ]; then echo "postgres: PostgreSQL is not installed: apt-get install postgresql (as root)" >&2; exit 1; fi
    t0=$(date +%s)
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >/dev/null
    echo "postgres: installed Debian's postgresql in $(( $(date +%s) - t0 )) s"
    bin=$(pg_bin)
  fi
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
  chmod 700 "$dir"
  if [ ! -f "$dir/PG_VERSION" ]; then
    pwfile=$(mktemp); echo "$password" >"$pwfile"
    if [ "$(id -u)" = 0 ]; then chown postgres "$pwfile"; fi
    as_pg "$bin/initdb" -D "$dir" -U "$role" --pwfile="$pwfile" --auth-host=scram-sha-256 --auth-local=trust \
      -E UTF8 --no-locale >"$dir.initdb.log" 2>&1 || { cat "$dir.initdb.log" >&2; rm -f "$pwfile"; exit 1; }
    rm -f "$pwfile" "$dir.initdb.log"
  fi
  if ! as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir" start >/dev/null
  fi
  if ! as_pg "$bin/psql" -h "$dir" -p "$port" -U "$role" -d postgres -tAc \
      "select 1 from pg_database where datname = '$db'" | grep -q 1; then
    as_pg "$bin/createdb" -h "$dir" -p "$port" -U "$role" "$db"
  fi
  echo "postgres: running ($("$bin/postgres" --version)), data in $dir"
  echo "  PREFECT_SERVER_DATABASE_CONNECTION_URL=postgresql+asyncpg://$role:$password@127.0.0.1:$port/$db"
  ;;
stop)
  if [ -n "$bin" ] && [ -f "$dir/postmaster.pid" ]; then
    as_pg "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null && echo "postgres: stopped"
  else
    echo "postgres: not running"
  fi
  ;;
*) echo "usage: $0 start|stop [DIR] [PORT]" >&2; exit 2 ;;
esac
