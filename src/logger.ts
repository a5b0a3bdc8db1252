import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, service = 'tastegraph-api'): Logger {
  return pino({ level, base: { service } });
}
