// Structured JSON logs, one object per line on stderr. Callers pass fields, never keys or tokens.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(
  opts: { level?: LogLevel; component?: string; write?: (line: string) => void } = {},
): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const make = (base: Record<string, unknown>): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
      if (ORDER[level] < min) return;
      write(`${JSON.stringify({ time: new Date().toISOString(), level, ...base, msg, ...fields })}\n`);
    };
    return {
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make(opts.component ? { component: opts.component } : {});
}

/** How much of a caller-supplied value (URI SAN, signer name, claim, metadata) a log field or message keeps. */
export const CALLER_TEXT_LIMIT = 256;

/**
 * Caps a value that came from a caller before it goes into a log field or an error message, so a
 * 500 KB URI SAN costs a few hundred bytes per request, not 500 KB: the first `max` characters,
 * then `…(N more)`. Values within the limit come back unchanged.
 */
export function capCallerText(value: string, max = CALLER_TEXT_LIMIT): string {
  return value.length > max ? `${value.slice(0, max)}…(${value.length - max} more)` : value;
}

/** For tests and library use: drops everything. */
export const silentLogger: Logger = createLogger({ write: () => {} });
