/** ol-lab's version, from package.json. */
import { readFileSync } from 'node:fs';
import { projectPath } from './paths.js';

let v: string | undefined;

export function olLabVersion(): string {
  v ??= (JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { version: string }).version;
  return v;
}
