// Live updates: one `events` subscription; what an event touched is fetched again and redrawn.

import { gql, getToken } from "./api.js";
import { data, ROLLOUT_FIELDS } from "./data.js";
import { currentView, refreshView } from "./routing.js";
import { rolloutChanged } from "./rollout.js";
import { questionsChanged } from "./questions.js";
import { loadTasks } from "./tasks.js";

let socket = null;
let refreshTimer = null;
const pendingIds = new Set();

export function followLive() {
  if (socket) socket.close();
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/graphql", "graphql-transport-ws");
  socket = ws;
  ws.onopen = async () => {
    ws.send(JSON.stringify({ type: "connection_init", payload: { Authorization: "Bearer " + getToken() } }));
    const head = (await gql("{ head { position } }")).head.position;
    ws.send(JSON.stringify({ id: "live", type: "subscribe", payload: {
      query: "subscription($p: Int!) { events(afterPosition: $p) { position streamId type } }", variables: { p: head } } }));
  };
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type !== "next" || !msg.payload.data) return;
    const stream = msg.payload.data.events.streamId;
    if (stream.startsWith("questions-")) {
      const id = stream.slice("questions-".length);
      questionsChanged(id);
      if (currentView().name === "tasks") loadTasks();
      return;
    }
    if (!stream.startsWith("rollout-")) return;
    pendingIds.add(stream.slice("rollout-".length));
    // Several events of one command arrive together: refresh once.
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refreshChanged, 60);
  };
  ws.onclose = () => { if (socket === ws && getToken()) setTimeout(followLive, 2000); };
}

async function refreshChanged() {
  const ids = [...pendingIds];
  pendingIds.clear();
  for (const id of ids) {
    const d = await gql(`query($id: ID!) { rollout(id: $id) { ${ROLLOUT_FIELDS} } }`, { id });
    if (d.rollout) data.rollouts.set(id, d.rollout);
  }
  const view = currentView();
  if (view.name === "rollout" && ids.includes(view.arg)) rolloutChanged(view.arg);
  else if (["overview", "map", "authority"].includes(view.name)) refreshView(view);
  else if (view.name === "tasks") loadTasks();
}

export function stopLive() {
  if (socket) { const s = socket; socket = null; s.close(); }
}
