// Relay-style connections over keyset pagination. A row's cursor is its id made opaque and
// tenant-scoped (opaque-ids.ts); a feed's cursor is a position in the user's ranking.
import { badInput } from '../errors.js';
import type { Cursors } from './opaque-ids.js';

export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

export interface Page<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: PageInfo;
}

/**
 * Relay's PageInfo of a forward page (first, after): its edges' cursors, whether more follow,
 * and whether it was asked for after a cursor (then edges came before it).
 */
export function pageInfo(cursors: readonly string[], hasNextPage: boolean, after: string | null | undefined): PageInfo {
  return { hasNextPage, hasPreviousPage: after !== null && after !== undefined, startCursor: cursors[0] ?? null, endCursor: cursors.at(-1) ?? null };
}

export const MAX_PAGE = 500;

/** A position in a ranking (1..500), not a row id: it tells nothing of other tenants. */
export function encodeCursor(id: number): string {
  return Buffer.from(`c:${id}`).toString('base64url');
}

export function decodeCursor(field: string, cursor: string | null | undefined): number | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  const match = /^c:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match)
    throw badInput(`${field}: malformed cursor "${cursor.slice(0, 40)}"; pass an endCursor from an earlier page`, [{ field, message: 'malformed cursor' }]);
  return Number(match[1]);
}

export function checkFirst(field: string, first: number): number {
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) {
    throw badInput(`${field}: expected an integer from 1 to ${MAX_PAGE}, got ${first}`, [{ field, message: `expected 1 to ${MAX_PAGE}` }]);
  }
  return first;
}

/** Builds a page from up to first + 1 rows: the extra row only tells that there is a next page. */
export function toPage<T extends { id: number }>(rows: T[], first: number, cursors: Cursors, after: string | null | undefined): Page<T> {
  return pageOf(rows, first, (row) => cursors.encode(row.id), after);
}

/**
 * A cursor over rows of the viewer's own registry (a model version, a training run's uuid):
 * plain, since it names only the tenant's own rows and says nothing of anyone else's.
 */
export function encodeKeyCursor(kind: string, key: string | number): string {
  return Buffer.from(`${kind}:${key}`).toString('base64url');
}

export function decodeKeyCursor(field: string, kind: string, pattern: RegExp, cursor: string | null | undefined): string | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString();
  const key = text.startsWith(`${kind}:`) ? text.slice(kind.length + 1) : undefined;
  if (key === undefined || !pattern.test(key)) {
    throw badInput(`${field}: malformed cursor "${cursor.slice(0, 40)}"; pass an endCursor from an earlier page`, [{ field, message: 'malformed cursor' }]);
  }
  return key;
}

/** Builds a page from up to first + 1 rows, each row's cursor made by cursorOf. */
export function pageOf<T>(rows: T[], first: number, cursorOf: (row: T) => string, after: string | null | undefined): Page<T> {
  const edges = rows.slice(0, first).map((node) => ({ cursor: cursorOf(node), node }));
  return {
    edges,
    pageInfo: pageInfo(
      edges.map((e) => e.cursor),
      rows.length > first,
      after,
    ),
  };
}
