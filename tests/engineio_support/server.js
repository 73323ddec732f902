// The reference Engine.IO server (engine.io 6) as an echo server on 127.0.0.1, port 0,
// with the settings of argv[2] (JSON: pingInterval, pingTimeout, maxHttpBufferSize).
// Prints {"port":N} once listening; every message goes back to its sender.
const NM = process.env.NETLAB_NODE_MODULES || "/opt/netlab-peers/node_modules";
const eio = require(NM + "/engine.io");
const http = require("http");

const opts = JSON.parse(process.argv[2] || "{}");
const server = http.createServer();
const engine = eio.attach(server, opts);
engine.on("connection", (socket) => socket.on("message", (m) => socket.send(m)));
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
// Ends with its parent's stdin (the test), or after a minute.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
setTimeout(() => process.exit(0), 60000);
