// Real GraphQL clients against a running server: graphql-js's standard introspection query
// (every option on) turned into a client schema, and a graphql-ws subscription.
// Usage: node clients.mjs http://127.0.0.1:PORT TOKEN  — prints one JSON line of findings.
import { buildClientSchema, getIntrospectionQuery, printSchema } from "graphql";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [base, token] = process.argv.slice(2);
const post = async (query) => {
  const r = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  return { status: r.status, body: await r.json() };
};

const out = {};
const query = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
  oneOf: true,
});
const introspection = await post(query);
out.introspectionErrors = introspection.body.errors ?? null;
if (introspection.body.data) {
  const schema = buildClientSchema(introspection.body.data);
  out.types = Object.keys(schema.getTypeMap()).length;
  out.mutations = Object.keys(schema.getMutationType().getFields());
  out.sdlBytes = printSchema(schema).length;
}
// Far deeper than any tool asks: still refused.
const deep = "{ __schema { types " + "{ fields { type { ofType ".repeat(20) + "{ name }" + " } } }".repeat(20) + " } }";
const refused = await post(deep);
out.deepErrors = (refused.body.errors ?? []).map((e) => e.message);

const client = createClient({
  url: base.replace(/^http/, "ws") + "/graphql",
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  lazy: true,
  retryAttempts: 0,
});
out.events = await new Promise((resolve, reject) => {
  const seen = [];
  const stop = client.subscribe(
    { query: "subscription { events(afterPosition: 0) { position type } }" },
    {
      next: ({ data, errors }) => {
        if (errors) return reject(new Error(JSON.stringify(errors)));
        seen.push(data.events.position);
        if (seen.length === 3) { stop(); resolve(seen.slice()); }
      },
      error: (e) => reject(e instanceof Error ? e : new Error(JSON.stringify(e))),
      complete: () => resolve(seen),
    },
  );
  setTimeout(() => reject(new Error("no events in 20 s")), 20000);
});
await client.dispose();
console.log(JSON.stringify(out));
