/** A buffered, synchronous CSV writer for large per-row outputs. */
import { closeSync, openSync, writeSync } from 'node:fs';

export class CsvWriter {
  #fd: number;
  #buf = '';

  constructor(path: string, header: string[]) {
    this.#fd = openSync(path, 'w');
    this.#buf = header.join(',') + '\n';
  }

  row(cells: (string | number)[]): void {
    this.#buf += cells.join(',') + '\n';
    if (this.#buf.length > 1 << 20) this.flush();
  }

  flush(): void {
    if (this.#buf.length > 0) {
      writeSync(this.#fd, this.#buf);
      this.#buf = '';
    }
  }

  close(): void {
    if (this.#fd < 0) return;
    this.flush();
    closeSync(this.#fd);
    this.#fd = -1;
  }
}

/** Rounds to microseconds for CSV output (keeps files short, loses nothing measurable). */
export function us(x: number): string {
  return Number.isFinite(x) ? String(Math.round(x * 1000) / 1000) : '';
}
