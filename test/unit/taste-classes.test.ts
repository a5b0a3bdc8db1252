// What a training found of the tenant's taste groups: read from the trainer's metrics.json
// record (src/training/taste-classes.ts), and said in words on the dashboard's groups page
// (web/admin/taste-classes.js). The records are shaped as trainer/train.py writes them; the API
// test (test/api/taste-groups.test.ts) reads the real trainer's.
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tasteClassesOf } from '../../src/training/taste-classes.js';

const HELD_OUT = "held-out log-likelihood per label, the training users' halves fitted and held out in turn";
const record = (o: Record<string, unknown>) => ({
  group_network: { started_from: 'latent classes', classes: 10, chosen: 4, chosen_by: HELD_OUT, held_out_log_likelihood: { '1': -0.69 }, users: 240, ...o },
});

describe('the taste classes a training found (metrics.json)', () => {
  it('reads the count found on held-out users and the count served', () => {
    expect(tasteClassesOf(record({}))).toEqual({ found: 4, served: 10, chosenBy: HELD_OUT, users: 240 });
    expect(tasteClassesOf(record({ chosen: 1 }))).toMatchObject({ found: 1, served: 10 });
    expect(tasteClassesOf(record({ chosen: 16, classes: 16 }))).toMatchObject({ found: 16, served: 16 });
  });

  it('finds nothing where the count was set by hand or no users were left to judge it', () => {
    expect(tasteClassesOf(record({ chosen: 12, classes: 12, chosen_by: '--group-classes' }))).toMatchObject({ found: null, served: 12 });
    const none = 'none: 1 training users leave no half to hold out';
    expect(tasteClassesOf(record({ chosen: null, chosen_by: none }))).toEqual({ found: null, served: 10, chosenBy: none, users: 240 });
  });

  it('is null for models that recorded none: grouping by a network, trained before the count was chosen, or no record', () => {
    expect(tasteClassesOf({ group_network: { started_from: 'fresh', epochs: 16 } })).toBeNull();
    expect(tasteClassesOf({ group_network: { started_from: 'latent classes', classes: 10, users: 900 } })).toBeNull();
    expect(tasteClassesOf({ group_network: null })).toBeNull();
    expect(tasteClassesOf({})).toBeNull();
  });

  it('refuses a record it cannot read, naming the field', () => {
    expect(() => tasteClassesOf(record({ classes: 0 }))).toThrow(/group_network\.classes/);
    expect(() => tasteClassesOf(record({ chosen: 2.5 }))).toThrow(/group_network\.chosen:/);
    expect(() => tasteClassesOf(record({ chosen_by: 3 }))).toThrow(/group_network\.chosen_by/);
    expect(() => tasteClassesOf(record({ users: '240' }))).toThrow(/group_network\.users/);
  });
});

describe("the groups page's words for them", () => {
  // A browser module: imported by URL so that TypeScript does not look for its types.
  const words = async (snap: unknown) => {
    const url = pathToFileURL(`${process.cwd()}/web/admin/taste-classes.js`).href;
    const { tasteClassesWords } = (await import(url)) as {
      tasteClassesWords: (s: unknown) => { figure: string; note: string; warning: boolean; count: number | null };
    };
    return tasteClassesWords(snap);
  };
  const version = (tasteClasses: unknown) => ({ model: '2', modelVersion: { version: 2, tasteClasses } });

  it('warns when the training found one shared taste', async () => {
    const w = await words(version({ found: 1, served: 10, chosenBy: HELD_OUT, users: 1200 }));
    // No count to group by: one class is no grouping.
    expect(w).toMatchObject({ figure: 'none', warning: true, count: null });
    expect(w.note).toContain('found no taste groups');
    expect(w.note).toContain('1,200 training users');
    expect(w.note).toContain('split users who differ one by one');
  });

  it('says how many groups were found, and what it cannot say', async () => {
    expect(await words(version({ found: 6, served: 10, chosenBy: HELD_OUT, users: 800 }))).toMatchObject({ figure: '6', warning: false, count: 6 });
    expect((await words(version({ found: null, served: 12, chosenBy: '--group-classes', users: 800 }))).note).toContain('not judged on held-out users');
    expect((await words(version(null))).note).toContain('did not record');
    expect(await words({ model: 'base-1', modelVersion: null })).toMatchObject({ figure: '—', count: null });
    expect((await words({ model: 'base-1', modelVersion: null })).note).toContain('shipped base model');
  });
});
