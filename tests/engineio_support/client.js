// The reference Engine.IO client (engine.io-client 6) against a server at argv[2],
// driven by the JSON plan in argv[3]. Prints one JSON line per thing that happens, for
// tests/engineio.rs to read:
//   {"event":"open","transport":"polling"}         the session is open
//   {"event":"upgrade","transport":"websocket"}    it moved to the WebSocket
//   {"event":"message","text":"…"} or {"event":"message","binary":[1,2,3]}
//   {"event":"close","reason":"…"}
// Plan: {"transports":["polling"], "upgrade":true, "send":[{"text":"hi"},{"binary":[1,2]}],
//        "resendAfterUpgrade":true, "answerPings":false, "expect":2}
// It closes the socket once `expect` messages have come back, and gives up after 10 s.
const NM = process.env.NETLAB_NODE_MODULES || "/opt/netlab-peers/node_modules";
const { Socket } = require(NM + "/engine.io-client");

const url = process.argv[2];
const plan = JSON.parse(process.argv[3] || "{}");
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

const socket = new Socket(url, {
  transports: plan.transports || ["polling", "websocket"],
  upgrade: plan.upgrade !== false,
});
if (plan.answerPings === false) {
  const send = socket._sendPacket.bind(socket);
  socket._sendPacket = (type, ...rest) => (type === "pong" ? undefined : send(type, ...rest));
}

const sendAll = () => {
  for (const m of plan.send || []) {
    socket.send("text" in m ? m.text : Uint8Array.from(m.binary));
  }
};

let got = 0;
socket.on("open", () => {
  out({ event: "open", transport: socket.transport.name });
  sendAll();
});
socket.on("upgrade", (t) => {
  out({ event: "upgrade", transport: t.name });
  if (plan.resendAfterUpgrade) sendAll();
});
socket.on("message", (data) => {
  // "4" (a message with empty text) reaches the application as `undefined`.
  if (data === undefined) out({ event: "message", text: "" });
  else if (typeof data === "string") out({ event: "message", text: data });
  else out({ event: "message", binary: Array.from(new Uint8Array(data)) });
  got += 1;
  if (plan.expect !== undefined && got >= plan.expect) socket.close();
});
socket.on("close", (reason) => {
  out({ event: "close", reason });
  // Give a close packet the client queued (in long-polling, a POST) time to leave.
  setTimeout(() => process.exit(0), 200);
});
setTimeout(() => {
  out({ event: "gave up" });
  process.exit(1);
}, plan.giveUpMs || 10000);
