# Shell functions shared by the scripts that bring up an OpenStack service for the tests (scripts/heat-up,
# scripts/nova-up): sourced, never run. They read the caller's $KEYSTONE, $ADMIN_PASSWORD and $PG_SERVER, and
# call the caller's log and die.

# a pid file's process is alive and is still what we started (a reused pid is not ours)
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && grep -q "$2" "/proc/$(cat "$1")/cmdline" 2>/dev/null; }

# our processes of a pid file: the one it names, its children and its process group (a service's master and its
# workers; a worker can outlive its master while it shuts down), each only while its command line is still ours
ours() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  { echo "$pid"; pgrep -P "$pid"; pgrep -g "$pid"; true; } 2>/dev/null | sort -u | while read -r each; do
    if grep -qa "$2" "/proc/$each/cmdline" 2>/dev/null; then echo "$each"; fi
  done
}

stop() { # stop our processes of a pid file: TERM (or $3), then KILL what is left after 10 s
  local pidfile=$1 name=$2 signal=${3:-TERM} procs
  [ -s "$pidfile" ] || return 0
  procs=$(ours "$pidfile" "$name")
  if [ -n "$procs" ]; then
    log "stopping our $name ($(echo $procs))"
    # shellcheck disable=SC2086 # one pid a word
    kill -"$signal" $procs 2>/dev/null || true
    for _ in $(seq 1 50); do [ -n "$(ours "$pidfile" "$name")" ] || break; sleep 0.2; done
    procs=$(ours "$pidfile" "$name")
    # shellcheck disable=SC2086
    [ -z "$procs" ] || kill -KILL $procs 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# the bootstrap admin's project-scoped token (in $ADMIN_TOKEN) and project id (in $ADMIN_PROJECT), from Keystone in
# at most 5 s; $1 is a scratch file for Keystone's answer
admin_token() {
  local reply
  ADMIN_TOKEN='' ADMIN_PROJECT=''
  reply=$(curl -s -m 5 -D - -o "$1" -H 'Content-Type: application/json' -d \
    '{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin",
      "domain": {"id": "default"}, "password": "'"$ADMIN_PASSWORD"'"}}},
      "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}' "$KEYSTONE/v3/auth/tokens" \
    2>/dev/null) || return 1
  ADMIN_TOKEN=$(printf '%s\n' "$reply" | tr -d '\r' | awk 'tolower($1) == "x-subject-token:" {print $2}')
  [ -n "$ADMIN_TOKEN" ] || return 1
  ADMIN_PROJECT=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["token"]["project"]["id"])' \
    "$1" 2>/dev/null) || return 1
  rm -f "$1"
}

# each RabbitMQ queue named after the vhost $1 has a consumer (an RPC server listens on it; a call published before
# that is dropped by RabbitMQ and its caller waits rpc_response_timeout for nothing)
queues_consumed() {
  local vhost=$1
  shift
  timeout 15 rabbitmqctl -q list_queues -p "$vhost" name consumers 2>/dev/null \
    | awk -v wanted="$*" 'BEGIN {n = split(wanted, queues, " ")} $2 > 0 {consumed[$1] = 1}
      END {for (i = 1; i <= n; i++) if (!(queues[i] in consumed)) exit 1}'
}

ensure_vhost() { # the RabbitMQ vhost $1, the guest user allowed everything in it
  if ! rabbitmqctl -q list_vhosts 2>/dev/null | grep -qx "$1"; then
    log "creating RabbitMQ vhost $1"
    rabbitmqctl -q add_vhost "$1" >/dev/null || die "rabbitmqctl add_vhost failed"
  fi
  rabbitmqctl -q set_permissions -p "$1" guest '.*' '.*' '.*' >/dev/null || die "rabbitmqctl set_permissions failed"
}

ensure_databases() { # the PostgreSQL databases named, created when missing (with --new: dropped first)
  local psql_admin=(psql -X -q -v ON_ERROR_STOP=1 "postgresql://$PG_SERVER/postgres") name
  "${psql_admin[@]}" -c 'SELECT 1' >/dev/null || die "PostgreSQL does not answer at $PG_SERVER"
  if [ "$1" = --new ]; then
    shift
    for name in "$@"; do "${psql_admin[@]}" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" 2>/dev/null; done
  fi
  for name in "$@"; do
    if [ -z "$("${psql_admin[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'")" ]; then
      log "creating database $name"
      "${psql_admin[@]}" -c "CREATE DATABASE $name" || die "creating database $name failed"
    fi
  done
}

copy_databases() { # the PostgreSQL databases named, prefixed $2, made anew as copies of those prefixed $1
  local psql_admin=(psql -X -q -v ON_ERROR_STOP=1 "postgresql://$PG_SERVER/postgres") from=$1 to=$2 name
  shift 2
  for name in "$@"; do
    "${psql_admin[@]}" -c "DROP DATABASE IF EXISTS $to$name WITH (FORCE)" 2>/dev/null \
      && "${psql_admin[@]}" -c "CREATE DATABASE $to$name TEMPLATE $from$name" || return 1
  done
}

ensure_venv() { # the venv $1 with exactly the packages named after it, installed only when missing or changed
  local venv=$1
  shift
  if [ "$(cat "$venv/.glimpse-installed" 2>/dev/null)" != "$*" ]; then
    log "installing $* into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >"$venv.pip.log" 2>&1 \
      || { grep -v '^WARNING: Location' "$venv.pip.log" | tail -n 30 >&2; die "pip install failed"; }
    echo "$*" >"$venv/.glimpse-installed"
  fi
}
