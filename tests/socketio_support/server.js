// The reference Socket.IO server (socket.io 4.8) on 127.0.0.1, a port the kernel chooses,
// for tests/socketio_interop.rs to point netlab's client at. Prints {"port":N} once it
// listens, then one JSON line per thing it sees: {"connect":id}, {"event":name,"args":[..]},
// {"disconnect":reason}. Each socket is greeted with `welcome` {"id":..}; an event with an
// ack callback is answered with its arguments, any other comes back under its own name.
// Buffers are written {"$bin":[..]}. It exits after 10 s.
const NM = process.env.NETLAB_NODE_MODULES || "/opt/netlab-peers/node_modules";
const { Server } = require(NM + "/socket.io");

const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const encode = (v) => {
  if (Buffer.isBuffer(v)) return { $bin: Array.from(v) };
  if (Array.isArray(v)) return v.map(encode);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
  return v;
};

const io = new Server(0, { serveClient: false });
io.httpServer.on("listening", () => out({ port: io.httpServer.address().port }));
io.on("connection", (socket) => {
  out({ connect: socket.id });
  socket.emit("welcome", { id: socket.id });
  socket.onAny((name, ...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    out({ event: name, args: encode(args) });
    if (ack) ack(...args);
    else socket.emit(name, ...args);
  });
  socket.on("disconnect", (reason) => out({ disconnect: reason }));
});
setTimeout(() => process.exit(0), 10000);
