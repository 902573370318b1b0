// Fails when the committed dist/ is not what `npm run build` makes of src/
// (dist/ is committed so that an install from a path needs no build).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const fresh = mkdtempSync(join(tmpdir(), "distorch-dist-"));
try {
  execFileSync(join(root, "node_modules/.bin/tsc"), ["-p", join(root, "tsconfig.json"), "--outDir", fresh], {
    stdio: "inherit",
  });
  const built = readdirSync(fresh).sort();
  const committed = readdirSync(join(root, "dist")).sort();
  const stale = [...new Set([...built, ...committed])].filter((name) => {
    try {
      return !readFileSync(join(fresh, name)).equals(readFileSync(join(root, "dist", name)));
    } catch {
      return true;
    }
  });
  if (stale.length > 0) {
    console.error(`dist/ is not the build of src/ (${stale.join(", ")}): run \`npm run build\` in sdk/typescript and commit dist/`);
    process.exit(1);
  }
  console.log(`dist/ is the build of src/ (${built.length} files)`);
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
