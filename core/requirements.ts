/**
 * Requirement names, as pip reads them: the parsing and the PEP 503 name
 * normalisation that the worker's package cache, the import tree's lookup
 * and the simulator's import model all match on, written once.
 */
import { OlError } from '../common/errors.js';

/** A parsed requirement line. */
export interface Requirement {
  name: string;
  extras: string[];
  spec: string;
  marker: string;
}

/** PEP 503 normalisation: lower case, runs of -_. become -. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

const REQ = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[([^\]]*)\])?\s*([^;]*?)\s*(?:;\s*(.*))?$/;

/** Parses one requirement (PEP 508 without URLs); the error names the line. */
export function parseRequirement(line: string, where = 'requirement'): Requirement {
  const m = REQ.exec(line.trim());
  if (!m || /^(-|git\+|https?:)/.test(line.trim()) || /[@]/.test(m[3] ?? '')) {
    throw new OlError('OL_ERR_BAD_REQUEST', `${where}: ${JSON.stringify(line)} is not a requirement ol-lab understands (name[extras] version-spec; marker)`);
  }
  const spec = (m[3] ?? '').replace(/\s+/g, '');
  if (spec && !/^(?:(?:==|!=|<=|>=|~=|===|<|>)[A-Za-z0-9.*+!_-]+,?)+$/.test(spec)) {
    throw new OlError('OL_ERR_BAD_REQUEST', `${where}: ${JSON.stringify(line)} has a version spec pip would not accept (${spec})`);
  }
  return { name: normalizeName(m[1]!), extras: (m[2] ?? '').split(',').map((e) => e.trim()).filter(Boolean).sort(), spec: spec.replace(/,$/, ''), marker: (m[4] ?? '').trim() };
}

