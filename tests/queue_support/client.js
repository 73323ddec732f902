// socket.io-client 4 (the real one) against `netlab queue serve`, for tests/queue.rs.
// argv[2]: the broker's URL. It publishes three messages to `node-topic` (each with an
// ack, printing {"acked": answer}), then subscribes as group `node-group` from the
// earliest, prints {"message": m} for each message and acknowledges it; after three it
// asks for the status (printing {"status": answer}) and exits. It exits 1 after 15 s.
const NM = process.env.NETLAB_NODE_MODULES || "/opt/netlab-peers/node_modules";
const { io } = require(NM + "/socket.io-client");

const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
setTimeout(() => { out({ error: "timed out" }); process.exit(1); }, 15000);

const socket = io(process.argv[2] + "/queue", { transports: ["websocket"] });
socket.on("connect", async () => {
  for (const value of ["one", "two", "three"]) {
    const answer = await socket.emitWithAck("publish", { topic: "node-topic", key: "k", value });
    out({ acked: answer });
  }
  let seen = 0;
  socket.on("message", async (m) => {
    out({ message: m });
    socket.emit("ack", { partition: m.partition, offset: m.offset });
    seen += 1;
    if (seen === 3) {
      out({ status: await socket.emitWithAck("status", {}) });
      socket.disconnect();
      process.exit(0);
    }
  });
  out({ subscribed: await socket.emitWithAck("subscribe", { topic: "node-topic", group: "node-group", from: "earliest" }) });
});
