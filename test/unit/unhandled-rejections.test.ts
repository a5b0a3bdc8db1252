// A rejection nobody handles (pg-boss 10.4.2 leaves its job-completion promise unawaited) is
// logged and counted, and the process carries on; without the handler Node ends the process.
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildOnce } from '../helpers/build.js';

const run = (script: string) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    buildOnce(); // the test imports the compiled module
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
  });

const REJECT_LATER = `
  Promise.reject(new Error('completion of a job could not be recorded'));
  setTimeout(() => console.log('still serving'), 200);
`;

describe('unhandled rejections', () => {
  it('are logged and counted, and the process keeps running', async () => {
    const result = await run(`
      import { surviveUnhandledRejections } from '${process.cwd()}/dist/apps/wiring/unhandled-rejections.js';
      import { pino } from 'pino';
      let counted = 0;
      surviveUnhandledRejections(pino(), () => counted++);
      ${REJECT_LATER}
      setTimeout(() => console.log('counted ' + counted), 250);
    `);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/completion of a job could not be recorded.*a promise was rejected with no handler/s);
    expect(result.out).toMatch(/still serving\ncounted 1/);
  });

  it('end the process without the handler (what the API and the jobs did before)', async () => {
    const result = await run(REJECT_LATER);
    expect(result.code).not.toBe(0);
    expect(result.out).not.toMatch(/still serving/);
  });
});
