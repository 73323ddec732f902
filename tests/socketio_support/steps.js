// Plays steps from raw Engine.IO clients against a real socket.io server, for the tests
// that compare netlab's Socket.IO server machine with it. Each step waits on what the
// server did, never on a clock: the server has read the message, its handlers have run
// (they run on process.nextTick), and every client still connected has received every
// message the server created for it.
//
// A step is [client, what]: a message to send (text, or "bin:" and hex), "close" (the
// client drops its connection), "open" (a new connection for that client), and in a
// message "$auth" is replaced by {"pid":..,"offset":..} from what that client received.
const { Socket } = require(process.env.NETLAB_NODE_MODULES + "/engine.io-client");

const until = async (condition, what) => {
  for (let i = 0; !condition(); i++) {
    if (i > 2000) throw new Error("gave up waiting for " + what);
    await new Promise((ok) => setTimeout(ok, 5));
  }
};
const turn = () => new Promise((ok) => setImmediate(ok));

const pid = (log) => log.map((l) => /"pid":"([^"]+)"/.exec(l)).filter(Boolean).map((m) => m[1]).pop();
const offset = (log) => log.filter((l) => /^2\d*\[/.test(l)).map((l) => JSON.parse(l.replace(/^\d+/, "")).pop())
  .filter((x) => typeof x === "string").pop();

async function play(io, steps, count) {
  const port = io.httpServer.address().port;
  const server = {}; // Engine.IO session id -> { read, created, closed }
  io.engine.on("connection", (s) => {
    const state = (server[s.id] = { read: 0, created: 0, closed: false });
    s.on("packet", (p) => p.type === "message" && state.read++);
    s.on("packetCreate", (p) => p.type === "message" && state.created++);
    s.on("close", () => (state.closed = true));
  });
  const logs = Array.from({ length: count }, () => []);
  // The server's view of a client, by the session id the client had when it opened.
  const of = (c) => server[c.sessionId] || { read: 0, created: 0, closed: true };
  const open = (i) => new Promise((ok) => {
    const c = new Socket(`ws://127.0.0.1:${port}`, { transports: ["websocket"], path: "/socket.io/" });
    c.received = 0;
    c.sent = 0;
    c.on("message", (d) => {
      c.received++;
      logs[i].push(typeof d === "string" ? d : "bin:" + Buffer.from(d).toString("hex"));
    });
    c.on("close", () => logs[i].push("<closed>"));
    c.on("open", () => {
      c.sessionId = c.id;
      ok(c);
    });
  });
  const clients = [];
  for (let i = 0; i < count; i++) clients.push(await open(i));
  const settled = () => clients.every((c) => c.readyState !== "open" || of(c).closed || c.received === of(c).created);
  for (const [i, step] of steps) {
    const c = clients[i];
    if (step === "close") {
      c.close();
      await until(() => of(c).closed, "the server to see the connection close");
    } else if (step === "open") {
      clients[i] = await open(i);
      logs[i].push("<open>");
    } else {
      const auth = JSON.stringify({ pid: pid(logs[i]), offset: offset(logs[i]) });
      const text = step.replace("$auth", auth);
      c.send(text.startsWith("bin:") ? Buffer.from(text.slice(4), "hex") : text);
      c.sent++;
      await until(() => of(c).read === c.sent || of(c).closed, "the server to read step " + step);
    }
    await turn();
    await turn();
    await until(settled, "every client to receive what the server sent after " + step);
  }
  const gone = () => clients.every((c) => !of(c).closed || c.readyState === "closed");
  await until(gone, "every close to reach its client");
  return logs;
}

module.exports = { play };
