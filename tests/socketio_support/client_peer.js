// The reference Socket.IO server (socket.io 4.8) for tests/socketio_client.rs, which points
// netlab's client at it. Options as JSON in argv[2]: {"recovery": bool, "pingInterval": ms,
// "pingTimeout": ms, "websocketOnly": bool}. Prints {"port":N} once it listens, then one
// JSON line per thing it sees: {"connect":id,"nsp":..,"recovered":..,"auth":..,
// "transport":..}, {"upgrade":transport}, {"event":name,"nsp":..,"args":[..]},
// {"answered":[..]}, {"disconnect":reason}. Buffers are written {"$bin":[..]}.
//
// Events with a meaning: `kill` closes the connection under the socket and then emits
// `missed` 1 and 2 to everyone; `bye` disconnects the socket; `garbage` sends a message
// that is no Socket.IO packet; `call` emits `question` asking for an ack; `binary` emits
// `bin` with two buffers; `freeze` stops this process (SIGSTOP: no more pings); `exit`
// ends it. Any other event is answered through its ack callback, or echoed back.
// It exits after 30 s.
const NM = process.env.NETLAB_NODE_MODULES || "/opt/netlab-peers/node_modules";
const { Server } = require(NM + "/socket.io");

const opts = JSON.parse(process.argv[2] || "{}");
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const encode = (v) => {
  if (Buffer.isBuffer(v)) return { $bin: Array.from(v) };
  if (Array.isArray(v)) return v.map(encode);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
  return v;
};

const config = { serveClient: false };
if (opts.recovery) config.connectionStateRecovery = { maxDisconnectionDuration: 60000 };
if (opts.pingInterval) config.pingInterval = opts.pingInterval;
if (opts.pingTimeout) config.pingTimeout = opts.pingTimeout;
if (opts.websocketOnly) config.transports = ["websocket"];
const io = new Server(0, config);
io.httpServer.on("listening", () => out({ port: io.httpServer.address().port }));

const handle = (nsp) => (socket) => {
  out({ connect: socket.id, nsp: nsp.name, recovered: socket.recovered, auth: socket.handshake.auth, transport: socket.conn.transport.name });
  socket.conn.on("upgrade", (t) => out({ upgrade: t.name }));
  if (!socket.recovered) socket.emit("welcome", { id: socket.id });
  socket.onAny((name, ...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    out({ event: name, nsp: nsp.name, args: encode(args) });
    if (name === "kill") {
      socket.conn.close();
      setTimeout(() => { nsp.emit("missed", 1); nsp.emit("missed", 2); }, 100);
    } else if (name === "bye") socket.disconnect();
    else if (name === "garbage") socket.conn.send("garbage");
    else if (name === "call") socket.emit("question", 7, (...answer) => out({ answered: encode(answer) }));
    else if (name === "binary") socket.emit("bin", Buffer.from([1, 2, 3]), { nested: Buffer.from([255, 0]) });
    else if (name === "freeze") setTimeout(() => process.kill(process.pid, "SIGSTOP"), 20);
    else if (name === "exit") setTimeout(() => process.exit(0), 20);
    else if (ack) ack(...args);
    else socket.emit(name, ...args);
  });
  socket.on("disconnect", (reason) => out({ disconnect: reason }));
};

io.on("connection", handle(io.of("/")));
const admin = io.of("/admin");
admin.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "secret") return next();
  const err = new Error("not authorized");
  err.data = { reason: "no token" };
  next(err);
});
admin.on("connection", handle(admin));
setTimeout(() => process.exit(0), 30000);
