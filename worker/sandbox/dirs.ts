/**
 * Names for sandbox folders. The worker reaches each sandbox over a Unix
 * socket in the sandbox's folder, and the kernel takes at most 107 bytes
 * of socket path (Node cuts a longer one silently, and the connect then
 * fails with a misleading ENOENT). A folder is named by its sandbox's id
 * where that fits, else by the id's start and a sequence number.
 */
import { join } from 'node:path';
import { OlError } from '../../common/errors.js';

/** The longest Unix socket path the kernel takes (sun_path less its NUL). */
export const SOCKET_PATH_MAX = 107;
/** Room a folder's name needs at least: the id's start and a sequence number. */
const MIN_NAME_ROOM = 12;

export class SandboxDirs {
  /** Bytes a folder's name may take. */
  readonly room: number;
  #seq = 0;

  /** `parent`: the pool's folder; `socketTail`: the longest socket path under a sandbox folder, e.g. "scratch/zygote.sock". */
  constructor(readonly parent: string, socketTail: string) {
    // parent/<name>/socketTail
    this.room = SOCKET_PATH_MAX - Buffer.byteLength(parent) - 2 - Buffer.byteLength(socketTail);
    if (this.room < MIN_NAME_ROOM) {
      throw new OlError('OL_ERR_CONFIG', `the sandbox folder ${parent} is too long (${Buffer.byteLength(parent)} bytes): the sockets in its sandboxes' folders would pass the kernel's limit of ${SOCKET_PATH_MAX} bytes for a Unix socket path; give the worker a shorter folder`);
    }
  }

  /** The folder for the sandbox `id` (not created). */
  path(id: string): string {
    if (Buffer.byteLength(id) <= this.room) return join(this.parent, id);
    const seq = `~${(this.#seq++).toString(36)}`;
    const head = Buffer.from(id).subarray(0, this.room - seq.length).toString().replace(/\uFFFD+$/, '');
    return join(this.parent, head + seq);
  }
}
