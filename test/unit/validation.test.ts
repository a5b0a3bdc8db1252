import { describe, expect, it } from 'vitest';
import { checkBatchSize, checkEmbedding, checkExternalId, checkUnique, checkUrl } from '../../src/services/validation.js';
import { decodeCursor, encodeCursor, toPage } from '../../src/services/pagination.js';
import { createIdCodec, cursorsFor } from '../../src/services/opaque-ids.js';
import { decodeEmbedding, encodeEmbedding } from '../../src/repositories/embedding-codec.js';

describe('field checks', () => {
  it('embedding: length and finiteness, naming the field and the value', () => {
    expect(checkEmbedding('items[0].embedding', [1, 2, 3], 4, 0)).toEqual([
      { field: 'items[0].embedding', index: 0, message: 'expected 4 finite numbers, got 3' },
    ]);
    expect(checkEmbedding('e', [1, NaN], 2)[0]).toMatchObject({ field: 'e[1]', message: 'expected a finite number, got NaN' });
    expect(checkEmbedding('e', [Infinity, 1], 2)[0]).toMatchObject({ field: 'e[0]', message: 'expected a finite number, got Infinity' });
    expect(checkEmbedding('e', [1e39, 1], 2)[0]).toMatchObject({ field: 'e[0]' });
    expect(checkEmbedding('e', [0.5, -2], 2)).toEqual([]);
  });

  it('external ids: non-empty, bounded, printable, trimmed', () => {
    expect(checkExternalId('id', 'user-1')).toEqual([]);
    expect(checkExternalId('id', '')[0].message).toBe('expected a non-empty id, got ""');
    expect(checkExternalId('id', 'x'.repeat(257))[0].message).toMatch(/^expected at most 256 characters/);
    expect(checkExternalId('id', 'a\u0000b')[0].message).toMatch(/control characters/);
    expect(checkExternalId('id', ' a')[0].message).toMatch(/whitespace/);
  });

  it('urls must be absolute http(s)', () => {
    expect(checkUrl('url', 'https://x.example/a.png')).toEqual([]);
    expect(checkUrl('url', null)).toEqual([]);
    expect(checkUrl('url', 'not a url')[0].message).toMatch(/absolute http/);
    expect(checkUrl('url', 'javascript:alert(1)')[0].message).toMatch(/http or https/);
  });

  it('batches hold 1 to 1,000 entries', () => {
    expect(checkBatchSize('events', 1000)).toEqual([]);
    expect(checkBatchSize('events', 1001)).toEqual([{ field: 'events', message: 'expected 1 to 1000 entries, got 1001' }]);
    expect(checkBatchSize('events', 0)).toHaveLength(1);
  });

  it('points each repeated key at its first occurrence', () => {
    const problems = checkUnique(
      ['a', 'b', 'a', null, 'a'],
      (x) => x,
      (i) => `events[${i}].eventId`,
    );
    expect(problems.map((p) => [p.index, p.message])).toEqual([
      [2, '"a" repeats events[0].eventId'],
      [4, '"a" repeats events[0].eventId'],
    ]);
  });
});

describe('cursors and pages', () => {
  it('round-trips and rejects tampered cursors', () => {
    expect(decodeCursor('after', encodeCursor(12345))).toBe(12345);
    expect(decodeCursor('after', undefined)).toBeUndefined();
    expect(() => decodeCursor('after', 'garbage')).toThrow(/after: malformed cursor/);
  });

  it("uses the extra row only to say there is a next page, and fills Relay's PageInfo", () => {
    const cursors = cursorsFor(createIdCodec(Buffer.alloc(32, 7)), '00000000-0000-4000-8000-000000000001', 'item-cursor');
    const page = toPage([{ id: 9 }, { id: 8 }, { id: 7 }], 2, cursors, undefined);
    expect(page.edges.map((e) => e.node.id)).toEqual([9, 8]);
    expect(page.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: false, startCursor: cursors.encode(9), endCursor: cursors.encode(8) });
    const next = toPage([{ id: 7 }], 2, cursors, page.pageInfo.endCursor);
    expect(next.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: true, startCursor: cursors.encode(7), endCursor: cursors.encode(7) });
    expect(toPage([], 2, cursors, null).pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null });
  });
});

describe('opaque ids', () => {
  const codec = createIdCodec(Buffer.alloc(32, 7));
  const a = '00000000-0000-4000-8000-00000000000a';
  const b = '00000000-0000-4000-8000-00000000000b';

  it('round-trip for their tenant and kind only', () => {
    for (const id of [1, 2, 255, 2 ** 31, 2 ** 53 - 1]) expect(codec.decode(a, 'interaction', codec.encode(a, 'interaction', id))).toBe(id);
    const token = codec.encode(a, 'interaction', 42);
    expect(codec.decode(b, 'interaction', token)).toBeUndefined();
    expect(codec.decode(a, 'history-cursor', token)).toBeUndefined();
    expect(
      codec.decode(
        a,
        'interaction',
        token.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
      ),
    ).toBeUndefined();
    expect(codec.decode(a, 'interaction', 'c:42')).toBeUndefined();
    expect(() => cursorsFor(codec, b, 'item-cursor').decode('after', cursorsFor(codec, a, 'item-cursor').encode(5))).toThrow(/after: malformed cursor/);
  });

  it('tell nothing of order or distance: consecutive ids share no prefix, and another secret gives other tokens', () => {
    const tokens = Array.from({ length: 100 }, (_, i) => codec.encode(a, 'interaction', 1000 + i));
    expect(new Set(tokens).size).toBe(100);
    expect(new Set(tokens.map((t) => t.slice(0, 3))).size).toBeGreaterThan(90);
    expect([...tokens].sort()).not.toEqual(tokens);
    expect(createIdCodec(Buffer.alloc(32, 8)).encode(a, 'interaction', 1000)).not.toBe(tokens[0]);
    expect(codec.encode(a, 'interaction', 1000)).toBe(tokens[0]); // deterministic: a retry answers the same id
  });
});

describe('embedding codec', () => {
  it('stores float32 little-endian, 4 bytes per value, and reads unaligned buffers', () => {
    const values = [0.5, -1.25, 3e-8, 1234.5];
    const bytes = encodeEmbedding(values);
    expect(bytes.length).toBe(16);
    expect(bytes.readFloatLE(4)).toBe(-1.25);
    const unaligned = Buffer.concat([Buffer.from([7]), bytes]).subarray(1);
    expect(Array.from(decodeEmbedding(unaligned))).toEqual(values.map(Math.fround));
  });
});
