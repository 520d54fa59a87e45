// The GraphQL API: one request, all pages of a connection, errors in words.

import { ERROR } from "./words.js";

let token = sessionStorage.getItem("efa-token") || "";

// The token requests are sent with (kept in the session storage only).
export const getToken = () => token;
export function setToken(t) {
  token = t;
  if (t) sessionStorage.setItem("efa-token", t); else sessionStorage.removeItem("efa-token");
}

export class ApiError extends Error {
  constructor(error) {
    super(error.message);
    this.code = (error.extensions && error.extensions.code) || "";
    this.fields = (error.extensions && error.extensions.fields) || [];
    this.diagnostics = (error.extensions && error.extensions.diagnostics) || [];
  }
  // The error in words: what kind of refusal, then the server's reason.
  get text() { return (ERROR[this.code] ? ERROR[this.code] + ": " : "") + this.message; }
}

export async function gql(query, variables) {
  const r = await fetch("/graphql", {
    method: "POST",
    // Without a token, the session cookie of a sign-in with the organisation's account counts.
    headers: token ? { "content-type": "application/json", authorization: "Bearer " + token } : { "content-type": "application/json" },
    body: JSON.stringify({ query, variables: variables || {} }),
  });
  const answer = await r.json();
  if (answer.errors && answer.errors.length) throw new ApiError(answer.errors[0]);
  return answer.data;
}

export async function allPages(query, field, variables) {
  const out = [];
  let after = null;
  do {
    const d = await gql(query, Object.assign({}, variables, { a: after }));
    for (const e of d[field].edges) out.push(e.node);
    after = d[field].pageInfo.hasNextPage ? d[field].pageInfo.endCursor : null;
  } while (after);
  return out;
}
