import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Builds the process logger: pretty lines on a terminal, JSON lines otherwise
 * (journald, files, tests). Secrets never reach it: the redact list covers the
 * config fields that hold them in case a whole config object is logged.
 */
export function createLogger(name: string, opts: { level?: string; destination?: NodeJS.WritableStream; pretty?: boolean } = {}): Logger {
  const options: LoggerOptions = {
    name,
    level: opts.level ?? process.env.NREC_LOG_LEVEL ?? 'info',
    redact: {
      paths: ['password', '*.password', '*.*.password', 'privateKey', '*.privateKey', '*.key', '*.*.key', 'key'],
      censor: '[redacted]',
    },
  };
  const pretty = opts.pretty ?? (opts.destination === undefined && process.stderr.isTTY === true);
  if (pretty) {
    return pino(options, pino.transport({ target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'HH:MM:ss.l' } }));
  }
  return pino(options, (opts.destination as pino.DestinationStream | undefined) ?? pino.destination(2));
}
