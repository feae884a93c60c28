#!/usr/bin/env bash
# Run a command (the test suite) beside a throw-away PostgreSQL server: Debian's package, installed when missing,
# a temporary data directory owned by an unprivileged user, a free port on 127.0.0.1 only. The server is stopped
# and its directory removed however the command ends (success, failure, Ctrl-C). The command gets the server's
# URL in KHUYENCONG_TEST_PG; when no server could be started it gets the reason in KHUYENCONG_TEST_PG_ERROR
# instead, and the PostgreSQL tests fail with it (KHUYENCONG_TEST_PG_REQUIRED=1).
set -uo pipefail

export KHUYENCONG_TEST_PG_REQUIRED=1
bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

start() {
  local bin
  bin=$(bindir)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "installing postgresql for the PostgreSQL tests"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } \
      || { ERROR="apt-get install postgresql failed"; return 1; }
    bin=$(bindir)
  fi
  [ -n "$bin" ] || { ERROR="no PostgreSQL server binaries under /usr/lib/postgresql"; return 1; }
  PG_BIN=$bin
  PG_DIR=$(mktemp -d /tmp/khuyencong-pg.XXXXXX)
  chmod 700 "$PG_DIR"
  AS=()
  if [ "$(id -u)" = 0 ]; then  # PostgreSQL refuses to run as root
    local user=postgres
    id "$user" >/dev/null 2>&1 || user=nobody
    chown "$user" "$PG_DIR"
    AS=(runuser -u "$user" --)
  fi
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U khuyencong --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync \
    >"$PG_DIR/initdb.log" 2>&1 || { ERROR="initdb failed: $(tail -n 3 "$PG_DIR/initdb.log")"; return 1; }
  # fsync off: a test server holds nothing worth a power cut; the tests kill our processes, never the server.
  "${AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null || { ERROR="the server did not start: $(tail -n 3 "$PG_DIR/server.log")"; return 1; }
  export KHUYENCONG_TEST_PG="postgresql://khuyencong@127.0.0.1:$port/postgres"
}

stop() {
  if [ -n "${PG_DIR:-}" ]; then
    [ -f "$PG_DIR/data/postmaster.pid" ] && "${AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1
    rm -rf "$PG_DIR"
  fi
}

ERROR=""
CHILD=""
trap stop EXIT
# Interrupted (Ctrl-C, a CI timeout): stop the command too (TERM: a background job ignores INT), then the EXIT
# trap stops the server.
trap '[ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null; wait "$CHILD" 2>/dev/null; exit 130' INT
trap '[ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null; wait "$CHILD" 2>/dev/null; exit 143' TERM
if ! start; then
  echo "PostgreSQL tests will fail: $ERROR" >&2
  export KHUYENCONG_TEST_PG_ERROR="$ERROR"
fi
# In the background and waited for: a signal to this script is handled at once, not after the command ends.
"$@" &
CHILD=$!
wait "$CHILD"
