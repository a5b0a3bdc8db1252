// A model version's status in words on the dashboard's models page (web/admin/version-status.js):
// a version whose files retention removed says so, since it can no longer be promoted.
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

type Words = { text: string; removed: string | null; title: string | null };

describe("a model version's status on the models page", async () => {
  const url = pathToFileURL(`${process.cwd()}/web/admin/version-status.js`).href;
  const { versionStatusWords } = (await import(url)) as { versionStatusWords: (v: unknown) => Words };

  it('names the status, and a promotion by hand', () => {
    expect(versionStatusWords({ status: 'PROMOTED', promotedBy: 'GATE', artifactRemovedAt: null })).toEqual({ text: 'promoted', removed: null, title: null });
    expect(versionStatusWords({ status: 'RETIRED', promotedBy: 'MANUAL', artifactRemovedAt: null }).text).toBe('retired (by hand)');
  });

  it('says when retention removed its files, and that it can no longer be promoted', () => {
    const words = versionStatusWords({ status: 'REJECTED', promotedBy: null, artifactRemovedAt: '2026-12-08T03:10:00.000Z' });
    expect(words).toEqual({
      text: 'rejected',
      removed: ' · files removed',
      title: 'files removed 2026-12-08 03:10:00 UTC (TRAINING_KEEP_VERSIONS): it can no longer be promoted',
    });
  });
});
