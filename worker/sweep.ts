/**
 * Removes every worker under a folder and everything they left: the test
 * runner (test/run.mjs) calls it on the run's folder when the run ends, also
 * after a failed or interrupted run. Only things of `dir` are touched:
 * processes whose command line mentions `dir` (ended by pid; a sandbox's
 * init names its root there), the cgroups and containers of worker folders
 * inside `dir` (a worker's cgroup root and container label derive from its
 * folder's path), and mounts under `dir`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultConfig } from './config.js';

export interface SweepReport {
  processes: number;
  cgroups: number;
  containers: number;
  mounts: number;
  total: number;
}

/** Pids (not ours, nor our ancestors') whose command line mentions `dir`. */
function processesUnder(dir: string): number[] {
  const mine = new Set<number>();
  for (let p = process.pid; p > 1;) {
    mine.add(p);
    try {
      p = Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    } catch {
      break;
    }
  }
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    const pid = Number(e);
    if (!Number.isInteger(pid) || mine.has(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((a) => a.includes(dir + '/') || a === dir)) out.push(pid);
    } catch { /* gone */ }
  }
  return out;
}

/** Folders under `dir`, down to `depth` levels: each may be a worker's folder. */
function folders(dir: string, depth: number): string[] {
  const out = [dir];
  if (depth === 0) return out;
  let entries: string[] = [];
  try { entries = readdirSync(dir); } catch { return out; }
  for (const e of entries) {
    const p = join(dir, e);
    try {
      if (statSync(p).isDirectory() && !statSync(p).isSymbolicLink()) out.push(...folders(p, depth - 1));
    } catch { /* gone */ }
  }
  return out;
}

/** Every cgroup folder at or below `root` in every mounted hierarchy, deepest first. */
function cgroupDirs(root: string): string[] {
  const out: string[] = [];
  const base = '/sys/fs/cgroup';
  const hierarchies = existsSync(join(base, 'cgroup.controllers')) ? [base] : readdirSync(base).map((h) => join(base, h));
  const walk = (d: string) => {
    let entries: string[] = [];
    try { entries = readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name); } catch { return; }
    for (const e of entries) walk(join(d, e));
    out.push(d);
  };
  for (const h of hierarchies) if (existsSync(join(h, root))) walk(join(h, root));
  return out;
}

/** Thaws a group (v1 freezer.state, v2 cgroup.freeze): frozen processes cannot die. */
function thaw(d: string): void {
  for (const [file, value] of [['freezer.state', 'THAWED'], ['cgroup.freeze', '0']] as const) {
    try { if (existsSync(join(d, file))) writeFileSync(join(d, file), value); } catch { /* not frozen, or gone */ }
  }
}

/** SIGKILLs every process in a group until it is empty (a second or so at most); how many it killed. */
function killCgroup(d: string): number {
  let n = 0;
  for (let round = 0; round < 20; round++) {
    let pids: number[] = [];
    try { pids = readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number); } catch { return n; }
    if (pids.length === 0) return n;
    for (const p of pids) {
      try { process.kill(p, 'SIGKILL'); n++; } catch { /* gone */ }
    }
    execFileSync('sleep', ['0.05']);
  }
  return n;
}

function dockerContainers(owner: string): string[] {
  try {
    return execFileSync('docker', ['ps', '-aq', '--filter', `label=ol-lab.worker=${owner}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 }).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

export async function sweep(dir: string): Promise<SweepReport> {
  const r: SweepReport = { processes: 0, cgroups: 0, containers: 0, mounts: 0, total: 0 };
  if (!existsSync(dir)) return r;
  const killNamed = () => {
    for (const pid of processesUnder(dir)) {
      try { process.kill(pid, 'SIGKILL'); r.processes++; } catch { /* gone */ }
    }
  };
  killNamed();
  const dockerUp = (() => { try { execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 }); return true; } catch { return false; } })();
  for (const f of folders(dir, 4)) {
    const root = defaultConfig(f).cgroup_root;
    for (const sub of [root, `${root}-jobs`]) {
      // every group of every hierarchy thawed first, then emptied, then removed deepest first
      const groups = cgroupDirs(sub);
      for (const d of groups) thaw(d);
      for (const d of groups) r.processes += killCgroup(d);
      for (const d of groups) {
        try {
          rmdirSync(d);
          r.cgroups++;
        } catch { /* still busy: the tests' own census reports it */ }
      }
    }
    if (dockerUp) {
      const ids = dockerContainers(f);
      if (ids.length) {
        try { execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore', timeout: 60_000 }); } catch { /* reported below */ }
        r.containers += ids.length;
      }
    }
  }
  killNamed(); // a sandbox that was being started when the first pass ran
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m === dir || m.startsWith(dir + '/'));
  for (const m of mounts.sort((a, b) => b.length - a.length)) {
    try { execFileSync('umount', ['-l', m], { stdio: 'ignore' }); r.mounts++; } catch { /* already gone */ }
  }
  rmSync(dir, { recursive: true, force: true });
  r.total = r.processes + r.cgroups + r.containers + r.mounts;
  return r;
}
