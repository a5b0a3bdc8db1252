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
