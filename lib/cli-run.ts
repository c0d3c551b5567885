import { UsageError } from './cli-args.js';

/** What a subcommand module exports: its entry point, returning the exit code. */
export interface CommandModule {
  main(argv: string[]): Promise<number>;
}

/** One row of the CLI's command table. */
export interface CommandEntry {
  /** One line for `nrec help`. */
  summary: string;
  /** Full help for `nrec help NAME` and `nrec NAME --help`: usage line first, then options. */
  help: string;
  /** Loaded lazily, so `nrec agent` on a recorder never loads the simulator or the ingest. */
  load: () => Promise<CommandModule>;
}

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const stdio: CliIo = { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t) };

/** Exit codes: 0 done, 1 the command failed (with its cause on stderr), 2 bad usage. */
export const EXIT_USAGE = 2;

/**
 * The CLI's behaviour, apart from any one command: `--version`, `help [CMD]`,
 * `CMD --help`, one line and exit 2 for an unknown command or bad usage, one
 * line and exit 1 naming the cause when a command fails, and a quiet end when
 * the reader of stdout went away (`nrec nmea log | head`).
 */
export async function runCli(program: string, version: string, commands: Record<string, CommandEntry>, argv: string[], io: CliIo = stdio): Promise<number> {
  const [name, ...rest] = argv;
  const list = () => {
    const width = Math.max(...Object.keys(commands).map((n) => n.length));
    const rows = Object.entries(commands).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}\n`).join('');
    return `usage: ${program} <command> [options]\n       ${program} help <command>\n       ${program} --version\n\ncommands:\n${rows}`;
  };
  if (name === undefined) {
    io.err(list());
    return EXIT_USAGE;
  }
  if (name === '--version' || name === '-V') {
    io.out(`${program} ${version}\n`);
    return 0;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    const topic = rest[0];
    if (topic === undefined) {
      io.out(list());
      return 0;
    }
    const c = commands[topic];
    if (c === undefined) return unknownCommand(program, topic, io);
    io.out(withNewline(c.help));
    return 0;
  }
  if (name.startsWith('-')) {
    io.err(`${program}: unknown option "${name}"; run "${program} help" for the commands\n`);
    return EXIT_USAGE;
  }
  const command = commands[name];
  if (command === undefined) return unknownCommand(program, name, io);
  const end = rest.indexOf('--');
  if ((end < 0 ? rest : rest.slice(0, end)).some((a) => a === '--help' || a === '-h')) {
    io.out(withNewline(command.help));
    return 0;
  }
  try {
    return await (await command.load()).main(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${program} ${name}: ${err.message}; run "${program} help ${name}" for usage\n`);
      return EXIT_USAGE;
    }
    if (isBrokenPipe(err)) return 0;
    io.err(`${program} ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** The reader of our output is gone (EPIPE): not an error of ours, nothing left to say. */
export function isBrokenPipe(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'EPIPE';
}

function unknownCommand(program: string, name: string, io: CliIo): number {
  io.err(`${program}: unknown command "${name}"; run "${program} help" for the commands\n`);
  return EXIT_USAGE;
}

function withNewline(s: string): string {
  return s.endsWith('\n') ? s : `${s}\n`;
}
