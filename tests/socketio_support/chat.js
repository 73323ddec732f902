// Two reference clients (socket.io-client 4) play a chat against `netlab socketio server
// --app chat` at argv[2]: nicknames, a room, a message to everyone and one to the room,
// private messages, typing, an event the chat does not know, the /news namespace over
// the same connection, and one client leaving. Each step waits for its acknowledgement or
// for the event it causes, never on a clock. Prints one JSON line per thing each client
// receives: {"client":"a","event":"…","args":[…]} or {"client":"a","ack":"…","args":[…]},
// and {"done":true} at the end. Gives up after 10 s.
const NM = process.env.NETLAB_NODE_MODULES || "/opt/netlab-peers/node_modules";
const { io } = require(NM + "/socket.io-client");

const url = process.argv[2];
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
setTimeout(() => {
  out({ event: "gave up" });
  process.exit(1);
}, 10000);

const connect = (name, path = "") => new Promise((ok) => {
  const s = io(url + path, { transports: ["websocket"], reconnection: false, forceNew: path === "" });
  s.label = name;
  s.waiting = [];
  s.onAny((event, ...args) => {
    out({ client: name, event, args });
    s.waiting = s.waiting.filter((w) => !(w.event === event && (w.ok(args), true)));
  });
  s.on("connect", () => ok(s));
});
// The next `event` on `s` (register before the step that causes it).
const next = (s, event) => new Promise((ok) => s.waiting.push({ event, ok }));
const ask = async (s, name, ...args) => {
  const answer = await s.emitWithAck(name, ...args);
  out({ client: s.label, ack: name, args: [answer] });
  return answer;
};

(async () => {
  const a = await connect("a");
  const b = await connect("b");
  // b's /news socket shares b's connection (same Manager: no forceNew).
  const news = await connect("news", "/news");
  let seen = next(b, "nick");
  let posted = next(news, "news");
  await ask(a, "nick", "ann");
  await seen;
  await posted;
  await ask(b, "join", "r");
  seen = next(b, "joined");
  await ask(a, "join", "r");
  await seen;
  seen = next(b, "chat message");
  await ask(a, "chat message", "hi all");
  await seen;
  seen = next(b, "chat message");
  await ask(a, "chat message", { room: "r", text: "hi room" });
  await seen;
  seen = next(a, "private");
  await ask(b, "private", { to: a.id, text: "psst" });
  await seen;
  await ask(a, "private", { to: "nobody", text: "x" });
  seen = next(b, "typing");
  a.emit("typing");
  await seen;
  await ask(a, "dance");
  seen = next(b, "left");
  await ask(a, "leave", "r");
  await seen;
  out({ client: "ids", a: a.id, b: b.id });
  seen = next(a, "gone");
  b.disconnect();
  news.disconnect();
  await seen;
  a.disconnect();
  out({ done: true });
  setTimeout(() => process.exit(0), 100);
})();
