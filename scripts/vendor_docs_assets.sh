#!/usr/bin/env bash
# Refreshes the browser assets taken from npm packages, checked against the registry's sha512
# integrity: the API documentation pages' (/docs: Swagger UI, /redoc: ReDoc) into app/api/static/,
# the web UI's process viewer (bpmn-js, its prebuilt bundle: no build step) and the reports' charts
# (Apache ECharts, its prebuilt "common" bundle: line, bar, pie, tooltip, legend) into app/web/static/.
# They are committed: a government intranet cannot reach a CDN, and `make install` needs no npm.
# To upgrade, change a version and its integrity (`npm view <package>@<version> dist.integrity`).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=app/api/static
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # package version integrity files...  (into $OUT)
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

# bpmn-js's licence asks that the bpmn.io watermark stays visible on the diagram: it does.
# The viewer draws processes on case and admin pages; the modeler (same package) edits them on the
# admin's editor page, with the palette's icon font (its CSS finds the font at ../font/).
# The editor's properties panel is not a prebuilt file: scripts/bpmn_panel builds it (docs/bpmn.md).
OUT=app/web/static
fetch bpmn-js 18.31.1 'sha512-Hc7LzrgwfcBRUAdI/380Q2v1MJ115atGEVGadawLfDbHdo+r+IkmNj8fuYPFmWglUYt1KYIaC46OeX16HGTKQw==' \
  LICENSE dist/bpmn-navigated-viewer.production.min.js dist/bpmn-modeler.production.min.js \
  dist/assets/diagram-js.css dist/assets/bpmn-js.css
dir=$OUT/bpmn-js-18.31.1
mkdir -p "$dir/bpmn-font/css" "$dir/bpmn-font/font"
cp "$work/bpmn-js/package/dist/assets/bpmn-font/css/bpmn.css" "$dir/bpmn-font/css/"
cp "$work/bpmn-js/package/dist/assets/bpmn-font/font/"bpmn.{woff2,woff,ttf,eot,svg} "$dir/bpmn-font/font/"
# What was taken from the checked package, file by file: tests/test_web_modeler.py checks
# the committed files against it, so a hand edit of a vendored file shows.
(cd "$dir" && find . -type f ! -name SHA256SUMS | sort | xargs sha256sum > SHA256SUMS)
# ECharts is Apache-2.0: its LICENSE and NOTICE are served beside it, and the BSD licence of the d3 code
# it embeds (licenses/LICENSE-d3, named in its LICENSE).
fetch echarts 6.1.0 'sha512-q0yaFPggC9FUdsWH4blavRWFmxdrIodbkoKNAjJudAI6CA9gNPxHtV2RcZNEepZVlk4yvBYkOkbk6HIVpIyHZA==' \
  LICENSE NOTICE licenses/LICENSE-d3 dist/echarts.common.min.js
