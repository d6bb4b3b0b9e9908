# Shared helpers for scripts/run, scripts/test and .ci/run. Source it; it defines functions only
# (plus OMNICO_ROOT) and changes no shell options.
# shellcheck shell=bash

OMNICO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

log() {
    printf 'omnico: %s\n' "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}

have() {
    command -v "$1" >/dev/null 2>&1
}

# Print the path of a Python >= 3.11 (OMNICO_PYTHON wins), or fail.
find_python() {
    local candidate
    for candidate in ${OMNICO_PYTHON:-} python3.11 python3.12 python3.13 python3 python; do
        if have "$candidate" &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    local py
    py="$(find_python)" || die "Python 3.11 or newer is needed (Debian: apt-get install python3)"
    "$py" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Make `uv` callable: use one on PATH, else one we bootstrapped before, else install it from PyPI
# into a small venv under the user's cache (pip --user is refused by Debian's Python, PEP 668).
ensure_uv() {
    if have uv; then
        return 0
    fi
    local boot="${OMNICO_UV_BOOTSTRAP:-${XDG_CACHE_HOME:-$HOME/.cache}/omnico/uv-bootstrap}"
    local user_bin="$HOME/.local/bin"
    if [ -x "$boot/bin/uv" ]; then
        export PATH="$boot/bin:$PATH"
        return 0
    fi
    if [ -x "$user_bin/uv" ]; then
        export PATH="$user_bin:$PATH"
        return 0
    fi
    local py
    py="$(find_python)" || die "Python 3.11 or newer is needed (Debian: apt-get install python3)"
    log "uv not found: installing it from PyPI into $boot"
    if "$py" -m venv "$boot" >/dev/null 2>&1 &&
        "$boot/bin/python" -m pip install --quiet --disable-pip-version-check uv; then
        export PATH="$boot/bin:$PATH"
        return 0
    fi
    rm -rf "$boot"
    log "no working venv module; trying: $py -m pip install --user uv"
    if "$py" -m pip install --quiet --user --disable-pip-version-check uv ||
        PIP_BREAK_SYSTEM_PACKAGES=1 "$py" -m pip install --quiet --user \
            --disable-pip-version-check uv; then
        export PATH="$("$py" -m site --user-base)/bin:$PATH"
        have uv && return 0
    fi
    die "could not install uv. Install it yourself (pip install uv), or the Debian package" \
        "python3-venv, and run this again"
}
