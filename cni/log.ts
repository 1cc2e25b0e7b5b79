// Plugin logs: NDJSON lines on stderr, with pino's level numbers and field names so the same tools
// read them, but without loading pino: a runtime starts the plugin once per pod and command, and
// importing pino alone costs tens of milliseconds per start. A constant message, fields to grep.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type PluginLog = (level: LogLevel, msg: string, fields?: Readonly<Record<string, unknown>>) => void;

const LEVELS: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50 };

export function stderrLog(name: string, minLevel: LogLevel = 'info', write: (line: string) => void = (l) => process.stderr.write(l)): PluginLog {
  const min = LEVELS[minLevel];
  return (level, msg, fields = {}) => {
    if (LEVELS[level] < min) return;
    write(`${JSON.stringify({ level: LEVELS[level], time: Date.now(), name, ...fields, msg })}\n`);
  };
}

export const silentLog: PluginLog = () => undefined;
