// The dashboard's only way to the platform: the public GraphQL API, with the admin key in the
// Authorization header. The key lives in this tab's session storage, never in a URL.
const KEY = 'tastegraph.adminKey';

export const key = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

export async function gql(query, variables = {}, apiKey = key.get()) {
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ query, variables }),
  });
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`the API answered ${response.status} without a GraphQL body`, 'INTERNAL');
  }
  if (body.errors?.length) {
    const first = body.errors[0];
    throw new ApiError(first.message, first.extensions?.code ?? 'INTERNAL');
  }
  return body.data;
}

/**
 * One subscription over WebSocket (graphql-ws's graphql-transport-ws protocol, which the API
 * speaks on /graphql), the key sent in connection_init as HTTP sends it in its header. Calls
 * next with each push's data, then complete, or error once (an ApiError) if it fails or the
 * connection closes first. Returns the function that ends it.
 */
export function subscribe(query, variables, { next, complete, error }, apiKey = key.get()) {
  const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`, 'graphql-transport-ws');
  let over = false;
  const finish = (then) => {
    if (over) return;
    over = true;
    socket.close(1000);
    then?.();
  };
  const failed = (message, code) => finish(() => error(new ApiError(message, code ?? 'INTERNAL')));
  socket.onopen = () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${apiKey}` } }));
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === 'connection_ack') socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
    else if (message.type === 'ping') socket.send(JSON.stringify({ type: 'pong' }));
    else if (message.type === 'next' && message.payload.errors?.length) failed(message.payload.errors[0].message, message.payload.errors[0].extensions?.code);
    else if (message.type === 'next') next(message.payload.data);
    else if (message.type === 'error') failed(message.payload[0]?.message ?? 'the subscription failed', message.payload[0]?.extensions?.code);
    else if (message.type === 'complete') finish(complete);
  };
  socket.onclose = (event) => failed(`the live connection closed (${event.code}${event.reason ? `: ${event.reason}` : ''})`, event.code === 4403 ? 'FORBIDDEN' : 'UNAVAILABLE');
  return () => finish();
}
