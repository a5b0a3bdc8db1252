// Why scoring fell back, in words an app developer can act on (they reach clients as
// `degradedReason`, so they name the kind of failure, never a worker's address).

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  const queue = [error];
  while (queue.length && chain.length < 10) {
    const e = queue.shift();
    if (!e || typeof e !== 'object') continue;
    chain.push(e);
    const { cause, errors } = e as { cause?: unknown; errors?: unknown[] };
    if (cause) queue.push(cause);
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return chain;
}

export function describeScoringFailure(error: unknown): string {
  const chain = causes(error);
  const codes = chain.map((e) => (e as { code?: unknown }).code).filter((c): c is string => typeof c === 'string');
  const names = chain.map((e) => (e as { name?: unknown }).name);
  const messages = chain.map((e) => {
    const message = (e as { message?: unknown }).message;
    return typeof message === 'string' ? message : '';
  });
  // Scoring in this process (the embedded default) has no worker to blame.
  const who = names.includes('WorkerUnavailableError') || messages.some((m) => /worker/.test(m)) ? 'the inference worker' : 'the model';
  if (codes.includes('ECONNREFUSED')) return 'no inference worker accepted a connection (refused): is one running at WORKER_URLS?';
  if (
    codes.some((c) => c === 'UND_ERR_HEADERS_TIMEOUT' || c === 'UND_ERR_BODY_TIMEOUT' || c === 'ETIMEDOUT') ||
    messages.some((m) => /did not answer within|deadline passed|deadline exceeded/.test(m))
  ) {
    return `${who} did not answer in time`;
  }
  if (messages.some((m) => /answered 503/.test(m))) return 'the inference worker was overloaded (503) and shed the request';
  if (names.includes('OverloadedError')) return 'the model was overloaded and shed the request';
  if (messages.some((m) => /answered \d{3}/.test(m))) return 'the inference worker answered with an error';
  if (messages.some((m) => /no model version is loaded/.test(m))) return 'no model version is loaded';
  if (codes.some((c) => c === 'ECONNRESET' || c === 'UND_ERR_SOCKET' || c === 'EPIPE')) return 'the connection to the inference worker was lost';
  return who === 'the model' ? 'the model failed to run' : 'the inference worker failed';
}
