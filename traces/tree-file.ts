/**
 * Reads an import-tree file (`import_tree`, `--zygotes`, what `ol-exp
 * fit-tree` writes) and checks it with the core's validation, so the
 * worker and the simulator read the same trees the same way.
 */
import { readFileSync } from 'node:fs';
import { OlError } from '../common/errors.js';
import { validateTree, type TreeNodeSpec } from '../core/import-tree.js';

/** Reads and checks a tree file; '' gives the root alone (a zygote with nothing but the runtime). */
export function loadTree(file: string): TreeNodeSpec {
  if (!file) return { packages: [], children: [] };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new OlError('OL_ERR_CONFIG', `import_tree ${file}: ${(e as Error).message}`);
  }
  return validateTree(json, `import_tree ${file}`);
}
