// Live updates: one `events` subscription; what an event touched is fetched again and redrawn.

import { gql, getToken } from "./api.js";
import { data, ROLLOUT_FIELDS } from "./data.js";
import { currentView, refreshView } from "./routing.js";

// What views want to hear of (they register; this module imports no view).
const listeners = { rollout: [], questions: [] };

// `fn(rolloutId)` runs when the rollout shown changed (`rollout`) or its questions did (`questions`).
export function onLive(kind, fn) {
  listeners[kind].push(fn);
}

let socket = null;
let refreshTimer = null;
const pendingIds = new Set();

export function followLive() {
  if (socket) socket.close();
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/graphql", "graphql-transport-ws");
  socket = ws;
  ws.onopen = async () => {
    // Without a token the socket is signed in by the session cookie its upgrade carried.
    ws.send(JSON.stringify({ type: "connection_init", payload: getToken() ? { Authorization: "Bearer " + getToken() } : {} }));
    const head = (await gql("{ head { position } }")).head.position;
    lastHead = head;
    ws.send(JSON.stringify({ id: "live", type: "subscribe", payload: {
      query: "subscription($p: Int!) { events(afterPosition: $p) { position streamId type } }", variables: { p: head } } }));
    if (network.service) subscribeNetwork();
  };
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type !== "next" || !msg.payload.data) return;
    if (msg.id === "network") {
      // Another administration's progress: the feed says only that the service changed.
      clearTimeout(network.timer);
      network.timer = setTimeout(() => { if (network.handler) network.handler(); }, 150);
      return;
    }
    const stream = msg.payload.data.events.streamId;
    if (stream.startsWith("questions-")) {
      const id = stream.slice("questions-".length);
      for (const fn of listeners.questions) fn(id);
      if (currentView().name === "tasks") refreshView(currentView(), false);
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
  if (view.name === "rollout" && ids.includes(view.arg)) for (const fn of listeners.rollout) fn(view.arg);
  else if (["overview", "map", "authority", "tasks"].includes(view.name)) refreshView(view, false);
}

// The network page's subscription (`networkChanged`): one service at a time.
const network = { service: null, handler: null, timer: null, subscribed: false };
let lastHead = 0;

function subscribeNetwork() {
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  if (network.subscribed) socket.send(JSON.stringify({ id: "network", type: "complete" }));
  socket.send(JSON.stringify({ id: "network", type: "subscribe", payload: {
    query: "subscription($s: String!, $p: Int!) { networkChanged(serviceKey: $s, afterPosition: $p) { position } }",
    variables: { s: network.service, p: lastHead } } }));
  network.subscribed = true;
}

// Follows the network of `service`: `handler` runs after each change (debounced); `null` stops.
export function followNetwork(service, handler) {
  if (!service) {
    if (network.subscribed && socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ id: "network", type: "complete" }));
    Object.assign(network, { service: null, handler: null, subscribed: false });
    return;
  }
  Object.assign(network, { service, handler });
  subscribeNetwork();
}

export function stopLive() {
  if (socket) { const s = socket; socket = null; s.close(); }
}
