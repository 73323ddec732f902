// The reference Socket.IO client (socket.io-client 4) against a server at argv[2], driven
// by the JSON plan in argv[3]. Prints one JSON line per thing that happens, for
// tests/socketio_interop.rs to read:
//   {"event":"connect","id":"…","transport":"polling"}   the socket joined its namespace
//   {"event":"upgrade","transport":"websocket"}          Engine.IO moved to the WebSocket
//   {"event":"event","name":"…","args":[…]}              an event from the server
//   {"event":"ack","name":"…","args":[…]}                the answer to an emit with ack
//   {"event":"connect_error","message":"…","data":…}     the namespace refused the socket
//   {"event":"disconnect","reason":"…"}
// A Buffer is written {"$bin":[1,2,3]}, both in the plan's arguments and in the output.
// Plan: {"transports":["polling"], "upgrade":true, "namespace":"/", "emit":[{"name":"x",
//        "args":[…], "ack":true}], "expect":2, "end":"disconnect"|"close"|"wait",
//        "answerPings":false}
// Once `expect` events and acks have come back it ends as `end` says: disconnect the
// socket, close the whole connection, or wait for the server to end it. Gives up after 10 s.
const NM = process.env.NETLAB_NODE_MODULES || "/opt/netlab-peers/node_modules";
const { io } = require(NM + "/socket.io-client");

const url = process.argv[2];
const plan = JSON.parse(process.argv[3] || "{}");
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

// {"$bin":[..]} <-> Buffer, anywhere in a value.
const decode = (v) => {
  if (Array.isArray(v)) return v.map(decode);
  if (v && typeof v === "object") {
    if (Array.isArray(v.$bin)) return Buffer.from(v.$bin);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]));
  }
  return v;
};
const encode = (v) => {
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    return { $bin: Array.from(new Uint8Array(v.buffer ? v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) : v)) };
  }
  if (Array.isArray(v)) return v.map(encode);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
  return v;
};

const socket = io(url + (plan.namespace || "/"), {
  transports: plan.transports || ["polling", "websocket"],
  upgrade: plan.upgrade !== false,
  reconnection: false,
});

let got = 0;
const end = () => {
  if (plan.end === "close") socket.io.engine.close();
  else if (plan.end !== "wait") socket.disconnect();
};
const count = () => {
  got += 1;
  if (plan.expect !== undefined && got === plan.expect) end();
};

// Emit once connected and, with `emitAfterUpgrade`, once Engine.IO is on its WebSocket
// (on loopback the upgrade may even finish before the socket is connected).
let connected = false;
let upgraded = false;
let emitted = false;
const maybeEmit = () => {
  if (emitted || !connected || (plan.emitAfterUpgrade && !upgraded)) return;
  emitted = true;
  emitAll();
  if (plan.expect === 0) end();
};
socket.io.on("open", () => {
  if (plan.answerPings === false) {
    const engine = socket.io.engine;
    const send = engine._sendPacket.bind(engine);
    engine._sendPacket = (type, ...rest) => (type === "pong" ? undefined : send(type, ...rest));
  }
  socket.io.engine.on("upgrade", (t) => {
    out({ event: "upgrade", transport: t.name });
    upgraded = true;
    maybeEmit();
  });
});
socket.on("connect", () => {
  out({ event: "connect", id: socket.id, transport: socket.io.engine.transport.name });
  connected = true;
  maybeEmit();
});
const emitAll = () => {
  for (const e of plan.emit || []) {
    const args = decode(e.args || []);
    if (e.ack) socket.emit(e.name, ...args, (...answer) => {
      out({ event: "ack", name: e.name, args: encode(answer) });
      count();
    });
    else socket.emit(e.name, ...args);
  }
};
socket.onAny((name, ...args) => {
  out({ event: "event", name, args: encode(args) });
  count();
});
socket.on("connect_error", (err) => {
  out({ event: "connect_error", message: err.message, data: err.data === undefined ? null : err.data });
  setTimeout(() => process.exit(0), 100);
});
socket.on("disconnect", (reason) => {
  out({ event: "disconnect", reason });
  // Give a packet the client queued (in long-polling, a POST) time to leave.
  setTimeout(() => process.exit(0), 200);
});
setTimeout(() => {
  out({ event: "gave up" });
  process.exit(1);
}, plan.giveUpMs || 10000);
