// Two clients at argv[2]: `a` joins room r, `b` (not in it) emits to the room and
// broadcasts, `a` asks for an echo. One JSON line per thing received.
const { io } = require(process.env.NETLAB_NODE_MODULES + "/socket.io-client");
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
setTimeout(() => { out({ gave: "up" }); process.exit(1); }, 10000);
const open = (name) => new Promise((ok) => {
  const s = io(process.argv[2], { transports: ["websocket"], forceNew: true, reconnection: false });
  s.onAny((event, ...args) => out({ client: name, event, args }));
  s.on("connect", () => ok(s));
});
const next = (s, event) => new Promise((ok) => s.once(event, ok));
(async () => {
  const a = await open("a");
  const b = await open("b");
  out({ client: "a", ack: "join", args: [await a.emitWithAck("join", "r")] });
  let got = next(a, "room");
  b.emit("room", "r", 5);
  await got;
  got = next(a, "broadcast");
  b.emit("broadcast", 7);
  await got;
  out({ client: "a", ack: "echo", args: [await a.emitWithAck("echo", { x: [1, "two"] })] });
  a.close();
  b.close();
  out({ done: true });
  process.exit(0);
})();
