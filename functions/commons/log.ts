/** Structured JSON logs (one line per entry), as CloudWatch Logs Insights likes them. */
type Fields = Record<string, unknown>;

const serialize = (v: unknown): unknown => (v instanceof Error ? { name: v.name, message: v.message, stack: v.stack, cause: serialize(v.cause) } : v);

const write = (level: string, message: string, fields: Fields = {}) => {
  const entry: Fields = { level, message, timestamp: new Date().toISOString() };
  for (const [k, v] of Object.entries(fields)) entry[k] = serialize(v);
  (level === 'ERROR' || level === 'WARN' ? console.error : console.log)(JSON.stringify(entry));
};

const level = process.env.LOG_LEVEL ?? 'info';
const infoOn = level === 'info';
const warnOn = level !== 'silent';
export const log = {
  info: (message: string, fields?: Fields) => {
    if (infoOn) write('INFO', message, fields);
  },
  warn: (message: string, fields?: Fields) => {
    if (warnOn) write('WARN', message, fields);
  },
  error: (message: string, fields?: Fields) => write('ERROR', message, fields),
};
