/**
 * Hand-worked runs of a few invocations, their event logs asserted step by
 * step. Costs are constants: create 10 ms, runtime start 0, unpause 2 ms,
 * destroy 1 ms, dispatch 0, so every time below can be checked by hand.
 */
import { describe, expect, it } from 'vitest';
import { runRows } from '../helpers.js';
import { HostFreeMemory } from '../../sim/free-memory.js';

const costs = { create: 10, runtimeStart: 0, unpause: 2, destroy: 1, warmDispatch: 0, pause: 0 };

describe('hand-worked scenarios', () => {
  it('a cold start, then a warm hit on the same sandbox', () => {
    const { text, result } = runRows(
      [{ t: 0, fn: 'a', dur: 100, mem: 100 }, { t: 200, fn: 'a', dur: 50, mem: 100 }],
      { policy: 'lru', memoryMb: 1000, cores: 2 }, costs,
    );
    expect(text).toEqual([
      '0 arrive a #0', '0 cold a #0 sb0', '10 exec a #0 sb0', '110 done a #0 sb0', '110 idle a sb0',
      '200 arrive a #1', '200 warm a #1 sb0', '200 exec a #1 sb0', '250 done a #1 sb0', '250 idle a sb0',
    ]);
    expect([result.cold, result.warm]).toEqual([1, 1]);
    expect(result.latency.max).toBe(110);
    expect(result.latency.min).toBe(50);
  });

  it('an eviction: the idle sandbox makes room, and the new one waits for its destroy', () => {
    const { text, result } = runRows(
      [{ t: 0, fn: 'a', dur: 10, mem: 100 }, { t: 100, fn: 'b', dur: 10, mem: 100 }],
      { policy: 'lru', memoryMb: 150, cores: 2 }, costs,
    );
    expect(text.slice(5)).toEqual([
      '100 arrive b #1', '100 evict a sb0', '100 cold b #1 sb1', '111 exec b #1 sb1', '121 done b #1 sb1', '121 idle b sb1',
    ]);
    expect(result.evictions).toBe(1);
    expect(result.latency.max).toBe(21);
  });

  it('a queue wait: no memory until the running sandbox finishes', () => {
    const { text, result } = runRows(
      [{ t: 0, fn: 'a', dur: 50, mem: 100 }, { t: 10, fn: 'b', dur: 10, mem: 100 }],
      { policy: 'lru', memoryMb: 100, cores: 2 }, costs,
    );
    expect(text).toEqual([
      '0 arrive a #0', '0 cold a #0 sb0', '10 exec a #0 sb0',
      '10 arrive b #1', '10 queue b #1',
      '60 done a #0 sb0', '60 idle a sb0', '60 evict a sb0', '60 cold b #1 sb1', '71 exec b #1 sb1', '81 done b #1 sb1', '81 idle b sb1',
    ]);
    expect(result.queued).toBe(1);
    expect(result.queueWaitMsMax).toBe(50);
    expect(result.latency.max).toBe(71);
  });

  it('with --queue drop the same invocation is dropped and counted', () => {
    const { text, result } = runRows(
      [{ t: 0, fn: 'a', dur: 50, mem: 100 }, { t: 10, fn: 'b', dur: 10, mem: 100 }],
      { policy: 'lru', memoryMb: 100, cores: 2, queue: 'drop' }, costs,
    );
    expect(text.slice(3, 5)).toEqual(['10 arrive b #1', '10 drop b #1']);
    expect([result.dropped, result.completed, result.invocations]).toEqual([1, 1, 2]);
  });

  it('CPU sharing: two 100 ms handlers on one core both end at 200 ms', () => {
    const { text, result } = runRows(
      [{ t: 0, fn: 'a', dur: 100, mem: 10 }, { t: 0, fn: 'b', dur: 100, mem: 10 }],
      { policy: 'lru', memoryMb: 1000, cores: 1 }, { ...costs, create: 0 },
    );
    expect(text.filter((l) => l.includes('done'))).toEqual(['200 done a #0 sb0', '200 done b #1 sb1']);
    expect(result.cpuBusyCoreMs).toBeCloseTo(200, 9);
  });

  it('time slices: a burst of calls shorter than a slice ends one by one, and a warm sandbox serves the next call', () => {
    // one core, slice 4 ms: a, b, c (3 ms each) at 0 end at 3, 6, 9 (processor sharing: all at 9), so
    // a's sandbox is idle when a second call of a comes at 5, which runs warm after c's turn: 9 to 12
    const rows = [{ t: 0, fn: 'a', dur: 3, mem: 10 }, { t: 0, fn: 'b', dur: 3, mem: 10 }, { t: 0, fn: 'c', dur: 3, mem: 10 }, { t: 5, fn: 'a', dur: 3, mem: 10 }];
    const sliced = runRows(rows, { policy: 'lru', memoryMb: 1000, cores: 1, cpuSliceMs: 4 }, { ...costs, create: 0 });
    expect(sliced.text.filter((l) => l.includes('done'))).toEqual(['3 done a #0 sb0', '6 done b #1 sb1', '9 done c #2 sb2', '12 done a #3 sb0']);
    expect([sliced.result.cold, sliced.result.warm]).toEqual([3, 1]);
    expect(sliced.result.cpuBusyCoreMs).toBeCloseTo(12, 9);
    // fluid sharing: a's sandbox is still busy at 5, so the second call of a is a cold start
    const fluid = runRows(rows, { policy: 'lru', memoryMb: 1000, cores: 1 }, { ...costs, create: 0 });
    expect([fluid.result.cold, fluid.result.warm]).toEqual([4, 0]);
  });

  it('openlambda pauses an idle sandbox and the next call pays the unpause', () => {
    const { text, result } = runRows(
      [{ t: 0, fn: 'a', dur: 10, mem: 100 }, { t: 100, fn: 'a', dur: 10, mem: 100 }],
      { policy: 'openlambda', memoryMb: 1000, cores: 2 }, costs,
    );
    expect(text).toEqual([
      '0 arrive a #0', '0 cold a #0 sb0', '10 exec a #0 sb0', '20 done a #0 sb0', '20 idle a sb0', '20 pause a sb0',
      '100 arrive a #1', '100 unpause a #1 sb0', '102 exec a #1 sb0', '112 done a #1 sb0', '112 idle a sb0', '112 pause a sb0',
    ]);
    expect([result.cold, result.unpaused, result.pauses]).toEqual([1, 1, 2]);
  });

  it('openlambda evicts ahead of need to keep 20% of the pool free', () => {
    // pool 500 MB, 100 MB sandboxes: after a, b, c, d (400 MB) the 5th cold start leaves 0 free;
    // once its sandbox is up (410) the evictor destroys the oldest paused sandbox(es) until 100 MB (20%) is free.
    const rows = ['a', 'b', 'c', 'd', 'e'].map((fn, i) => ({ t: i * 100, fn, dur: 10, mem: 100 }));
    const { text, result } = runRows(rows, { policy: 'openlambda', memoryMb: 500, cores: 2 }, costs);
    expect(text.filter((l) => l.includes('evict'))).toEqual(['410 evict a sb0']);
    expect(result.evictions).toBe(1);
  });

  it('ttl: an arrival at the expiry instant is still warm; one after it is cold', () => {
    const { text, result } = runRows(
      [{ t: 0, fn: 'a', dur: 10, mem: 100 }, { t: 70, fn: 'a', dur: 10, mem: 100 }, { t: 200, fn: 'a', dur: 10, mem: 100 }],
      { policy: 'ttl', memoryMb: 1000, cores: 2, policyOptions: { keepAliveMs: 50 } }, costs,
    );
    expect(text).toContain('70 warm a #1 sb0');
    expect(text).toContain('130 expire a sb0');
    expect(text).toContain('200 cold a #2 sb1');
    expect([result.cold, result.warm, result.expirations]).toEqual([2, 1, 1]);
  });

  it('a sandbox with concurrency 2 serves two requests at once', () => {
    const { text, result } = runRows(
      [{ t: 0, fn: 'a', dur: 100, mem: 100 }, { t: 20, fn: 'a', dur: 100, mem: 100 }],
      { policy: 'lru', memoryMb: 1000, cores: 4, sandboxConcurrency: 2 }, costs,
    );
    expect(text).toContain('20 warm a #1 sb0');
    expect(result.sandboxesCreated).toBe(1);
  });

  it('a paused, downsized sandbox gets its memory back when unpaused', () => {
    const { result } = runRows(
      [{ t: 0, fn: 'a', dur: 10, mem: 100 }, { t: 100, fn: 'a', dur: 10, mem: 100 }],
      { policy: 'openlambda', memoryMb: 1000, cores: 2, pausedMemMb: 20 }, costs,
    );
    expect(result.unpaused).toBe(1);
    // 100 MB for 0..20, 20 MB paused 20..100, 100 MB 100..112
    expect(result.memUsedMbMs).toBeCloseTo(100 * 20 + 20 * 80 + 100 * 12, 6);
  });

  it('an invocation larger than the whole pool is dropped, not queued forever', () => {
    const { result } = runRows([{ t: 0, fn: 'big', dur: 10, mem: 5000 }], { policy: 'lru', memoryMb: 1000 }, costs);
    expect([result.dropped, result.droppedOversize]).toEqual([1, 1]);
  });

  it('with createOnCpu a cold start shares the core with a running handler', () => {
    // 1 core: a's 10 ms create and 100 ms handler are 110 ms of work from t=0. At 20, b's
    // 10 ms create + 5 ms handler (15 ms) start to share the core: b ends at 20 + 30 = 50,
    // a has done 20 + 15 = 35 ms by then, and its last 75 ms end at 125 (110 alone)
    const { text } = runRows(
      [{ t: 0, fn: 'a', dur: 100, mem: 10 }, { t: 20, fn: 'b', dur: 5, mem: 10 }],
      { policy: 'lru', memoryMb: 1000, cores: 1, createOnCpu: true }, costs,
    );
    expect(text.filter((l) => l.includes('done'))).toEqual(['50 done b #1 sb1', '125 done a #0 sb0']);
  });

  it('background CPU (a call\'s, a cold start\'s) shares the core though nothing waits for it', () => {
    // 1 core. At 0: the call's 4 ms and the cold start's 20 ms of background work start, two
    // jobs sharing: the call's ends at 8, the cold start's has 14 ms left at 10, when a's 100 ms
    // handler starts beside it (create is a 10 ms delay here). From 0 the core never idles:
    // a ends at 4 + 20 + 100 = 124 (110 without background work)
    const { text, result } = runRows(
      [{ t: 0, fn: 'a', dur: 100, mem: 10 }],
      { policy: 'lru', memoryMb: 1000, cores: 1, callBackgroundCpuMs: 4, coldBackgroundCpuMs: 20 }, costs,
    );
    expect(text.filter((l) => l.includes('done'))).toEqual(['124 done a #0 sb0']);
    expect(result.latency.max).toBe(124);
    expect(result.cpuBusyCoreMs).toBe(124);
  });

  it('a pause\'s background CPU (with its unpause) shares the core after the call, nothing waiting for it', () => {
    // 1 core, openlambda pauses a's sandbox when its call ends. a #0: create 10 (a delay), handler 0-110,
    // then the pause's 6 ms job runs 110-116 alone. a #1 at 113 unpauses (2 ms) and its 50 ms handler
    // starts at 115 beside the pause job's last 1 ms: it has 50 - 1 = 49 ms left at 117, ends at 166
    const rows = [{ t: 0, fn: 'a', dur: 100, mem: 10 }, { t: 113, fn: 'a', dur: 50, mem: 10 }];
    const { text, result } = runRows(rows, { policy: 'openlambda', memoryMb: 1000, cores: 1, pauseBackgroundCpuMs: 6 }, costs);
    expect(text.filter((l) => l.includes('done'))).toEqual(['110 done a #0 sb0', '166 done a #1 sb0']);
    expect(result.pauses).toBe(2);
    // busy: both handlers and the first pause's job; the second pause starts as the run's last call ends
    expect(result.cpuBusyCoreMs).toBe(100 + 50 + 6);
    // without it the same calls end at 110 and 165; a policy that pauses nothing is charged nothing
    const none = runRows(rows, { policy: 'openlambda', memoryMb: 1000, cores: 1 }, costs);
    expect(none.text.filter((l) => l.includes('done'))).toEqual(['110 done a #0 sb0', '165 done a #1 sb0']);
    const lru = runRows(rows, { policy: 'lru', memoryMb: 1000, cores: 1, pauseBackgroundCpuMs: 6 }, costs);
    expect(lru.result.pauses).toBe(0);
    expect(lru.result.cpuBusyCoreMs).toBe(150);
    expect(() => runRows([], { pauseBackgroundCpuMs: Number.NaN })).toThrow(/pause-background-cpu: must be a number of ms >= 0, got NaN/);
  });

  it('a call that takes a sandbox still freezing waits for the rest of the freeze, longer the busier the cores', () => {
    // openlambda pauses a's sandbox when a #0 ends at 110 (create 10, handler 100). Idle cores: the freeze
    // ends at 110 + 4; a #1 at 111 waits 3, unpauses (2) and runs 50 ms from 116 to 166 (without: 113-163)
    const rows = [{ t: 0, fn: 'a', dur: 100, mem: 10 }, { t: 111, fn: 'a', dur: 50, mem: 10 }];
    const freeze = { freezeMs: 4, freezeLoadMs: 6 };
    const idle = runRows(rows, { policy: 'openlambda', memoryMb: 1000, cores: 2, ...freeze }, costs);
    expect(idle.text.filter((l) => l.includes('exec') || l.includes('done'))).toEqual(['10 exec a #0 sb0', '110 done a #0 sb0', '116 exec a #1 sb0', '166 done a #1 sb0']);
    const none = runRows(rows, { policy: 'openlambda', memoryMb: 1000, cores: 2 }, costs);
    expect(none.text).toContain('113 exec a #1 sb0');
    // b keeps one of the two cores busy until 1010: the freeze then takes 4 + 6 x 1/2 = 7, so a #1 waits 6 (exec at 119)
    const busy = runRows([...rows.slice(0, 1), { t: 0, fn: 'b', dur: 1000, mem: 10 }, rows[1]!], { policy: 'openlambda', memoryMb: 1000, cores: 2, ...freeze }, costs);
    expect(busy.text).toContain('119 exec a #2 sb0');
    expect(busy.text).toContain('169 done a #2 sb0');
    // a sandbox taken after its freeze ended waits for nothing more; lru pauses nothing
    expect(runRows([rows[0]!, { t: 200, fn: 'a', dur: 50, mem: 10 }], { policy: 'openlambda', memoryMb: 1000, cores: 2, ...freeze }, costs).text).toContain('202 exec a #1 sb0');
    expect(runRows(rows, { policy: 'lru', memoryMb: 1000, cores: 2, ...freeze }, costs).text).toContain('111 exec a #1 sb0');
    expect(() => runRows([], { freezeLoadMs: -1 })).toThrow(/freeze-load-ms: must be a number of ms >= 0, got -1/);
  });

  it('with destroyOnCpu an eviction\'s destroy is CPU work the new sandbox waits for', () => {
    // 1 core. c's create (10) runs 95-105 alone... until b at 100 evicts idle a: the 1 ms destroy
    // shares the core with c's create and ends at 102 (c's create has 4 left); b's create (10)
    // then shares with it: c's ends at 110, b's at 122 (6 left at 110, half speed); b's 10 ms
    // handler beside c's 100 ends at 142; c's remaining 84 ms end at 226
    const { text } = runRows(
      [{ t: 0, fn: 'a', dur: 10, mem: 100 }, { t: 95, fn: 'c', dur: 100, mem: 10 }, { t: 100, fn: 'b', dur: 10, mem: 100 }],
      { policy: 'lru', memoryMb: 150, cores: 1, createOnCpu: true, destroyOnCpu: true }, costs,
    );
    expect(text).toContain('100 evict a sb0');
    expect(text.filter((l) => l.includes('exec'))).toEqual(['10 exec a #0 sb0', '110 exec c #1 sb1', '122 exec b #2 sb2']);
    expect(text.filter((l) => l.includes('done'))).toEqual(['20 done a #0 sb0', '142 done b #2 sb2', '226 done c #1 sb1']);
  });

  it('with destroyOnCpu an evicted sandbox\'s memory stays taken until its destroy ends, for every creation', () => {
    // 1 core, pool 150. b at 100 evicts idle a (100 MB dying, 1 ms destroy job); c at 100.5 finds
    // 50 MB free and needs 40, but reserved 140 + dying 100 is over the pool: like the worker it
    // waits for the destroy (ends at 101). Then b's and c's 10 ms creations share the core (end 121),
    // and so do their 10 ms handlers (end 141)
    const { text } = runRows(
      [{ t: 0, fn: 'a', dur: 10, mem: 100 }, { t: 100, fn: 'b', dur: 10, mem: 100 }, { t: 100.5, fn: 'c', dur: 10, mem: 40 }],
      { policy: 'lru', memoryMb: 150, cores: 1, createOnCpu: true, destroyOnCpu: true }, costs,
    );
    expect(text).toContain('100 evict a sb0');
    expect(text).toContain('121 exec b #1 sb1');
    expect(text).toContain('121 exec c #2 sb2');
    expect(text.filter((l) => l.includes('done')).slice(1).sort()).toEqual(['141 done b #1 sb1', '141 done c #2 sb2']);
    // and the settings it needs are checked, naming them
    expect(() => runRows([], { destroyOnCpu: true })).toThrow(/destroy-on-cpu: needs create-on-cpu/);
    expect(() => runRows([], { coldBackgroundCpuMs: -1 })).toThrow(/cold-background-cpu: must be a number of ms >= 0, got -1/);
    expect(() => runRows([], { createCpuWeight: 0.5 })).toThrow(/create-cpu-weight: must be a number >= 1, got 0.5/);
  });

  it('with destroyOnCpu a queued request given memory holds the queue until its eviction is gone, as the worker\'s drain does', () => {
    // 4 cores, pool 150, destroy 4 ms. a (100 MB) runs 10-50, e (10 MB) 10-52; b (100 MB) at 20
    // finds no memory and queues. At 50 a goes idle: the drain evicts it for b, whose creation
    // waits for the destroy (50-54). e's second call at 51 finds memory free, but the drain is
    // held, so it queues behind b as in the worker, and e's sandbox, done at 52, is handed to it
    const { text, result } = runRows(
      [{ t: 0, fn: 'a', dur: 40, mem: 100 }, { t: 0, fn: 'e', dur: 42, mem: 10 }, { t: 20, fn: 'b', dur: 10, mem: 100 }, { t: 51, fn: 'e', dur: 5, mem: 10 }],
      { policy: 'lru', memoryMb: 150, cores: 4, createOnCpu: true, destroyOnCpu: true }, { ...costs, destroy: 4 },
    );
    expect(text).toContain('20 queue b #2');
    expect(text).toContain('50 evict a sb0');
    expect(text).toContain('51 queue e #3');
    expect(text).toContain('52 warm e #3 sb1');
    expect(text).toContain('57 done e #3 sb1');
    expect(text).toContain('64 exec b #2 sb2');
    expect([result.cold, result.warm]).toEqual([3, 1]);
  });

  it('with destroyOnCpu a held request is still queued: its own function\'s sandbox that finishes first is handed to it', () => {
    // 4 cores, pool 150, destroy 4 ms. a (100 MB) runs 10-50, b (40 MB) 10-52; b's second call at
    // 20 finds no memory and queues. At 50 the drain evicts idle a for it and reserves its 40 MB
    // while a's memory dies (50-54); at 52 b's sandbox finishes and is handed to it, the
    // reservation is returned, and no sandbox is created
    const { text, result } = runRows(
      [{ t: 0, fn: 'a', dur: 40, mem: 100 }, { t: 0, fn: 'b', dur: 42, mem: 40 }, { t: 20, fn: 'b', dur: 5, mem: 40 }],
      { policy: 'lru', memoryMb: 150, cores: 4, createOnCpu: true, destroyOnCpu: true }, { ...costs, destroy: 4 },
    );
    expect(text).toContain('20 queue b #2');
    expect(text).toContain('50 evict a sb0');
    expect(text).toContain('52 warm b #2 sb1');
    expect(text).toContain('57 done b #2 sb1');
    expect([result.cold, result.warm, result.evictions]).toEqual([2, 1, 1]);
  });

  it('with createCpuWeight a creation takes the larger share of the core, as a zygote\'s fork does', () => {
    // 1 core, weight 3. a's create runs alone (0-10), its 100 ms handler from 10. b at 20: its
    // create runs at 3/4 beside a's handler at 1/4, ending at 20 + 10/0.75 = 33.33 (a has 86.67
    // left); b's 5 ms handler then shares equally: ends at 43.33; a's last 81.67 end at 125
    const { log } = runRows(
      [{ t: 0, fn: 'a', dur: 100, mem: 10 }, { t: 20, fn: 'b', dur: 5, mem: 10 }],
      { policy: 'lru', memoryMb: 1000, cores: 1, createOnCpu: true, createCpuWeight: 3 }, costs,
    );
    const at = (kind: string, fn: string) => log.find((e) => e.kind === kind && e.fn === fn)!.t;
    expect(at('exec', 'b')).toBeCloseTo(20 + 10 / 0.75, 9);
    expect(at('done', 'b')).toBeCloseTo(20 + 10 / 0.75 + 10, 9);
    expect(at('done', 'a')).toBeCloseTo(125, 9);
  });

  it('with createSandboxMs a creation ends at a handler\'s weight and holds its lane until then, as a fork after its sandbox joins its cgroup', () => {
    // 1 core, weight 3, one lane; each creation is 6 ms weighted + 4 ms at weight 1. a and b at 0:
    // a's creation runs alone, 0-10 (a's 100 ms handler from 10). b's creation waits for the lane
    // until 10, not 6: its weighted 6 ms at 3/4 beside a's handler end at 18, its own 4 ms at 1/2
    // at 26. b's 5 ms handler at 1/2 ends at 36; a's handler, 2 + 4 + 5 = 11 ms done by then, at 125
    const { log } = runRows(
      [{ t: 0, fn: 'a', dur: 100, mem: 10 }, { t: 0, fn: 'b', dur: 5, mem: 10 }],
      { policy: 'lru', memoryMb: 1000, cores: 1, createOnCpu: true, createCpuWeight: 3, createLanes: 1, createSandboxMs: 4 }, costs,
    );
    const at = (kind: string, fn: string) => log.find((e) => e.kind === kind && e.fn === fn)!.t;
    expect(at('exec', 'a')).toBeCloseTo(10, 9);
    expect(at('exec', 'b')).toBeCloseTo(26, 9);
    expect(at('done', 'b')).toBeCloseTo(36, 9);
    expect(at('done', 'a')).toBeCloseTo(125, 9);
    expect(() => runRows([], { createSandboxMs: 4 })).toThrow(/create-sandbox-ms: needs create-on-cpu/);
    expect(() => runRows([], { createOnCpu: true, createSandboxMs: -1 })).toThrow(/create-sandbox-ms: must be a number of ms >= 0, got -1/);
    expect(() => runRows([], { cpuSliceMs: -1 })).toThrow(/cpu-slice-ms: must be a number of ms >= 0, got -1/);
    expect(() => runRows([], { cpuSliceMs: Infinity })).toThrow(/cpu-slice-ms: must be a number of ms >= 0, got Infinity/);
  });

  it('a new sandbox\'s first request does its cold work, the dearer figure when it starts among other jobs', () => {
    // 2 cores, create 10 ms (a delay). a's first request starts at 10 with nothing else running:
    // 100 + 20 ms, done at 130. b's starts at 60 beside a's handler: 5 + 30 ms, done at 95
    const { text } = runRows(
      [{ t: 0, fn: 'a', dur: 100, mem: 10 }, { t: 50, fn: 'b', dur: 5, mem: 10 }],
      { policy: 'lru', memoryMb: 1000, cores: 2 }, costs, { coldWorkMs: [20, 20], coldWorkBusyMs: [30, 30] },
    );
    expect(text.filter((l) => l.includes('done'))).toEqual(['95 done b #1 sb1', '130 done a #0 sb0']);
  });

  it('priced by the host\'s free memory, a first call touches cheaply only in memory an eviction has just freed', () => {
    // 40 MB touched per first call at 1 ms/MB cheap or 2 dear, nothing cheap at the start; pool of two
    // 100-MB sandboxes. a (0) and b (200) grow the pool: 10 + 80 ms each, done at 100 and 300. c (400)
    // evicts a (lru; the destroy's 1 ms on its path), whose 40 MB it then touches cheaply: 1 + 10 + 10 + 40, done at 461
    const firstTouch = new HostFreeMemory({ cheapMsPerMb: 1, dearMsPerMb: 2, cheapMb: 0, holdMs: 1000, touchMb: [40, 40, 40] });
    const { text } = runRows(
      [{ t: 0, fn: 'a', dur: 10, mem: 100 }, { t: 200, fn: 'b', dur: 10, mem: 100 }, { t: 400, fn: 'c', dur: 10, mem: 100 }],
      { policy: 'lru', memoryMb: 200, cores: 2 }, costs, { firstTouch },
    );
    expect(text.filter((l) => l.includes('done'))).toEqual(['100 done a #0 sb0', '300 done b #1 sb1', '461 done c #2 sb2']);
    expect([firstTouch.cheapTouched, firstTouch.dearTouched]).toEqual([40, 80]);
  });

  it('openlambda evicts ahead of need once a new sandbox is up, as the worker does, not when its creation starts', () => {
    // pool 100, 20% kept free. a (50 MB) is paused from 20. b (40 MB) at 30 fits without an
    // eviction, but leaves 10 MB free: when b's sandbox is up (40), a goes
    const { text, result } = runRows(
      [{ t: 0, fn: 'a', dur: 10, mem: 50 }, { t: 30, fn: 'b', dur: 10, mem: 40 }],
      { policy: 'openlambda', memoryMb: 100, cores: 2 }, costs,
    );
    expect(text).toContain('40 evict a sb0');
    expect(text.indexOf('40 evict a sb0')).toBeGreaterThan(text.indexOf('30 cold b #1 sb1'));
    expect(result.evictions).toBe(1);
  });

  it('a finishing sandbox goes to the oldest waiting request of its own function', () => {
    // pool fits one sandbox: a#1 and b#2 wait; when a#0 ends at 60, a#1 takes its sandbox
    // (warm) although b#2 is not behind it; b#2 then evicts it at 70 and starts cold
    const { text, result } = runRows(
      [{ t: 0, fn: 'a', dur: 50, mem: 100 }, { t: 5, fn: 'b', dur: 10, mem: 100 }, { t: 6, fn: 'a', dur: 10, mem: 100 }],
      { policy: 'lru', memoryMb: 100, cores: 2 }, costs,
    );
    expect(text).toContain('60 warm a #2 sb0');
    expect(text).toContain('70 evict a sb0');
    expect(text).toContain('70 cold b #1 sb1');
    expect([result.cold, result.warm, result.queued]).toEqual([2, 1, 2]);
  });

  it('with one creation lane, simultaneous cold starts wait their turn', () => {
    const { text } = runRows(
      [{ t: 0, fn: 'a', dur: 1, mem: 10 }, { t: 0, fn: 'b', dur: 1, mem: 10 }, { t: 0, fn: 'c', dur: 1, mem: 10 }],
      { policy: 'lru', memoryMb: 1000, cores: 4, createLanes: 1 }, costs,
    );
    expect(text.filter((l) => l.includes('exec'))).toEqual(['10 exec a #0 sb0', '20 exec b #1 sb1', '30 exec c #2 sb2']);
  });
});

