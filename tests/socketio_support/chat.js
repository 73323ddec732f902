// Two reference clients (socket.io-client 4) play a chat against `netlab socketio server
// --app chat` at argv[2]: nicknames, a room, a message to it, private messages, typing,
// a command the chat does not know, and one client leaving. Each step waits for its
// acknowledgement or for the event it causes, never on a clock. Prints one JSON line per
// thing each client receives: {"client":"a","event":"…","args":[…]} or
// {"client":"a","ack":"…","args":[…]}, and {"done":true} at the end. Gives up after 10 s.
const NM = process.env.NETLAB_NODE_MODULES || "/opt/netlab-peers/node_modules";
const { io } = require(NM + "/socket.io-client");

const url = process.argv[2];
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
setTimeout(() => {
  out({ event: "gave up" });
  process.exit(1);
}, 10000);

const connect = (name) => new Promise((ok) => {
  const s = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
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
  a.label = "a";
  b.label = "b";
  let seen = next(b, "nick");
  await ask(a, "nick", "ann");
  await seen;
  await ask(b, "join", "r");
  seen = next(b, "joined");
  await ask(a, "join", "r");
  await seen;
  seen = next(b, "message");
  await ask(a, "message", "hi all");
  await seen;
  seen = next(a, "private");
  await ask(b, "private", a.id, "psst");
  await seen;
  await ask(a, "private", "nobody", "x");
  seen = next(b, "typing");
  a.emit("typing");
  await seen;
  await ask(a, "dance");
  out({ client: "ids", a: a.id, b: b.id });
  seen = next(a, "left");
  b.disconnect();
  await seen;
  a.disconnect();
  out({ done: true });
  setTimeout(() => process.exit(0), 100);
})();
