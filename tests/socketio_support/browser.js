// Drives headless Chromium through its DevTools protocol (CDP, over the npm `ws`
// package) for tests/socketio_browser.rs. Usage:
//
//   node browser.js DEVTOOLS-PORT chat     http://127.0.0.1:PORT/
//   node browser.js DEVTOOLS-PORT official http://127.0.0.1:PORT/
//   node browser.js DEVTOOLS-PORT netlab   http://127.0.0.1:PORT/
//   node browser.js DEVTOOLS-PORT cross    http://127.0.0.1:PAGE-PORT/ http://127.0.0.1:PORT/
//
// cross: the real client in a page of the first origin, long-polling the second server
// (another origin: CORS decides whether the page may read its answers).
// chat: two tabs of netlab's chat page, used through their forms and buttons as a person
// would (names, a room, a message to the room, one to everyone); prints what each page
// shows. official: the real client's script (socket.io-client's dist/socket.io.js) run in
// a page of the server's origin: connect, emit with an ack, receive an event.
// Prints JSON lines; every wait is bounded; exits 1 with {"failed": why} on a timeout.
const NM = process.env.NETLAB_NODE_MODULES || "/opt/netlab-peers/node_modules";
const WebSocket = require(NM + "/ws");
const fs = require("fs");

const [devtools, mode, url, other] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const fail = (why) => {
  out({ failed: why });
  process.exit(1);
};
setTimeout(() => fail("gave up after 40 s"), 40000);

let cdp;
let nextId = 1;
const waiting = new Map();

// One CDP command; with a session id, to that page.
function send(method, params = {}, sessionId) {
  const id = nextId++;
  cdp.send(JSON.stringify({ id, method, params, sessionId }));
  return new Promise((ok, no) => waiting.set(id, { ok, no, method }));
}

// A new tab at `address`, once that document has loaded: a tab starts on about:blank,
// whose readyState is "complete" too, and a script evaluated there would be lost when the
// real page commits.
async function openPage(address) {
  const { targetId } = await send("Target.createTarget", { url: address });
  const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
  await until(
    sessionId,
    `location.href === ${JSON.stringify(address)} && document.readyState === "complete"`,
    "the page " + address + " loads"
  );
  return sessionId;
}

// Evaluate `expression` in the page (awaiting a promise); its value.
async function evaluate(page, expression) {
  const r = await send(
    "Runtime.evaluate",
    { expression, awaitPromise: true, returnByValue: true },
    page
  );
  if (r.exceptionDetails) throw new Error(JSON.stringify(r.exceptionDetails));
  return r.result.value;
}

// Evaluate `expression` every 50 ms until it is truthy, for at most `limit` ms.
async function until(page, expression, what, limit = 10000) {
  const start = Date.now();
  while (Date.now() - start < limit) {
    const v = await evaluate(page, expression).catch(() => undefined);
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  fail("timed out waiting for " + what);
}

// In a chat page: fill fields by id, click a button by id.
const act = (fields, button) =>
  `(() => { const f = ${JSON.stringify(fields)};
     for (const k in f) document.getElementById(k).value = f[k];
     document.getElementById(${JSON.stringify(button)}).click(); return true; })()`;
const logHas = (text) =>
  `[...document.querySelectorAll("#log li")].some((li) => li.textContent.includes(${JSON.stringify(text)}))`;
const delivered = (text) =>
  `[...document.querySelectorAll("#log li")].some((li) => li.textContent.startsWith(${JSON.stringify(text)}) && li.querySelector(".state.delivered"))`;
const lines = (id) => `[...document.querySelectorAll("#${id} li")].map((li) => li.textContent)`;

async function chat() {
  const a = await openPage(url);
  const b = await openPage(url);
  for (const [name, page] of [["a", a], ["b", b]]) {
    // Connected: the page shows the socket id the server gave (20 characters).
    const id = await until(page, `(t => t.length === 20 && t)(document.getElementById("me").textContent)`, name + " connects");
    out({ page: name, id });
  }
  await evaluate(a, act({ nick: "ann" }, "set-nick"));
  await evaluate(b, act({ nick: "bob" }, "set-nick"));
  await until(a, delivered("you are now ann"), "a's name acknowledged");
  await until(b, delivered("you are now bob"), "b's name acknowledged");
  await evaluate(a, act({ room: "r" }, "join"));
  await until(a, delivered("you joined #r"), "a in room r");
  await evaluate(b, act({ room: "r" }, "join"));
  await until(b, delivered("you joined #r"), "b in room r");
  await until(a, logHas("bob joined #r"), "a sees bob join");
  await evaluate(a, act({ to: "#r", text: "hello room" }, "send"));
  await until(b, logHas("#r ann: hello room"), "b gets the room message");
  await until(a, delivered("#r me: hello room"), "a's delivery receipt");
  await evaluate(b, act({ to: "", text: "hi ann" }, "send"));
  await until(a, logHas("bob: hi ann"), "a gets b's message");
  await until(b, delivered("me: hi ann"), "b's delivery receipt");
  await until(b, `[...document.querySelectorAll("#news li")].some((li) => li.textContent === "ann joined r")`, "b's /news");
  for (const [name, page] of [["a", a], ["b", b]]) {
    const transport = await until(page, `(t => t === "websocket" && t)(document.getElementById("transport").textContent)`, name + " upgrades");
    out({ page: name, transport, log: await evaluate(page, lines("log")), news: await evaluate(page, lines("news")) });
  }
}

async function official() {
  // A page of the server's origin (its 404 answer will do), so long-polling needs no CORS.
  const page = await openPage(url + "official-client");
  const script = fs.readFileSync(NM + "/socket.io-client/dist/socket.io.js", "utf8");
  await evaluate(page, script + "\n;typeof io");
  const result = await evaluate(page, `new Promise((done) => {
    const r = { manager: typeof io.Manager }; // the real client exports its Manager
    setTimeout(() => done(Object.assign(r, { timedOut: true })), 8000);
    const socket = io(${JSON.stringify(url)}, { reconnection: false });
    socket.io.engine.on("upgrade", (t) => { r.upgraded = t.name; finish(); });
    // The transport the Engine.IO session opened on (the CONNECT answer may come before
    // or after the upgrade).
    socket.io.on("open", () => { r.first = socket.io.engine.transport.name; });
    if (socket.io.engine.readyState === "open") r.first = socket.io.engine.transport.name;
    socket.on("connect", () => {
      r.id = socket.id;
      socket.emit("hello", "wörld ✓", { n: 1 }, (...answer) => { r.ack = answer; finish(); });
      socket.emit("again", [1, 2, 3]);
    });
    socket.on("again", (...args) => { r.received = args; finish(); });
    function finish() {
      if (r.ack && r.received && r.upgraded) { socket.disconnect(); done(r); }
    }
  })`);
  out({ official: result });
}

async function cross() {
  const page = await openPage(url + "cross-origin-page");
  const script = fs.readFileSync(NM + "/socket.io-client/dist/socket.io.js", "utf8");
  await evaluate(page, script + "\n;typeof io");
  const result = await evaluate(page, `new Promise((done) => {
    const r = { origin: location.origin };
    setTimeout(() => done(Object.assign(r, { timedOut: true })), 5000);
    const socket = io(${JSON.stringify(other)}, { transports: ["polling"], reconnection: false });
    socket.on("connect_error", (e) => { r.error = String(e && e.message); socket.close(); done(r); });
    socket.on("connect", () => {
      r.connected = true;
      socket.emit("hello", 1, (...answer) => { r.ack = answer; socket.disconnect(); done(r); });
    });
  })`);
  out({ cross: result });
}

// netlab's own client script (/socket.io/socket.io.js) in a page of the server's origin
// against the echo app, on each transport alone: connect, emit with an ack, an event
// back, the namespace /custom over the same connection, and one that does not exist.
async function netlabClient() {
  const page = await openPage(url + "netlab-client");
  await evaluate(page, `new Promise((ok, no) => {
    const s = document.createElement("script");
    s.src = "/socket.io/socket.io.js";
    s.onload = ok;
    s.onerror = () => no(new Error("no script"));
    document.head.append(s);
  })`);
  for (const transports of [["polling"], ["websocket"]]) {
    const result = await evaluate(page, `new Promise((done) => {
      const r = { transports: ${JSON.stringify(transports)} };
      setTimeout(() => done(Object.assign(r, { timedOut: true })), 8000);
      const socket = io({ transports: r.transports });
      const custom = io("/custom", { transports: r.transports });
      const nope = io("/nope", { transports: r.transports });
      socket.on("connect", () => {
        r.id = socket.id;
        r.transport = socket.io.engine.transport;
        socket.emit("hello", "wörld ✓", { n: 1 }, (...answer) => { r.ack = answer; finish(); });
        socket.emit("again", [1, 2, 3]);
      });
      socket.on("again", (...args) => { r.received = args; finish(); });
      custom.on("connect", () => custom.emit("x", 7, (...a) => { r.custom = a; finish(); }));
      nope.on("connect_error", (e) => { r.refused = e.message; finish(); });
      function finish() {
        if (r.ack && r.received && r.custom && r.refused) {
          r.sameConnection = socket.io === custom.io;
          socket.disconnect(); custom.disconnect(); nope.disconnect();
          done(r);
        }
      }
    })`);
    out({ netlab: result });
  }
}

(async () => {
  const info = await (await fetch(`http://127.0.0.1:${devtools}/json/version`)).json();
  cdp = new WebSocket(info.webSocketDebuggerUrl, { perMessageDeflate: false });
  cdp.on("message", (m) => {
    const msg = JSON.parse(m);
    const w = waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    if (msg.error) w.no(new Error(w.method + ": " + JSON.stringify(msg.error)));
    else w.ok(msg.result);
  });
  await new Promise((ok, no) => {
    cdp.on("open", ok);
    cdp.on("error", no);
  });
  if (mode === "chat") await chat();
  else if (mode === "netlab") await netlabClient();
  else if (mode === "cross") await cross();
  else await official();
  out({ done: true });
  process.exit(0);
})().catch((e) => fail(String(e && e.stack || e)));
