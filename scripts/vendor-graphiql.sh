#!/usr/bin/env bash
# Re-vendor the offline GraphiQL assets served by alx-backend at GET /
# (static files under /assets/graphiql/).
#
# Downloads the pinned package tarballs from the npm registry with
# `npm pack`, extracts them in a temporary directory and copies only the
# browser (UMD) bundles plus each package's license into assets/graphiql/.
# assets/graphiql/index.html and VERSIONS.md are hand-written and are NOT
# touched by this script.
#
# Usage: scripts/vendor-graphiql.sh            (run from anywhere in the repo)
# Requires: bash, npm, tar, sha256sum.
set -euo pipefail

GRAPHIQL_VERSION="3.9.0"     # latest 3.x (UMD build + React 18); graphiql 5.x ships no UMD bundle
REACT_VERSION="18.3.1"
REACT_DOM_VERSION="18.3.1"
GRAPHQL_WS_VERSION="6.4.2"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${repo_root}/assets/graphiql"

tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT

# pack_and_extract <name> <version>  -> extracts into ${tmp}/<name>/package
pack_and_extract() {
  local name="$1" version="$2" tgz
  mkdir -p "${tmp}/${name}"
  tgz="$(cd "${tmp}/${name}" && npm pack --silent --loglevel=error "${name}@${version}" | tail -n 1)"
  tar -xzf "${tmp}/${name}/${tgz}" -C "${tmp}/${name}"
}

pack_and_extract graphiql   "${GRAPHIQL_VERSION}"
pack_and_extract react      "${REACT_VERSION}"
pack_and_extract react-dom  "${REACT_DOM_VERSION}"
pack_and_extract graphql-ws "${GRAPHQL_WS_VERSION}"

mkdir -p "${dest}"
# Remove previously vendored files (keep the hand-written ones).
rm -f "${dest}"/*.js "${dest}"/*.css "${dest}"/LICENSE.*

# GraphiQL UMD bundle (global `GraphiQL`; graphql-js is bundled inside;
# expects globals `React` and `ReactDOM`). Fonts are inlined as data: URIs.
cp "${tmp}/graphiql/package/graphiql.min.js"  "${dest}/graphiql.min.js"
cp "${tmp}/graphiql/package/graphiql.min.css" "${dest}/graphiql.min.css"
cp "${tmp}/graphiql/package/LICENSE"          "${dest}/LICENSE.graphiql"

# React 18 UMD production builds (globals `React`, `ReactDOM`).
cp "${tmp}/react/package/umd/react.production.min.js"         "${dest}/react.production.min.js"
cp "${tmp}/react/package/LICENSE"                             "${dest}/LICENSE.react"
cp "${tmp}/react-dom/package/umd/react-dom.production.min.js" "${dest}/react-dom.production.min.js"
cp "${tmp}/react-dom/package/LICENSE"                         "${dest}/LICENSE.react-dom"

# graphql-ws client UMD build (global `graphqlWs`, protocol graphql-transport-ws).
cp "${tmp}/graphql-ws/package/umd/graphql-ws.min.js" "${dest}/graphql-ws.min.js"
cp "${tmp}/graphql-ws/package/LICENSE.md"            "${dest}/LICENSE.graphql-ws"

echo "Vendored into ${dest}:"
(cd "${dest}" && sha256sum ./*.js ./*.css && du -cb ./*.js ./*.css ./LICENSE.* | tail -n 1)
