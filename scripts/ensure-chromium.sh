#!/usr/bin/env bash
# Make sure a Chromium the explorer's browser tests can drive is installed; install Debian's package when we
# can (Playwright's own browser download needs the network, so the tests drive this one instead).
set -u
if [ -n "${GENLENS_CHROMIUM:-}" ] && [ -x "$GENLENS_CHROMIUM" ]; then exit 0; fi
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then exit 0; fi
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null 2>&1 && sudo="sudo -n"; }
  if [ "$(id -u)" = 0 ] || [ -n "$sudo" ]; then
    echo "installing chromium with apt-get ..."
    $sudo apt-get install -y -qq chromium >/dev/null 2>&1 \
      || { $sudo apt-get update -qq >/dev/null 2>&1 && $sudo apt-get install -y -qq chromium >/dev/null 2>&1; }
    command -v chromium >/dev/null 2>&1 && exit 0
  fi
fi
echo "Chromium not found and apt could not install it: run 'sudo apt-get install chromium', or set" \
     "GENLENS_CHROMIUM to a Chromium binary; without it the explorer's browser tests skip (and fail under CI=true)." >&2
exit 1
