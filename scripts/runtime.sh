# Sourced by the other scripts: puts Node.js 24 or newer first on PATH. The machine's node when it
# is new enough; else Node 24 from the npm registry, installed once into .runtime/ (the package
# node-linux-<arch> holds the binary and its headers: no other download). Safe to source again.
STEWARD_NODE_VERSION=24.22.3
steward_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
steward_node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

case "$(uname -m)" in
  x86_64 | amd64) steward_arch=x64 ;;
  aarch64 | arm64) steward_arch=arm64 ;;
  *) steward_arch="$(uname -m)" ;;
esac
steward_runtime="$steward_root/.runtime/node_modules/node-linux-$steward_arch"

if [ -x "$steward_runtime/bin/node" ]; then
  export PATH="$steward_runtime/bin:$PATH"
elif ! command -v node >/dev/null 2>&1 || [ "$(steward_node_major node)" -lt 24 ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "runtime: no npm here; installing Debian's npm to fetch Node $STEWARD_NODE_VERSION" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq npm >/dev/null
  fi
  echo "runtime: Node $(node -v 2>/dev/null || echo none) is older than 24; installing Node $STEWARD_NODE_VERSION (node-linux-$steward_arch) from the npm registry into .runtime/" >&2
  npm install --prefix "$steward_root/.runtime" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    "node-linux-$steward_arch@$STEWARD_NODE_VERSION" >&2
  export PATH="$steward_runtime/bin:$PATH"
fi
# Native addons (if any) are built against the node that runs them, with its own headers.
if [ -d "$steward_runtime/include/node" ] && [ "$(command -v node)" = "$steward_runtime/bin/node" ]; then
  export npm_config_nodedir="$steward_runtime"
fi
