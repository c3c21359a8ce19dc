/**
 * Cost profiles on disk: the bundled default and reading a profile file.
 * The types, validation, migration and compilation are in core/profile.ts
 * (pure), re-exported here for the simulator's users.
 */
import { readFileSync } from 'node:fs';
import { projectPath } from '../common/paths.js';
import { OlError } from '../common/errors.js';
import { validateProfile, type CostProfile } from '../core/profile.js';

export * from '../core/profile.js';

/** Path of the bundled default profile. */
export const defaultProfilePath = projectPath('sim', 'profiles', 'default.json');

/** Reads and validates a profile file; errors name the file and the field. */
export function loadProfile(path: string = defaultProfilePath): CostProfile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new OlError('OL_ERR_PROFILE', `cannot read profile ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new OlError('OL_ERR_PROFILE', `profile ${path} is not valid JSON: ${(e as Error).message}`);
  }
  return validateProfile(json, path);
}

