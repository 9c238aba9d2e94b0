// Builds app/web/static/bpmn-js-properties-panel-<version>/ from the packages pinned in
// package-lock.json (`npm ci && npm run build`; docs/bpmn.md): one minified IIFE with AidFlow's
// provider (src/), the panel's CSS, the panel's LICENSE and the licence of every package the
// bundle contains (THIRD_PARTY_LICENSES.txt, from esbuild's list of inputs), and SHA256SUMS.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const version = JSON.parse(readFileSync(join(modules, "bpmn-js-properties-panel/package.json"))).version;
const out = join(here, "../../app/web/static", `bpmn-js-properties-panel-${version}`);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// AidFlow's entries are plain text fields and selects: the FEEL and JSON editors (CodeMirror) and
// the Camunda/Zeebe behaviours the panel's other providers import are never shown. The dist files
// are single modules esbuild cannot shake, so those imports resolve to an inert stand-in instead.
const UNUSED = /^(@codemirror\/|@lezer\/|@bpmn-io\/(feel-editor|feelers-editor|lang-feel|feel-lint|feel-analyzer|lezer-feel|extract-process-variables|semver-compat|cm-theme)|@camunda\/feel-builtins|camunda-bpmn-js-behaviors|zeebe-bpmn-moddle|lezer-feel|feelin)/;
// Each stand-in exports, as one inert value, exactly the names its importer takes from it.
const INERT = "var inert = new Proxy(function () {}, { get: function () { return inert; }, apply: function () { return inert; }, construct: function () { return {}; } });";
const unused = {
  name: "unused",
  setup(b) {
    b.onResolve({ filter: UNUSED }, (args) => ({
      path: args.path, namespace: "unused", pluginData: { importer: args.importer }
    }));
    b.onLoad({ filter: /.*/, namespace: "unused" }, (args) => {
      const source = readFileSync(args.pluginData.importer, "utf8");
      const quoted = args.path.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
      const statement = new RegExp(`import\\s+([^;]*?)\\s+from\\s+['"]${quoted}['"]`, "g");
      const names = new Set();
      let hasDefault = false;
      for (const [, clause] of source.matchAll(statement)) {
        const braces = /\{([^}]*)\}/.exec(clause);
        if (braces) {
          braces[1].split(",").map((n) => n.trim().split(/\s+as\s+/)[0]).filter(Boolean).forEach((n) => names.add(n));
        }
        if (/^[A-Za-z_$][\w$]*/.test(clause.replace(/\{[^}]*\}/, "").trim())) { hasDefault = true; }
      }
      const lines = [INERT, ...[...names].map((n) => `export var ${n} = inert;`)];
      if (hasDefault) { lines.push("export default inert;"); }
      return { contents: lines.join("\n"), loader: "js", resolveDir: here };
    });
  }
};

const result = await build({
  plugins: [unused],
  entryPoints: [join(here, "src/index.js")],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2019",
  legalComments: "none",
  metafile: true,
  outfile: join(out, "aidflow-properties-panel.min.js"),
  banner: { js: `/*! bpmn-js-properties-panel v${version} with AidFlow's properties; licences: THIRD_PARTY_LICENSES.txt */` }
});

// The licence of all code in the bundle: for each input, the nearest licence file above it in its
// package (preact, inside @bpmn-io/properties-panel, has its own).
const licences = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(join(here, input));
  if (!m) { continue; }
  const [, root, inner] = m;
  let dir = dirname(join(root, inner));
  for (;;) {
    const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
    if (file) { licences.set(dir, join(dir, file)); break; }
    if (dir === root) { licences.set(root, null); break; }
    dir = dirname(dir);
  }
}
const notices = [];
for (const [dir, file] of [...licences].sort()) {
  const meta = JSON.parse(readFileSync(join(dir, "package.json")));
  const text = file
    ? readFileSync(file, "utf8").trim()
    : `No licence file in the package; its package.json says "${meta.license}" (author: ${meta.author}).`;
  notices.push(`${meta.name}@${meta.version} (${meta.license})\n\n${text}\n`);
}
writeFileSync(join(out, "THIRD_PARTY_LICENSES.txt"), notices.join("\n" + "-".repeat(72) + "\n\n"));
cpSync(join(modules, "bpmn-js-properties-panel/LICENSE"), join(out, "LICENSE"));
cpSync(join(modules, "@bpmn-io/properties-panel/dist/assets/properties-panel.css"), join(out, "properties-panel.css"));

// What the build wrote, file by file: tests/test_web_modeler_panel.py checks the committed files.
const files = readdirSync(out).filter((f) => f !== "SHA256SUMS").sort();
const sums = files.map((f) => `${createHash("sha256").update(readFileSync(join(out, f))).digest("hex")}  ./${f}`);
writeFileSync(join(out, "SHA256SUMS"), sums.join("\n") + "\n");
console.log(`${out}: ${files.join(", ")} (${licences.size} licences)`);
if (!existsSync(join(out, "LICENSE"))) { process.exit(1); }
