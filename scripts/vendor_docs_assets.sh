#!/usr/bin/env bash
# Refreshes the API documentation pages' browser assets (/docs: Swagger UI, /redoc: ReDoc) from
# their npm packages, checked against the registry's sha512 integrity, into app/api/static/.
# They are committed: a government intranet cannot reach a CDN, and `make install` needs no npm.
# To upgrade, change a version and its integrity (`npm view <package>@<version> dist.integrity`).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=app/api/static
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # package version integrity files...
  local package=$1 version=$2 integrity=$3; shift 3
  (cd "$work" && npm pack --silent "$package@$version" >/dev/null)
  local tarball="$work/${package}-${version}.tgz"
  local actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  [ "$actual" = "$integrity" ] || { echo "$package@$version: integrity $actual, expected $integrity" >&2; exit 1; }
  local dir="$OUT/$package-$version"
  rm -rf "$dir" && mkdir -p "$dir" "$work/$package"
  tar xzf "$tarball" -C "$work/$package"
  for file in "$@"; do cp "$work/$package/package/$file" "$dir/"; done
  echo "$dir: ${*}"
}

fetch swagger-ui-dist 5.35.0 'sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==' \
  LICENSE NOTICE swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css favicon-32x32.png
fetch redoc 2.5.4 'sha512-M6jWhG1qoBnH6TFmzJnstyCZ87HmOY/UzDm78mHiYihEdlV/YcS9ogOo1NlElnJMeLsyxHFe2yFc4sNjHTrABQ==' \
  LICENSE bundles/redoc.standalone.js bundles/redoc.standalone.js.LICENSE.txt
