// Starts GraphiQL (vendored, see README.md) against this server: queries and mutations by
// POST /graphql, subscriptions over WebSocket (graphql-transport-ws), the bearer token from the
// page's token field (or the dashboard's session) on both. A `#token=` in the address only
// fills the field: it is used once „Verwenden“ is pressed (a link must not make someone work as
// another without noticing).
const KEY = "efa-token";
const params = new URLSearchParams(location.hash.slice(1));
const field = document.getElementById("token");
const linked = params.get("token");
field.value = linked || sessionStorage.getItem(KEY) || "";
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
if (linked) {
  history.replaceState(null, "", location.pathname + (params.get("query") ? "#query=" + encodeURIComponent(params.get("query")) : ""));
  const note = document.createElement("p");
  note.id = "link-token-note";
  note.textContent = "Ein Link hat ein Token übergeben: prüfen Sie, ob es Ihres ist, und drücken Sie „Verwenden“.";
  document.getElementById("graphiql").replaceChildren(note);
  field.focus();
} else {
  render();
}
