#!/usr/bin/env bash
# Installs Tessera into ./.venv on a fresh Debian machine with Python 3.11+.
#   scripts/bootstrap.sh          the product
#   scripts/bootstrap.sh --test   the product and everything the tests use
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[ "${1:-}" = "--test" ] && extras="[test,examples]"

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "bootstrap: Python 3.11 or newer is required (found: $("$PY" --version 2>&1))" >&2
    exit 1
fi

# Debian splits venv and pip out of the interpreter package.
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip >/dev/null
    else
        echo "bootstrap: install python3-venv (sudo apt-get install python3-venv)" >&2
        exit 1
    fi
fi

# System packages: etcd (the metadata log; Debian's etcd-server, 3.4), ISA-L and,
# as root, for the tests that cut a process off its loopback ports, iptables
# (without it those tests are skipped) and faketime (libfaketime, for the
# chaos harness's clock-skew fault; the harness also installs both itself).
need=()
command -v etcd >/dev/null || [ -n "${TESSERA_ETCD_BINARY:-}" ] || need+=(etcd-server)
# libisal2 (Intel ISA-L): parity computed ~15x faster than zfec alone, the same
# bytes (tessera/isal.py); optional, so only asked for as root.
if [ "$(id -u)" = 0 ] && ! compgen -G '/usr/lib/*-linux-gnu/libisal.so.2' >/dev/null; then
    need+=(libisal2)
fi
if [ -n "$extras" ] && [ "$(id -u)" = 0 ] && ! command -v iptables >/dev/null; then
    need+=(iptables)
fi
if [ -n "$extras" ] && [ "$(id -u)" = 0 ] \
    && [ ! -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ]; then
    need+=(faketime)
fi
# S3 clients from other codebases that tests/integration/test_other_clients.py
# drives (Debian's rclone and s3cmd; the MinIO SDK comes with the test extra).
if [ -n "$extras" ] && [ "$(id -u)" = 0 ]; then
    command -v rclone >/dev/null || need+=(rclone)
    command -v s3cmd >/dev/null || need+=(s3cmd)
fi
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "bootstrap: missing ${need[*]}: run 'sudo apt-get install ${need[*]}'" \
             "(or put an etcd 3.4+ binary on PATH or in TESSERA_ETCD_BINARY)" >&2
        exit 1
    fi
fi

# The console's browser tests (tests/console) drive Debian's Chromium through
# its own chromedriver; no browser is downloaded at test time.
if [ -n "$extras" ] && ! { command -v chromium && command -v chromedriver; } >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "bootstrap: the console tests need chromium and chromium-driver (apt-get install)" >&2
    fi
fi

# The CDN tests (tests/integration/test_cdn_cache.py) put Debian's nginx, as a
# caching proxy they configure and start themselves, in front of a cluster.
if [ -n "$extras" ] && ! command -v nginx >/dev/null && ! [ -x /usr/sbin/nginx ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
        # The package may start its default site on port 80 of every address;
        # the tests run their own nginx on 127.0.0.1 only.
        if command -v service >/dev/null; then service nginx stop >/dev/null 2>&1 || true; fi
    else
        echo "bootstrap: the CDN tests need nginx (apt-get install nginx)" >&2
    fi
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".${extras}"
echo "bootstrap: installed into .venv" >&2
