// Field rules shared by the services. Each check returns problems rather than throwing, so a
// batch reports every bad field at once; messages name the field, the rule and the value.
import type { FieldProblem } from '../errors.js';

export const MAX_BATCH = 1000;
export const MAX_ID_LENGTH = 256;
export const MAX_PROMPT_LENGTH = 10_000;
export const MAX_URL_LENGTH = 2048;

// eslint-disable-next-line no-control-regex -- control characters are what it finds
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
// Free text (prompts) may hold newlines and tabs, never NUL, which PostgreSQL text cannot store.
// eslint-disable-next-line no-control-regex -- NUL is what it finds
const NUL = /\u0000/;
// A UTF-16 surrogate without its partner is not a character: encoded as UTF-8 it turns into
// U+FFFD, so two ids differing only there would silently become one row.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A value as a message may show it: JSON-quoted, cut to 60 characters. */
export function show(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Text that can be stored as it was sent: valid Unicode, no NUL. Returns the rule broken. */
function textRule(value: string): string | undefined {
  if (LONE_SURROGATE.test(value)) return 'expected valid Unicode text (an unpaired UTF-16 surrogate)';
  if (NUL.test(value)) return 'expected no NUL characters';
  return undefined;
}

/** External ids: 1 to 256 characters of valid Unicode, no control characters, no surrounding whitespace. */
export function checkExternalId(field: string, value: string, index?: number): FieldProblem[] {
  const problem = (message: string) => [{ field, message: `${message}, got ${show(value)}`, index }];
  if (value.length === 0) return problem('expected a non-empty id');
  if (value.length > MAX_ID_LENGTH) return problem(`expected at most ${MAX_ID_LENGTH} characters`);
  if (CONTROL_CHARS.test(value)) return problem('expected no control characters');
  if (LONE_SURROGATE.test(value)) return problem('expected valid Unicode (an unpaired UTF-16 surrogate)');
  if (value.trim() !== value) return problem('expected no leading or trailing whitespace');
  return [];
}

/** A short name (of an API key): at most maxLength characters, valid Unicode, no control characters. */
export function checkName(field: string, value: string, maxLength: number): FieldProblem[] {
  if (value.length > maxLength) return [{ field, message: `expected at most ${maxLength} characters, got ${value.length}` }];
  if (CONTROL_CHARS.test(value)) return [{ field, message: `expected no control characters, got ${show(value)}` }];
  const rule = textRule(value);
  return rule ? [{ field, message: `${rule}, got ${show(value)}` }] : [];
}

export function checkOptionalId(field: string, value: string | null | undefined, index?: number): FieldProblem[] {
  return value === null || value === undefined ? [] : checkExternalId(field, value, index);
}

export function checkEmbedding(field: string, values: readonly number[], dim: number, index?: number): FieldProblem[] {
  if (values.length !== dim) {
    return [{ field, index, message: `expected ${dim} finite numbers, got ${values.length}` }];
  }
  const bad = values.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
  if (bad >= 0) return [{ field: `${field}[${bad}]`, index, message: `expected a finite number, got ${show(values[bad])}` }];
  const tooBig = values.findIndex((v) => Math.abs(v) > 3.4e38);
  if (tooBig >= 0) return [{ field: `${field}[${tooBig}]`, index, message: `expected a float32 value, got ${show(values[tooBig])}` }];
  return [];
}

export function checkUrl(field: string, value: string | null | undefined, index?: number): FieldProblem[] {
  if (value === null || value === undefined) return [];
  if (value.length > MAX_URL_LENGTH) return [{ field, index, message: `expected at most ${MAX_URL_LENGTH} characters, got ${value.length}` }];
  // The URL parser would quietly drop or escape these; the stored text must be what was sent.
  if (CONTROL_CHARS.test(value) || LONE_SURROGATE.test(value)) {
    return [{ field, index, message: `expected a URL without control characters or unpaired surrogates, got ${show(value)}` }];
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [{ field, index, message: `expected an absolute http(s) URL, got ${show(value)}` }];
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return [{ field, index, message: `expected an http or https URL, got ${show(value)}` }];
  }
  return [];
}

export function checkPrompt(field: string, value: string | null | undefined, index?: number): FieldProblem[] {
  if (value === null || value === undefined) return [];
  if (value.length > MAX_PROMPT_LENGTH) return [{ field, index, message: `expected at most ${MAX_PROMPT_LENGTH} characters, got ${value.length}` }];
  const rule = textRule(value);
  return rule ? [{ field, index, message: `${rule}, got ${show(value)}` }] : [];
}

export function checkBatchSize(field: string, size: number): FieldProblem[] {
  if (size >= 1 && size <= MAX_BATCH) return [];
  return [{ field, message: `expected 1 to ${MAX_BATCH} entries, got ${size}` }];
}

/** Reports each repeat of a key within one batch, pointing at its first occurrence. */
export function checkUnique<T>(list: readonly T[], key: (entry: T) => string | null | undefined, field: (index: number) => string): FieldProblem[] {
  const first = new Map<string, number>();
  const problems: FieldProblem[] = [];
  list.forEach((entry, index) => {
    const k = key(entry);
    if (k === null || k === undefined) return;
    const seen = first.get(k);
    if (seen === undefined) first.set(k, index);
    else problems.push({ index, field: field(index), message: `${show(k)} repeats ${field(seen)}` });
  });
  return problems;
}
