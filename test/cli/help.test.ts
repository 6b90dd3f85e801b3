/**
 * The command line's conventions (the built CLI): every command and subcommand answers --help and -h with its usage
 * on stdout and exit 0, the top-level help lists every command there is, and a mistake in the flags or the command is
 * one line in the user's words (the command, the flag, the one probably meant), exit 2 — never node:util's text.
 * None of it needs Redis: help and mistakes are answered before anything is reached.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DISTRIBUTED_COMMANDS, LOCAL_COMMANDS } from '../../src/cli/commands.js';
import { zensweep } from '../support/cli.js';

/** No Redis anywhere: a command that tried to reach one would fail, not answer. */
const ENV = { PATH: process.env.PATH, REDIS_URL: 'redis://127.0.0.1:1' };

/** Every command and subcommand, as the user types it. */
const COMMANDS = [...LOCAL_COMMANDS.filter((c) => c !== 'help'), ...DISTRIBUTED_COMMANDS, 'submit trace', 'submit diag'];

describe('zensweep --help and argument mistakes (the built CLI)', () => {
  it('lists every command in the top-level help, the same with help, --help and -h', async () => {
    const answers = await Promise.all([[], ['help'], ['--help'], ['-h']].map((args) => zensweep(args, { env: ENV })));
    for (const answer of answers) {
      assert.equal(answer.code, 0, answer.stderr);
      assert.equal(answer.stdout, answers[0]?.stdout);
    }
    const listed = (answers[0]?.stdout ?? '').split('\ncommands:\n')[1]?.split('\n\n')[0] ?? '';
    const names = listed.split('\n').map((line) => /^ {2}(\w+(?: (?:trace|diag)(?= <))?)/.exec(line)?.[1]);
    assert.deepEqual(names.sort(), [...COMMANDS, 'help'].sort(), listed);
  });

  for (const command of COMMANDS) {
    it(`zensweep ${command} --help and -h print its usage and exit 0, without Redis`, async () => {
      for (const flag of ['--help', '-h']) {
        const answer = await zensweep([...command.split(' '), flag], { env: ENV, timeoutMs: 20_000 });
        assert.equal(answer.code, 0, `${command} ${flag}: ${answer.stderr}`);
        assert.ok(answer.stdout.startsWith(`usage: zensweep ${command}`), `${command} ${flag}:\n${answer.stdout}`);
        assert.match(answer.stdout, /\nexample: \S/, 'an example');
        assert.equal(answer.stderr, '');
      }
    });
  }

  const mistakes: [string[], string][] = [
    [['agents', '--jsn'], 'agents has no option --jsn: did you mean --json? (zensweep agents --help)'],
    [['submit', '127.0.0.0/29', '--jsn'], 'submit has no option --jsn: did you mean --json? (zensweep submit --help)'],
    [['trace', '127.0.0.1', '--csv'], 'trace has no option --csv; it takes --json, --help (zensweep trace --help)'],
    [['history', '--frobnicate'], 'history has no option --frobnicate; it takes --json, --help (zensweep history --help)'],
    [['agents', 'extra'], "agents takes no arguments, and was given 'extra' (zensweep agents --help)"],
    [['agent', '--vpc', 'prod'], 'agent has no option --vpc; it takes --help (zensweep agent --help)'],
    [['sweep', '127.0.0.1', '--max-addresses'], '--max-addresses needs a value, as in --max-addresses VALUE (zensweep sweep --help)'],
    [['sweep', '127.0.0.1', '--json=yes'], '--json takes no value (zensweep sweep --help)'],
    [['submit', 'diag', '127.0.0.1', '--jsno'], 'submit diag has no option --jsno: did you mean --json? (zensweep submit diag --help)'],
    [['agnets'], "unknown command 'agnets': did you mean agents? (zensweep help lists them)"],
    // Each command names itself.
    [['mtu'], 'mtu needs one host first: an address or a name, e.g. mtu 10.0.1.5'],
    [['diag'], 'diag needs one host first: an address or a name, e.g. diag 10.0.1.5'],
    [['trace'], 'trace needs one host first: an address or a name, e.g. trace 10.0.1.5'],
  ];
  for (const [args, said] of mistakes) {
    it(`zensweep ${args.join(' ')}: one line in the user's words, exit 2`, async () => {
      const answer = await zensweep(args, { env: ENV, timeoutMs: 20_000 });
      assert.equal(answer.code, 2, answer.stderr);
      assert.equal(answer.stderr, `zensweep: ${said}\n`);
      assert.equal(answer.stdout, '');
    });
  }
});
