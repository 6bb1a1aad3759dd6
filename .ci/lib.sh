# Shell functions shared by .ci/run and .ci/lock (sourced from the repository root, never run).
# shellcheck shell=bash disable=SC2034

# The Python versions costroute supports, oldest first. pyproject's requires-python and classifiers
# say the same (tests/test_packaging.py checks it). The pinned step runs on the oldest one found,
# the latest step on the newest one found.
CI_PYTHONS="3.11 3.12"

# ci_log TEXT: a heading, bold on a terminal.
if [ -t 1 ]; then CI_BOLD=$'\033[1m' CI_OFF=$'\033[0m'; else CI_BOLD="" CI_OFF=""; fi
ci_log() { printf '%s== %s%s\n' "$CI_BOLD" "$*" "$CI_OFF"; }

# ci_quietly LOG CMD...: run CMD with its output in LOG, shown only if CMD fails.
ci_quietly() {
  local log=$1 rc=0; shift
  "$@" >"$log" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || cat "$log" >&2
  return "$rc"
}

# ci_apt_install LOG PACKAGE...: apt-get install, quietly (output in LOG, shown on failure), as root
# or through sudo.
ci_apt_install() {
  local log=$1 sudo=(); shift
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "need $*: run as root, or install sudo" >&2; return 1; }
    sudo=(sudo)
  fi
  # sudo resets the environment: DEBIAN_FRONTEND goes through env, inside it
  ci_quietly "$log" "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq update &&
    ci_quietly "$log" "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get -qq -o Dpkg::Use-Pty=0 install -y --no-install-recommends "$@"
}

# ci_find_python VERSION...: print the first interpreter that runs and reports one of the given
# versions (tried in order): pythonX.Y on PATH, Debian's /usr/bin, then pyenv's installs (newest
# patch first). A pyenv shim for a version that is not active fails to run and is skipped.
ci_find_python() {
  local v cand pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
  for v in "$@"; do
    for cand in "$(command -v "python$v" 2>/dev/null || true)" "/usr/bin/python$v" "/usr/local/bin/python$v" \
        $(ls -d "$pyenv_root/versions/$v".*/bin/"python$v" 2>/dev/null | sort -rV); do
      [ -n "$cand" ] && [ -x "$cand" ] || continue
      # the interpreter itself, not a pyenv shim: sys.executable
      if "$cand" -c "import sys; sys.exit(f'{sys.version_info[0]}.{sys.version_info[1]}' != '$v')" 2>/dev/null; then
        "$cand" -c 'import sys; print(sys.executable)'
        return 0
      fi
    done
  done
  return 1
}

# ci_uv: print the path of uv at the version .ci/constraints.txt pins, installed by pip into its own
# venv .ci/.venv-tools (kept between runs while it holds that version). uv makes the test venvs: it
# installs in seconds where pip takes minutes here, and reads no pip configuration of the machine.
# With no pin yet (the first .ci/lock), the newest uv.
ci_uv() {
  local want have tools=.ci/.venv-tools
  want=$(sed -n 's/^uv==\([^ ;]*\).*/\1/p' .ci/constraints.txt 2>/dev/null || true)
  have=$("$tools/bin/uv" --version 2>/dev/null | cut -d' ' -f2 || true)
  if [ -z "$have" ] || { [ -n "$want" ] && [ "$have" != "$want" ]; }; then
    rm -rf "$tools"
    ci_quietly .ci/.tools.log python3 -m venv "$tools" || {
      echo "python3 -m venv failed (on Debian: apt-get install python3-venv)" >&2; return 1; }
    ci_quietly .ci/.tools.log "$tools/bin/python" -m pip install --disable-pip-version-check -q \
      "uv${want:+==$want}" || return 1
  fi
  printf '%s\n' "$tools/bin/uv"
}

# Settings of the machine that would change what gets resolved, imported or tested are not ours to
# take: Python's import path, uv's resolution settings, costroute's and litellm's own variables, and
# provider keys (the default configuration routes to every provider whose key is set).
ci_isolate() {
  local name
  for name in $(compgen -v); do
    case $name in COSTROUTE_*|LITELLM_*|*_API_KEY) unset "$name" ;; esac
  done
  unset PYTHONPATH PYTHONHOME PYTHONSTARTUP VIRTUAL_ENV CONDA_PREFIX
  unset UV_CONSTRAINT UV_BUILD_CONSTRAINT UV_OVERRIDE UV_EXCLUDE_NEWER UV_RESOLUTION UV_PRERELEASE \
    UV_SYSTEM_PYTHON UV_PYTHON UV_NO_BUILD_ISOLATION UV_CONFIG_FILE
  export UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1
}
