#!/usr/bin/env node
/**
 * `ol-sim`: every command in one list, each module imported only when its
 * command runs. Errors ol-lab raises on purpose become one line and exit
 * code 2; anything else is a bug and keeps its stack.
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { cliErrors } from '../common/cli.js';
import { evictionPolicies } from '../core/policies/index.js';
import { genOptions, runOptions, sweepOptions } from './commands/options.js';

const { fail, usage } = cliErrors('ol-sim');

async function main(): Promise<void> {
  // a closed pipe (ol-sim … | head) is not an error
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  await yargs(hideBin(process.argv))
    .scriptName('ol-sim')
    .usage('$0 <command> [options]\n\nA discrete-event simulator of an OpenLambda-style serverless worker.')
    .command(
      'run <policy>',
      'simulate one policy on a trace and print the summary',
      (y: Argv) => runOptions(y.positional('policy', {
        describe: 'keep-alive / eviction policy', choices: Object.keys(evictionPolicies), type: 'string',
      })) as unknown as Argv,
      (argv) => import('./commands/run.js').then((m) => m.runCommand(argv as never)).catch(fail),
    )
    .command(
      'sweep',
      'run policies x memory sizes in parallel and print cold-start % per cell',
      (y: Argv) => sweepOptions(y) as unknown as Argv,
      (argv) => import('./commands/sweep.js').then((m) => m.sweepCommand(argv as never)).catch(fail),
    )
    .command(
      'gen',
      'write a seeded synthetic trace in ol-lab CSV',
      (y: Argv) => genOptions(y) as unknown as Argv,
      (argv) => import('./commands/gen.js').then((m) => m.genCommand(argv as never)).catch(fail),
    )
    .command(
      'policies',
      'list the policies, one line each',
      (y: Argv) => y.option('json', { type: 'boolean', default: false, describe: 'machine-readable output' }),
      (argv) => import('./commands/policies.js').then((m) => m.policiesCommand(argv as never)).catch(fail),
    )
    .command(
      'balancers',
      'list the cluster balancers (placement), one line each',
      (y: Argv) => y.option('json', { type: 'boolean', default: false, describe: 'machine-readable output' }),
      (argv) => import('./commands/policies.js').then((m) => m.balancersCommand(argv as never)).catch(fail),
    )
    .demandCommand(1, 'name a command: run, sweep, gen, policies or balancers')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail(usage)
    .parseAsync();
}

main().catch(fail);
