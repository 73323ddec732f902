// Two Socket.IO nodes on one Redis, with real clients on each, for tests/socketio_adapter.rs.
//
//   node socketio_adapter.js REDIS_URL URL_A [URL_B]
//
// Node A is a netlab server (`--app broadcast --adapter REDIS_URL`). Node B is URL_B (a
// second netlab) or, without it, a socket.io 4 server started here with
// @socket.io/redis-adapter and the same application as netlab's `--app broadcast`.
// Clients a1 (on A), b1 and b2 (on B) send the commands of that application; each client
// answers a "question" with its own name. Prints one JSON line per step: who sent what,
// and what each client received as "message" (or the answers an "ask" collected).
const M = process.env.NETLAB_NODE_MODULES || "/opt/netlab-peers/node_modules";
const { Server } = require(M + "/socket.io");
const { createAdapter } = require(M + "/@socket.io/redis-adapter");
const { createClient } = require(M + "/redis");
const ioc = require(M + "/socket.io-client");

const [redisUrl, urlA, urlB] = process.argv.slice(2);
const SETTLE_MS = 400;

// The application of `netlab socketio server --app broadcast`, in JavaScript.
function broadcastApp(io) {
  io.on("connection", (socket) => {
    const ok = (cb) => typeof cb === "function" && cb("ok");
    socket.on("join", (room, cb) => { socket.join(room); ok(cb); });
    socket.on("leave", (room, cb) => { socket.leave(room); ok(cb); });
    socket.on("all", (text, cb) => { io.emit("message", text); ok(cb); });
    socket.on("room", (room, text, cb) => { io.to(room).emit("message", text); ok(cb); });
    socket.on("except", (room, text, cb) => { io.except(room).emit("message", text); ok(cb); });
    socket.on("local", (text, cb) => { io.local.emit("message", text); ok(cb); });
    socket.on("ask", (text, cb) => {
      io.timeout(2000).emit("question", text, (err, answers) => cb(sorted(answers)));
    });
    socket.on("fetch", async (...args) => {
      const cb = args.pop();
      const sockets = await (args.length ? io.in(args[0]) : io).fetchSockets();
      cb(sorted(sockets.map((s) => s.id)));
    });
    socket.on("sjoin", (room, cb) => { io.socketsJoin(room); ok(cb); });
    socket.on("sleave", (room, cb) => { io.in(room).socketsLeave(room); ok(cb); });
    socket.on("kick", (room, cb) => { io.in(room).disconnectSockets(true); ok(cb); });
    socket.on("rooms", async (cb) => cb(sorted([...(await io.of("/").adapter.allRooms())])));
    socket.on("sse", (text, cb) => {
      io.serverSideEmit("hello", text, (err, answers) => cb(sorted(answers || [])));
    });
  });
  io.on("hello", (text, cb) => cb("node:" + text));
}

const sorted = (xs) => [...xs].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));

async function nodeServer() {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const io = new Server();
  io.adapter(createAdapter(pub, sub));
  broadcastApp(io);
  const http = require("http").createServer();
  io.attach(http);
  await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${http.address().port}`, close: () => { io.close(); pub.quit(); sub.quit(); } };
}

function client(name, url) {
  const socket = ioc(url, { transports: ["websocket"], forceNew: true, reconnection: false });
  const got = [];
  socket.on("message", (text) => got.push(text));
  socket.on("disconnect", (reason) => got.push("disconnect: " + reason));
  socket.on("question", (_text, cb) => cb(name));
  return { name, socket, got, ready: new Promise((r, j) => { socket.on("connect", r); socket.on("connect_error", j); }) };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

(async () => {
  const node = urlB ? null : await nodeServer();
  const b = urlB || node.url;
  const clients = [client("a1", urlA), client("b1", b), client("b2", b)];
  await Promise.all(clients.map((c) => c.ready));
  const [a1, b1, b2] = clients;
  await a1.socket.timeout(2000).emitWithAck("join", "r1");
  await b1.socket.timeout(2000).emitWithAck("join", "r1");
  // The subscriptions of a fresh Node adapter settle asynchronously.
  await sleep(SETTLE_MS);
  const steps = [
    [a1, "all", ["from-a"]],
    [b1, "all", ["from-b"]],
    [a1, "room", ["r1", "room-a"]],
    [b2, "room", ["r1", "room-b"]],
    [a1, "except", ["r1", "except-a"]],
    [b1, "except", ["r1", "except-b"]],
    [a1, "local", ["local-a"]],
    [b1, "local", ["local-b"]],
  ];
  for (const [who, command, args] of steps) {
    clients.forEach((c) => (c.got.length = 0));
    const answer = await who.socket.timeout(2000).emitWithAck(command, ...args);
    await sleep(SETTLE_MS);
    const received = {};
    clients.forEach((c) => (received[c.name] = [...c.got]));
    out({ step: `${who.name} ${command} ${args.join(" ")}`, answer, received });
  }
  for (const who of [a1, b1]) {
    const answers = await who.socket.timeout(5000).emitWithAck("ask", "who?");
    out({ step: `${who.name} ask`, answers });
  }
  // Requests between the nodes: fetch sockets, join and leave, server-side emit, kick.
  const names = (ids) => sorted(ids.map((id) => (clients.find((c) => c.socket.id === id) || { name: id }).name));
  out({ step: "a1 fetch", sockets: names(await a1.socket.timeout(8000).emitWithAck("fetch")) });
  out({ step: "b1 fetch r1", sockets: names(await b1.socket.timeout(8000).emitWithAck("fetch", "r1")) });
  for (const who of [a1, b2]) {
    out({ step: `${who.name} sse hi`, answers: await who.socket.timeout(8000).emitWithAck("sse", "hi") });
  }
  const requests = [
    [a1, "sjoin", ["r2"]],
    [b2, "room", ["r2", "in-r2"]],
    [b1, "sleave", ["r2"]],
    [a1, "room", ["r2", "left-r2"]],
    [b2, "kick", ["r1"]],
  ];
  for (const [who, command, args] of requests) {
    // adapter.allRooms() (only Node sends it): before the kick, from b1 on the Node node.
    if (command === "kick" && node) {
      out({ step: "b1 rooms", rooms: names(await b1.socket.timeout(8000).emitWithAck("rooms")) });
    }
    clients.forEach((c) => (c.got.length = 0));
    const answer = await who.socket.timeout(2000).emitWithAck(command, ...args);
    await sleep(SETTLE_MS);
    const received = {};
    clients.forEach((c) => (received[c.name] = [...c.got]));
    out({ step: `${who.name} ${command} ${args.join(" ")}`, answer, received });
  }

  clients.forEach((c) => c.socket.close());
  if (node) node.close();
  setTimeout(() => process.exit(0), 100);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
