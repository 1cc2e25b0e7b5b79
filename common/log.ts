import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** The process's root logger: NDJSON on stderr, so stdout stays free for command output. */
export function createLogger(opts: { level?: LevelWithSilent; name?: string } = {}): Logger {
  return pino(
    { level: opts.level ?? process.env.LOG_LEVEL ?? 'info', base: opts.name ? { name: opts.name } : null },
    pino.destination({ fd: 2, sync: true }),
  );
}

/** A logger that drops everything, for tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
