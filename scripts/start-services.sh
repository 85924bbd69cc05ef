#!/usr/bin/env bash
# Starts the brokers the events tests (crates/events/tests/brokers.rs) run against, on
# loopback, each only if its port does not answer yet (idempotent; a no-op when all run):
#   RabbitMQ    127.0.0.1:5672  guest/guest            (Debian package rabbitmq-server)
#   PostgreSQL  127.0.0.1:5432  user postgres, trust    (Debian package postgresql), database `test`
#   NATS        127.0.0.1:4222  with JetStream          (Debian package nats-server), data in /tmp
# A missing package is installed (apt-get update once, then apt-get install). Each service is
# waited for, boundedly; one that does not come up fails the script with the reason.
# Environment: SERVICES_WAIT (seconds per service, default 90).
set -euo pipefail

wait_seconds="${SERVICES_WAIT:-90}"
apt_updated=false

say() { echo "start-services: $*"; }
fail() { echo "start-services: $*" >&2; exit 1; }

answers() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

wait_for() { # port name [log file]
  local port="$1" name="$2" log="${3:-}" waited=0
  until answers "$port"; do
    if (( waited >= wait_seconds )); then
      [[ -n "$log" && -f "$log" ]] && tail -n 20 "$log" >&2
      fail "$name did not answer on 127.0.0.1:$port within ${wait_seconds} s"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  say "$name answers on 127.0.0.1:$port"
}

install() { # debian package names...
  local missing=()
  for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  (( ${#missing[@]} == 0 )) && return 0
  [[ "$(id -u)" == 0 ]] || fail "installing ${missing[*]} needs root"
  if [[ "$apt_updated" == false ]]; then
    say "apt-get update"
    apt-get update -qq
    apt_updated=true
  fi
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---- RabbitMQ ------------------------------------------------------------------------------
if ! answers 5672; then
  install rabbitmq-server
  say "starting RabbitMQ"
  service rabbitmq-server start >/dev/null 2>&1 || rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_for 5672 RabbitMQ /var/log/rabbitmq/rabbit@"$(hostname -s)".log
fi

# ---- PostgreSQL ----------------------------------------------------------------------------
if ! answers 5432; then
  install postgresql
  version="$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1 || true)"
  [[ -n "$version" ]] || fail "no PostgreSQL server under /usr/lib/postgresql"
  if [[ ! -d "/etc/postgresql/$version/main" ]]; then
    say "creating the cluster $version/main"
    pg_createcluster "$version" main >/dev/null
  fi
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  if ! grep -q '^# flowctl tests' "$hba"; then
    # Trust on loopback for the tests, before the package's rules (the first match wins).
    { printf '# flowctl tests: trust on loopback\nlocal all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n'; cat "$hba"; } >"$hba.new"
    mv "$hba.new" "$hba"
    chown postgres:postgres "$hba" 2>/dev/null || true
  fi
  say "starting PostgreSQL $version"
  pg_ctlcluster "$version" main start || service postgresql start || true
  wait_for 5432 PostgreSQL "/var/log/postgresql/postgresql-$version-main.log"
fi
pg_login=(-h 127.0.0.1 -p 5432 -U postgres -d postgres -v ON_ERROR_STOP=1 -tAq)
if command -v psql >/dev/null 2>&1; then
  if ! psql "${pg_login[@]}" -c 'SELECT 1' >/dev/null 2>&1; then
    fail "PostgreSQL answers on 127.0.0.1:5432 but refuses user postgres without a password (the tests need trust on loopback)"
  fi
  if [[ "$(psql "${pg_login[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'test'")" != 1 ]]; then
    say "creating the database test"
    psql "${pg_login[@]}" -c 'CREATE DATABASE test' >/dev/null
  fi
else
  fail "psql is missing (Debian package postgresql-client)"
fi

# ---- NATS with JetStream -------------------------------------------------------------------
if ! answers 4222; then
  install nats-server
  data=/tmp/flowctl-nats
  mkdir -p "$data"
  say "starting nats-server with JetStream (data in $data)"
  nohup setsid nats-server -a 127.0.0.1 -p 4222 -js -sd "$data" -l "$data/nats-server.log" \
    >/dev/null 2>&1 </dev/null &
  wait_for 4222 NATS "$data/nats-server.log"
fi

say "RabbitMQ, PostgreSQL and NATS are up"
