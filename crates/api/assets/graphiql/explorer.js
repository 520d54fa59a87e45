// Starts GraphiQL (vendored, see README.md) against this server: queries and mutations by
// POST /graphql, subscriptions over WebSocket (graphql-transport-ws), the bearer token from the
// page's token field (or `#token=` in the address, or the dashboard's session) on both.
const KEY = "efa-token";
const params = new URLSearchParams(location.hash.slice(1));
const field = document.getElementById("token");
field.value = params.get("token") || sessionStorage.getItem(KEY) || "";
const root = ReactDOM.createRoot(document.getElementById("graphiql"));

function render() {
  const token = field.value.trim();
  if (token) sessionStorage.setItem(KEY, token); else sessionStorage.removeItem(KEY);
  const auth = token ? { Authorization: "Bearer " + token } : {};
  const fetcher = GraphiQL.createFetcher({
    url: location.origin + "/graphql",
    subscriptionUrl: location.origin.replace(/^http/, "ws") + "/graphql",
    headers: auth,
    wsConnectionParams: auth,
  });
  root.render(React.createElement(GraphiQL, {
    // A new token: a new explorer (and a new schema from introspection).
    key: token,
    fetcher,
    defaultQuery: params.get("query") || "{\n  me { name role authorities services }\n}\n",
    defaultEditorToolsVisibility: false,
    shouldPersistHeaders: false,
  }));
}

document.getElementById("token-form").addEventListener("submit", (e) => { e.preventDefault(); render(); });
render();
