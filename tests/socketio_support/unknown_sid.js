// What the reference server (socket.io 4.8) answers to a polling request with a session id
// it never gave: one JSON line {"method":…,"status":N,"type":…,"body":"…"} for a GET and
// for a POST, for tests/socketio_sticky.rs to compare with netlab's answer.
const NM = process.env.NETLAB_NODE_MODULES || "/opt/netlab-peers/node_modules";
const { Server } = require(NM + "/socket.io");
const http = require("http");

const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const io = new Server(0, { serveClient: false });
const ask = (port, method) =>
  new Promise((resolve) => {
    const path = "/socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA";
    const req = http.request({ port, method, path }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => {
        out({ method, status: res.statusCode, type: res.headers["content-type"], body });
        resolve();
      });
    });
    req.end(method === "POST" ? "40" : undefined);
  });
io.httpServer.on("listening", async () => {
  const port = io.httpServer.address().port;
  await ask(port, "GET");
  await ask(port, "POST");
  io.close();
  process.exit(0);
});
