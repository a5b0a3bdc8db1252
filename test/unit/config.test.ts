import { describe, expect, it } from 'vitest';
import { loadConfig, redact } from '../../src/config.js';

describe('loadConfig', () => {
  it('gives the embedded defaults on an empty environment', () => {
    const config = loadConfig({});
    expect(config.port).toBe(4000);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.embeddedDataDir).toBe('.data/pglite');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names the bad variable, the rule and the value', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow('PORT: expected an integer from 0 to 65535, got "eighty"');
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x@y/z' })).toThrow('DATABASE_URL: expected a postgres:// URL, got protocol "mysql:"');
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/^LOG_LEVEL: expected one of/);
    expect(() => loadConfig({ EMBEDDED_DEMO: 'maybe' })).toThrow('EMBEDDED_DEMO: expected true or false, got "maybe"');
  });

  it('uses DATABASE_URL for the owner connection when DATABASE_ADMIN_URL is not set', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://a@h/db' }).databaseAdminUrl).toBe('postgres://a@h/db');
    expect(loadConfig({ DATABASE_URL: 'postgres://a@h/db', DATABASE_ADMIN_URL: 'postgres://o@h/db' }).databaseAdminUrl).toBe('postgres://o@h/db');
  });

  it('never shows a password in a message', () => {
    expect(redact('postgres://user:secret@host/db')).toBe('postgres://user:***@host/db');
  });
});
