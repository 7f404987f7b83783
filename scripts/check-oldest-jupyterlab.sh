#!/usr/bin/env bash
# Compile the panel's TypeScript against the oldest JupyterLab we support (4.1.8, SMD 2.0.0):
# the exact versions of the shared packages that JupyterLab 4.1.8 provides (read in its
# share/jupyter/lab/static bundles; see docs/smd.md), so that no API newer than 4.1 slips in.
# labextension/package.json's ranges must accept these versions (checked here too).
#   scripts/check-oldest-jupyterlab.sh            (npm registry; ~1 min the first time)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
oldest=(
  @jupyterlab/application@4.1.8 @jupyterlab/apputils@4.2.8 @jupyterlab/coreutils@6.1.8
  @jupyterlab/services@7.1.8 @jupyterlab/settingregistry@4.1.8 @jupyterlab/statusbar@4.1.8
  @jupyterlab/translation@4.1.8 @jupyterlab/ui-components@4.1.8
  @lumino/disposable@2.1.2 @lumino/messaging@2.0.1
  @lumino/polling@2.1.2 @lumino/signaling@2.1.2 @lumino/widgets@2.3.1 react@18.2.0
)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node -e '
  const deps = require("./labextension/package.json").dependencies;
  const bad = [];
  for (const spec of process.argv.slice(1)) {
    const at = spec.lastIndexOf("@"), name = spec.slice(0, at), v = spec.slice(at + 1);
    const range = deps[name];
    if (!range) { bad.push(name + ": not a dependency"); continue; }
    const m = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(range), [a, b, c] = v.split(".").map(Number);
    if (!m || +m[1] !== a || +m[2] > b || (+m[2] === b && +m[3] > c)) bad.push(`${name} ${range} does not accept ${v}`);
  }
  if (bad.length) { console.error("[oldest] " + bad.join("\n[oldest] ")); process.exit(1); }
' "${oldest[@]}"
cp -r labextension/src labextension/tsconfig.json "$work/"
tsver=$(node -p 'require("./labextension/package.json").devDependencies.typescript')
reactver=$(node -p 'require("./labextension/package.json").devDependencies["@types/react"]')
(cd "$work" && printf '{"name": "oldest-check", "private": true}\n' >package.json &&
  npm install --no-audit --no-fund --ignore-scripts --loglevel=error "${oldest[@]}" \
    "typescript@$tsver" "@types/react@$reactver" >/dev/null &&
  npx tsc --noEmit -p tsconfig.json)
echo "[oldest] the panel compiles against JupyterLab 4.1.8's packages"
