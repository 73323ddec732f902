// A client on each of two netlab nodes (`--app broadcast --adapter ..`), driven from
// stdin by tests/socketio_adapter.rs while it stops and restarts Redis.
//
//   node socketio_adapter_loss.js URL_A URL_B
//
// Prints {"ready":true} once both clients are connected, then per line read:
//   all TAG  a1 (on A) emits "all", TAG: prints what a1 and b1 (on B) received
//   ask      a1 emits "ask": prints the answers collected from every node's clients
const M = process.env.NETLAB_NODE_MODULES || "/opt/netlab-peers/node_modules";
const ioc = require(M + "/socket.io-client");
const readline = require("readline");

const [urlA, urlB] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function client(name, url) {
  const socket = ioc(url, { transports: ["websocket"], forceNew: true, reconnection: false });
  const got = [];
  socket.on("message", (text) => got.push(text));
  socket.on("question", (_text, cb) => cb(name));
  return { name, socket, got, ready: new Promise((r, j) => { socket.on("connect", r); socket.on("connect_error", j); }) };
}

(async () => {
  const a1 = client("a1", urlA);
  const b1 = client("b1", urlB);
  await Promise.all([a1.ready, b1.ready]);
  out({ ready: true });
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const [command, tag] = line.trim().split(" ");
    if (command === "all") {
      a1.got.length = 0;
      b1.got.length = 0;
      const answer = await a1.socket.timeout(2000).emitWithAck("all", tag);
      await sleep(400);
      out({ step: line, answer, received: { a1: [...a1.got], b1: [...b1.got] } });
    } else if (command === "ask") {
      const answers = await a1.socket.timeout(5000).emitWithAck("ask", "who?");
      out({ step: line, answers });
    } else {
      break;
    }
  }
  a1.socket.close();
  b1.socket.close();
  setTimeout(() => process.exit(0), 100);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
