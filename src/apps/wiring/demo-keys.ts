// The embedded demo's keys, kept beside its data folder so that every start can print them.
// Only the embedded (local, single-developer) database does this; real tenants' keys are
// shown once and never written anywhere.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface DemoKeys {
  tenant: string;
  keys: { role: string; key: string }[];
}

export const demoKeysPath = (embeddedDataDir: string) => join(dirname(embeddedDataDir), 'demo-keys.json');

export function saveDemoKeys(path: string, keys: DemoKeys): void {
  writeFileSync(path, JSON.stringify(keys, null, 2), { mode: 0o600 });
}

export function loadDemoKeys(path: string): DemoKeys | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as DemoKeys) : undefined;
}
