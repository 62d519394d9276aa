# shellcheck shell=bash
# Shared by scripts/demo and scripts/test: install what the project needs.
#
#   install_os_packages   apt packages (skipped when all are installed)
#   install_python_env    .venv with the project pinned by constraints.txt
#                         (skipped when pyproject.toml and constraints.txt are unchanged)
#   install_barbican      .venv-barbican with OpenStack Barbican (the key manager)
#                         and gunicorn, pinned by constraints-barbican.txt
#                         (skipped when that file is unchanged)
#   build_guest_images    the instances' root filesystems (cirros, amphora) under
#                         .venv/share/tricircle-lb/images (skipped when built)
#   start_postgres        start the local PostgreSQL cluster and export
#                         TRICIRCLE_LB_TEST_POSTGRES_URL for the postgres tests
#
# Safe to run again: a second run does no apt or pip work and takes seconds.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$REPO_ROOT/.venv"
BARBICAN_VENV="$REPO_ROOT/.venv-barbican"

# Everything the project and the next issues need on the host: Python,
# the amphora data plane (HAProxy, keepalived, iproute2), the demo's
# instances (nginx) and load generator (wrk), PostgreSQL for the tests; nginx's
# stream module serves the amphorae's UDP listeners (decision 087).
APT_PACKAGES=(
    python3 python3-venv python3-pip
    haproxy keepalived iproute2 iputils-ping procps nftables
    nginx-light libnginx-mod-stream wrk curl ca-certificates
    postgresql
    busybox wget
)

log() {
    if [ -t 2 ]; then printf '\033[1m==> %s\033[0m\n' "$*" >&2; else printf '==> %s\n' "$*" >&2; fi
}

install_os_packages() {
    local missing=() pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$pkg")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        log "OS packages already installed"
        return 0
    fi
    if ! command -v apt-get >/dev/null; then
        log "not a Debian system: please install ${missing[*]} yourself"
        return 0
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { log "run as root to install ${missing[*]}"; return 1; }
        sudo=(sudo)
    fi
    log "installing OS packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
    # The OS's own nginx service is not ours (instances and amphorae run their own,
    # in their namespaces): the package may have started it on the host's port 80.
    if [[ " ${missing[*]} " != *" nginx-light "* ]]; then
        :
    elif command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        "${sudo[@]}" systemctl disable --now nginx.service >/dev/null 2>&1 || true
    elif [ -x /etc/init.d/nginx ]; then
        "${sudo[@]}" /etc/init.d/nginx stop >/dev/null 2>&1 || true
        "${sudo[@]}" update-rc.d nginx disable >/dev/null 2>&1 || true
    fi
}

install_python_env() {
    local stamp="$VENV/.tricircle-lb-installed" want
    want="$(cat "$REPO_ROOT/pyproject.toml" "$REPO_ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)"
    if [ -x "$VENV/bin/tricircle-lb" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "Python environment up to date ($VENV)"
        return 0
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating $VENV"
        python3 -m venv "$VENV"
    fi
    log "installing tricircle-lb and its dependencies (pinned by constraints.txt)"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        -c "$REPO_ROOT/constraints.txt" -e "$REPO_ROOT[test]"
    echo "$want" > "$stamp"
}

install_barbican() {
    # Its own venv: Barbican's OpenStack pins (oslo.*, SQLAlchemy) must not fight
    # ours. `tricircle-lb serve key-manager` runs its gunicorn (decision 083).
    local stamp="$BARBICAN_VENV/.tricircle-lb-installed" want
    want="$(sha256sum < "$REPO_ROOT/constraints-barbican.txt" | cut -d' ' -f1)"
    if [ -x "$BARBICAN_VENV/bin/gunicorn" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "Barbican environment up to date ($BARBICAN_VENV)"
        return 0
    fi
    if [ ! -x "$BARBICAN_VENV/bin/python" ]; then
        log "creating $BARBICAN_VENV"
        python3 -m venv "$BARBICAN_VENV"
    fi
    log "installing OpenStack Barbican (pinned by constraints-barbican.txt)"
    "$BARBICAN_VENV/bin/python" -m pip install -q --disable-pip-version-check \
        -r "$REPO_ROOT/constraints-barbican.txt"
    echo "$want" > "$stamp"
}

build_guest_images() {
    # An instance's root filesystem: a small /etc, the host's /usr read-only, and
    # BusyBox for the CirrOS tools /usr lacks (guest/image.py, decision 063).
    "$VENV/bin/python" -m tricircle_lb.guest.image | while read -r line; do log "$line"; done
}

start_postgres() {
    if ! command -v pg_lsclusters >/dev/null; then
        log "PostgreSQL is not installed: the postgres tests will be skipped"
        return 0
    fi
    local line version cluster port status
    line="$(pg_lsclusters --no-header | head -n1)"
    if [ -z "$line" ]; then
        version="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1)"
        log "creating PostgreSQL cluster $version/main"
        pg_createcluster "$version" main >/dev/null
        line="$(pg_lsclusters --no-header | head -n1)"
    fi
    read -r version cluster port status _ <<<"$line"
    if [ "$status" != "online" ]; then
        log "starting PostgreSQL $version/$cluster"
        pg_ctlcluster "$version" "$cluster" start || service postgresql start
    fi
    local i
    for i in $(seq 1 50); do
        pg_isready -q -h 127.0.0.1 -p "$port" && break
        sleep 0.2
    done
    # A role for the tests, with a new random password every run.
    local password
    password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
    runuser -u postgres -- psql -q -p "$port" -v ON_ERROR_STOP=1 >/dev/null <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tricircle_test') THEN
        CREATE ROLE tricircle_test LOGIN CREATEDB;
    END IF;
END
\$\$;
ALTER ROLE tricircle_test WITH LOGIN CREATEDB PASSWORD '$password';
SQL
    export TRICIRCLE_LB_TEST_POSTGRES_URL="postgresql+psycopg://tricircle_test:$password@127.0.0.1:$port/postgres"
    log "PostgreSQL $version/$cluster on port $port (TRICIRCLE_LB_TEST_POSTGRES_URL set)"
}
