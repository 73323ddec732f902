//! The WebSocket transport: one Engine.IO packet per frame (a binary message is a binary
//! frame holding the bytes themselves), the pong answered here.

use super::*;

impl Session {
    /// Finish the upgrade: `5` on the WebSocket, then what was held during the pause,
    /// then the WebSocket only.
    pub(super) async fn upgraded(
        &self,
        mut ws: WsConnection,
        held: Vec<EngineMessage>,
        cmds: mpsc::Receiver<EngineCmd>,
        deadline: Instant,
    ) {
        let mut out = vec![Packet::Upgrade];
        out.extend(held.into_iter().map(packet_of));
        if let Err(e) = self.send_ws(&mut ws, out).await {
            return self.closed(CloseReason::TransportError, Some(e)).await;
        }
        self.emit(EngineEvent::Upgraded).await;
        self.websocket(ws, cmds, deadline).await;
    }

    async fn send_ws(&self, ws: &mut WsConnection, packets: Vec<Packet>) -> Result<(), String> {
        for p in packets {
            let frame = match p.to_frame() {
                Message::Text(t) => WsMessage::text(t),
                Message::Binary(b) => WsMessage::binary(b),
            };
            let shown = match &p {
                Packet::Message(Message::Binary(b)) => format!("<{} bytes>", b.len()),
                p => p.to_text(),
            };
            ws.send(&frame).await.map_err(|e| e.to_string())?;
            let carrier = frame_carrier(frame.kind, frame.payload.len());
            self.trace(true, shown, carrier).await;
        }
        Ok(())
    }

    /// Run a WebSocket session until it ends.
    pub(super) async fn websocket(
        &self,
        mut ws: WsConnection,
        mut cmds: mpsc::Receiver<EngineCmd>,
        mut deadline: Instant,
    ) {
        let (reason, detail) = loop {
            tokio::select! {
                r = ws.recv() => {
                    let m = match r {
                        Ok(Received::Message(m)) => m,
                        Ok(Received::Ping(_) | Received::Pong(_)) => continue,
                        Ok(Received::Close(_) | Received::Eof) => break (CloseReason::TransportClose, None),
                        Ok(Received::Violation(e)) => break (CloseReason::TransportError, Some(e.to_string())),
                        Err(e) => break (CloseReason::TransportError, Some(e.to_string())),
                    };
                    let carrier = frame_carrier(m.kind, m.payload.len());
                    let message = match m.kind {
                        MessageKind::Binary => Message::Binary(m.payload),
                        MessageKind::Text => match String::from_utf8(m.payload) {
                            Ok(t) => Message::Text(t),
                            Err(_) => break (CloseReason::ParseError, Some("a text frame that is not UTF-8".into())),
                        },
                    };
                    let packet = match Packet::from_frame(&message) {
                        Ok(p) => p,
                        Err(e) => break (CloseReason::ParseError, Some(e.to_string())),
                    };
                    let shown = match &packet {
                        Packet::Message(Message::Binary(b)) => format!("<{} bytes>", b.len()),
                        p => p.to_text(),
                    };
                    self.trace(false, shown, carrier).await;
                    match packet {
                        Packet::Ping(data) => {
                            deadline = self.ping_due();
                            if let Err(e) = self.send_ws(&mut ws, vec![Packet::Pong(data)]).await {
                                break (CloseReason::TransportError, Some(e));
                            }
                        }
                        Packet::Close => break (CloseReason::TransportClose, None),
                        Packet::Message(Message::Text(t)) => self.emit(EngineEvent::Message(EngineMessage::Text(t))).await,
                        Packet::Message(Message::Binary(b)) => self.emit(EngineEvent::Message(EngineMessage::Binary(b))).await,
                        Packet::Open(_) | Packet::Pong(_) | Packet::Upgrade | Packet::Noop => {}
                    }
                }
                c = cmds.recv() => match c {
                    Some(EngineCmd::Send(ms)) => {
                        if let Err(e) = self.send_ws(&mut ws, ms.into_iter().map(packet_of).collect()).await {
                            break (CloseReason::TransportError, Some(e));
                        }
                    }
                    Some(EngineCmd::Close) | None => {
                        ws.close(CloseCode(1000), "").await;
                        break (CloseReason::ClientDisconnect, None);
                    }
                },
                () = sleep_until(deadline) => break (CloseReason::PingTimeout, None),
            }
        };
        self.closed(reason, detail).await;
    }
}
