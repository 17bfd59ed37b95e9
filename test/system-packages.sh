#!/usr/bin/env bash
# Makes sure the Debian packages named as arguments are installed, for the suites that need
# them: chromium (the browser suite, at /usr/bin/chromium), openssl (the certificate suites),
# jq (the README guide suite), buildah and debootstrap (the image suite), prometheus (the alert-rules suite, which runs only
# its promtool). Those already there are left alone. The missing ones are installed with apt
# as root; otherwise this stops with the command to run.
set -uo pipefail

present() {
  case "$1" in
    chromium) [ -x /usr/bin/chromium ] ;;
    # The package is named after the server; the tests run only its promtool.
    prometheus) command -v promtool >/dev/null 2>&1 ;;
    # debootstrap is in /usr/sbin, which a non-login PATH may lack.
    *) command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] ;;
  esac
}

missing=()
for package in "$@"; do present "$package" || missing+=("$package"); done
[ ${#missing[@]} -eq 0 ] && exit 0

install_command="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  [ "$(id -u)" -ne 0 ] && install_command="sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
  echo "the tests need ${missing[*]}, which this machine lacks; install them first (on Debian: $install_command), then run the tests again" >&2
  exit 1
fi
echo "installing with apt: ${missing[*]}"
apt_log=$(mktemp)
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
  tail -n 20 "$apt_log" >&2
  rm -f "$apt_log"
  echo "apt could not install ${missing[*]} (see above); install them ($install_command), then run the tests again" >&2
  exit 1
fi
rm -f "$apt_log"
for package in "${missing[@]}"; do
  present "$package" || { echo "apt installed $package, but it is still missing" >&2; exit 1; }
done
