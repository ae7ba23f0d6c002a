#!/usr/bin/env bash
# Make sure Fashion-MNIST is somewhere genlens looks; install Debian's package when we can.
set -u
dir=/usr/share/datasets/fashion-mnist
if [ -n "${GENLENS_DATA:-}" ] && [ -f "$GENLENS_DATA/t10k-images-idx3-ubyte.gz" ]; then exit 0; fi
if [ -f "$dir/t10k-images-idx3-ubyte.gz" ]; then exit 0; fi
cache="${XDG_CACHE_HOME:-$HOME/.cache}/genlens/fashion-mnist"
if [ -f "$cache/t10k-images-idx3-ubyte.gz" ]; then exit 0; fi
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null 2>&1 && sudo="sudo -n"; }
  if [ "$(id -u)" = 0 ] || [ -n "$sudo" ]; then
    echo "installing dataset-fashion-mnist with apt-get ..."
    $sudo apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 \
      || { $sudo apt-get update -qq >/dev/null 2>&1 && $sudo apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; }
    [ -f "$dir/t10k-images-idx3-ubyte.gz" ] && exit 0
  fi
fi
echo "Fashion-MNIST not found and apt could not install it: run 'sudo apt-get install dataset-fashion-mnist'," \
     "or '.venv/bin/genlens data download' (needs internet), or set GENLENS_DATA to a folder with the IDX files." >&2
exit 1
