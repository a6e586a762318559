// Writes ../src/flowy_ui/static/build-manifest.json after `vite build`:
//   source_sha256: one sha256 over the frontend's source files, so a test
//     (flowy-ui/tests/test_frontend_build.py) can tell when the shipped build is
//     older than the source;
//   files: the sha256 of each built file, so a hand-edited or stale file is caught.
// The source hash: files are src/** plus index.html, package.json, package-lock.json,
// vite.config.ts and tsconfig*.json (names starting with "." skipped), sorted by their
// "/"-separated path relative to the frontend folder; for each, the hash takes
// path (UTF-8), a NUL byte, the length in bytes as decimal ASCII, a NUL byte, the bytes.
// The Python test computes the same; change both together.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const frontend = join(dirname(fileURLToPath(import.meta.url)), "..");
const staticDir = join(frontend, "..", "src", "flowy_ui", "static");
const MANIFEST = "build-manifest.json";

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}

const posix = (path) => relative(frontend, path).split(sep).join("/");

export function sourceFiles() {
  const top = readdirSync(frontend).filter(
    (name) =>
      ["index.html", "package.json", "package-lock.json", "vite.config.ts"].includes(name) ||
      /^tsconfig.*\.json$/.test(name),
  );
  const files = [...walk(join(frontend, "src")), ...top.map((name) => join(frontend, name))];
  return files.map(posix).sort();
}

export function sourceHash() {
  const hash = createHash("sha256");
  for (const rel of sourceFiles()) {
    const data = readFileSync(join(frontend, rel));
    hash.update(Buffer.from(rel, "utf8"));
    hash.update(Buffer.from([0]));
    hash.update(Buffer.from(String(data.length), "ascii"));
    hash.update(Buffer.from([0]));
    hash.update(data);
  }
  return hash.digest("hex");
}

if (!existsSync(join(staticDir, "index.html"))) {
  console.error(`no build in ${staticDir}: run \`npm run build\``);
  process.exit(1);
}
const files = {};
for (const path of walk(staticDir).sort()) {
  const rel = relative(staticDir, path).split(sep).join("/");
  if (rel === MANIFEST) continue;
  files[rel] = createHash("sha256").update(readFileSync(path)).digest("hex");
}
const manifest = { source_sha256: sourceHash(), source_files: sourceFiles().length, files };
writeFileSync(join(staticDir, MANIFEST), JSON.stringify(manifest, null, 2) + "\n");
console.log(`wrote ${MANIFEST}: source ${manifest.source_sha256.slice(0, 12)}, ${Object.keys(files).length} files`);
