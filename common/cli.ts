/**
 * How every ol-lab command line reports errors: an error ol-lab raised on
 * purpose (an OlError) becomes one line on stderr and exit code 2; a usage
 * error from yargs too, with a pointer to --help; anything else is a bug
 * and keeps its stack.
 */
import { isOlError } from './errors.js';

export function cliErrors(tool: string): {
  fail(e: unknown): never;
  usage(msg: string, err: Error | undefined): never;
} {
  const fail = (e: unknown): never => {
    if (isOlError(e)) {
      process.stderr.write(`${tool}: error: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  };
  return {
    fail,
    usage: (msg, err) => {
      if (err) fail(err);
      process.stderr.write(`${tool}: error: ${msg}\n(see ${tool} <command> --help)\n`);
      process.exit(2);
    },
  };
}
