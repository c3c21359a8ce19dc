/**
 * A fast, stable 32-bit string hash for placement: FNV-1a over the string's
 * UTF-16 code units, then MurmurHash3's finalizer so that keys differing in
 * one character (`w0#1`, `w0#2`, lambda names with a counter) spread over
 * the whole range. The same in every process, run and machine.
 */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
