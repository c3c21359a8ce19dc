/**
 * Where ol-lab's own files are, whether the code runs compiled from dist/ or
 * as TypeScript under vitest.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The project's root folder (the one holding ol-lab's package.json). */
export function projectRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'sim'))) return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the ol-lab project root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** A path inside the project. */
export function projectPath(...parts: string[]): string {
  return join(projectRoot(), ...parts);
}
