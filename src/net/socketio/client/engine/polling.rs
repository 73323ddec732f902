//! Long-polling: a poller task keeps one GET waiting on the server; POSTs go out on a
//! second connection; the upgrade probes a WebSocket beside them and, once the server
//! answered `3probe`, pauses the poller (the server releases its GET with a noop) and
//! sends `5` on the WebSocket.

use super::*;

impl Session {
    /// Run a polling session until it ends.
    pub(super) async fn polling(
        &self,
        conn: HttpConn,
        info: OpenInfo,
        mut cmds: mpsc::Receiver<EngineCmd>,
        mut deadline: Instant,
    ) {
        let pause = Arc::new(AtomicBool::new(false));
        let (poll_tx, mut polls) = mpsc::channel(16);
        let poller = tokio::spawn(poll_loop(
            PollerCtx {
                conn,
                cfg: self.cfg.clone(),
                sid: info.sid.clone(),
                t: self.t.clone(),
                pause: pause.clone(),
                limit: ping_deadline(info.ping_interval, info.ping_timeout) + SLACK,
            },
            poll_tx,
        ));
        let upgrade = self.cfg.transport == TransportChoice::PollingThenUpgrade
            && info.upgrades.iter().any(|u| u == "websocket");
        let mut probe: Option<Probe> = upgrade.then(|| self.probe(&info.sid));
        let mut probed: Option<WsConnection> = None;
        let mut held: Vec<EngineMessage> = Vec::new();
        let mut post: Option<HttpConn> = None;
        let end = loop {
            tokio::select! {
                p = polls.recv() => match p {
                    Some(Poll::Body { packets, carrier }) => {
                        if let Some(end) = self.polled(packets, &carrier, &mut post, &info, &mut deadline).await {
                            break end;
                        }
                    }
                    Some(Poll::Failed { reason, detail }) => break (reason, Some(detail)),
                    Some(Poll::Paused) | None => match probed.take() {
                        Some(ws) => {
                            poller.abort();
                            return self.upgraded(ws, held, cmds, deadline).await;
                        }
                        None => break (CloseReason::TransportError, Some("the poll stopped".into())),
                    },
                },
                c = cmds.recv() => match c {
                    Some(EngineCmd::Send(ms)) if probed.is_some() => held.extend(ms),
                    Some(EngineCmd::Send(ms)) => {
                        let mut packets: Vec<Packet> = ms.into_iter().map(packet_of).collect();
                        // What else is queued goes in the same body. A close goes in a
                        // POST of its own once this one is answered, as engine.io-client
                        // waits for its buffer to drain: the reference server handles the
                        // close before the Socket.IO packets of the same body.
                        let mut closing = false;
                        while packets.len() < 256 && !closing {
                            match cmds.try_recv() {
                                Ok(EngineCmd::Send(more)) => packets.extend(more.into_iter().map(packet_of)),
                                Ok(EngineCmd::Close) => closing = true,
                                Err(_) => break,
                            }
                        }
                        if let Err(e) = self.post(&mut post, &info.sid, &packets).await {
                            break (CloseReason::TransportError, Some(e.to_string()));
                        }
                        if closing {
                            let _ = self.post(&mut post, &info.sid, &[Packet::Close]).await;
                            break (CloseReason::ClientDisconnect, None);
                        }
                    }
                    Some(EngineCmd::Close) | None => {
                        if let Some(mut ws) = probed.take() {
                            ws.close(CloseCode(1000), "").await;
                        }
                        let _ = self.post(&mut post, &info.sid, &[Packet::Close]).await;
                        break (CloseReason::ClientDisconnect, None);
                    }
                },
                r = async { probe.as_mut().expect("guarded").await }, if probe.is_some() => {
                    probe = None;
                    match r {
                        Ok(Ok(ws)) => {
                            probed = Some(ws);
                            pause.store(true, Ordering::Relaxed);
                        }
                        // socket.io-client stays on polling when the probe fails.
                        Ok(Err(why)) => self.trace(false, String::new(), format!("the upgrade failed: {why}")).await,
                        Err(_) => {}
                    }
                }
                () = sleep_until(deadline) => break (CloseReason::PingTimeout, None),
            }
        };
        poller.abort();
        self.closed(end.0, end.1).await;
    }

    /// Handle the packets of one GET's answer; `Some` when the session ends.
    async fn polled(
        &self,
        packets: Vec<Packet>,
        carrier: &str,
        post: &mut Option<HttpConn>,
        info: &OpenInfo,
        deadline: &mut Instant,
    ) -> Option<(CloseReason, Option<String>)> {
        for p in packets {
            self.trace(false, p.to_text(), carrier.to_owned()).await;
            match p {
                Packet::Ping(data) => {
                    *deadline = self.ping_due();
                    if let Err(e) = self.post(post, &info.sid, &[Packet::Pong(data)]).await {
                        return Some((CloseReason::TransportError, Some(e.to_string())));
                    }
                }
                Packet::Close => return Some((CloseReason::TransportClose, None)),
                Packet::Message(Message::Text(t)) => {
                    self.emit(EngineEvent::Message(EngineMessage::Text(t)))
                        .await
                }
                Packet::Message(Message::Binary(b)) => {
                    self.emit(EngineEvent::Message(EngineMessage::Binary(b)))
                        .await
                }
                Packet::Open(_) | Packet::Pong(_) | Packet::Upgrade | Packet::Noop => {}
            }
        }
        None
    }

    /// POST `packets` as one body, on the POST connection (opened again when the
    /// server closed an idle one).
    async fn post(
        &self,
        conn: &mut Option<HttpConn>,
        sid: &str,
        packets: &[Packet],
    ) -> Result<(), ClientError> {
        let body = encode_payload(packets);
        let target = target(
            &self.cfg.path,
            Transport::Polling,
            Some(sid),
            Some(self.next_t()),
        );
        let request = self.request("POST", &target, &body);
        let limit = self.cfg.ws.handshake_timeout;
        let mut answer = None;
        for _ in 0..2 {
            let mut c = match conn.take() {
                Some(c) => c,
                None => self.connect_http().await?,
            };
            if c.write_all(&request).await.is_err() {
                continue;
            }
            match read_response(&mut c, limit, self.cfg.limits.max_bytes).await {
                Ok(r) => {
                    *conn = Some(c);
                    answer = Some(r);
                    break;
                }
                Err(HttpError::Closed(_)) | Err(HttpError::Io(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let r = answer.ok_or(ClientError::Http(HttpError::Closed(
            "before answering a POST",
        )))?;
        let carrier = format!("POST {target} ({} bytes) → {}", body.len(), r.head.status);
        for p in packets {
            self.trace(true, p.to_text(), carrier.clone()).await;
        }
        if r.head.status != 200 {
            return Err(ClientError::Refused {
                status: r.head.status,
                body: String::from_utf8_lossy(&r.body).into_owned(),
            });
        }
        Ok(())
    }

    /// Open a WebSocket for the session and send `2probe`; the answer comes back on the
    /// channel (the probe runs beside the polling).
    fn probe(&self, sid: &str) -> Probe {
        let (tx, rx) = oneshot::channel();
        let url = WsUrl {
            host: self.cfg.host.clone(),
            port: self.cfg.port,
            resource: target(&self.cfg.path, Transport::WebSocket, Some(sid), None),
        };
        let cfg = self.cfg.ws.clone();
        let events = self.events.clone();
        tokio::spawn(async move {
            let r = probe_ws(url, cfg, events).await;
            let _ = tx.send(r);
        });
        rx
    }
}

async fn probe_ws(
    url: WsUrl,
    cfg: WsConfig,
    events: mpsc::Sender<EngineEvent>,
) -> Result<WsConnection, String> {
    let limit = cfg.handshake_timeout;
    let mut ws = ws::connect(&url, cfg, &[])
        .await
        .map_err(|e| e.error.to_string())?;
    let trace = |outgoing: bool, packet: &str| {
        EngineEvent::Trace(Carried {
            outgoing,
            packet: packet.to_owned(),
            carrier: frame_carrier(MessageKind::Text, packet.len()),
        })
    };
    ws.send(&WsMessage::text("2probe"))
        .await
        .map_err(|e| e.to_string())?;
    let _ = events.send(trace(true, "2probe")).await;
    match timeout(limit, ws.recv()).await {
        Ok(Ok(Received::Message(m))) if m.payload == b"3probe" => {
            let _ = events.send(trace(false, "3probe")).await;
            Ok(ws)
        }
        Ok(Ok(other)) => Err(format!("the server answered the probe with {other:?}")),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer to the probe".into()),
    }
}

/// What the poller needs.
struct PollerCtx {
    conn: HttpConn,
    cfg: EngineConfig,
    sid: String,
    t: Arc<AtomicU64>,
    pause: Arc<AtomicBool>,
    limit: Duration,
}

/// GET after GET until paused or failed.
async fn poll_loop(mut ctx: PollerCtx, out: mpsc::Sender<Poll>) {
    let host = format!("{}:{}", ctx.cfg.host, ctx.cfg.port);
    loop {
        if ctx.pause.load(Ordering::Relaxed) {
            let _ = out.send(Poll::Paused).await;
            return;
        }
        let t = ctx.t.fetch_add(1, Ordering::Relaxed);
        let target = target(&ctx.cfg.path, Transport::Polling, Some(&ctx.sid), Some(t));
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n"
        );
        let poll = match get(&mut ctx, request.as_bytes()).await {
            Ok(r) if r.head.status != 200 => Poll::Failed {
                reason: CloseReason::TransportError,
                detail: format!(
                    "GET {target} answered {}: {}",
                    r.head.status,
                    String::from_utf8_lossy(&r.body)
                ),
            },
            Ok(r) => match decode_payload(&r.body, ctx.cfg.limits) {
                Ok(packets) => Poll::Body {
                    packets,
                    carrier: format!("GET {target} → 200 ({} bytes)", r.body.len()),
                },
                Err(e) => Poll::Failed {
                    reason: CloseReason::ParseError,
                    detail: e.to_string(),
                },
            },
            Err(e) => Poll::Failed {
                reason: CloseReason::TransportError,
                detail: e.to_string(),
            },
        };
        let failed = matches!(poll, Poll::Failed { .. });
        if out.send(poll).await.is_err() || failed {
            return;
        }
    }
}

async fn get(ctx: &mut PollerCtx, request: &[u8]) -> Result<Response, HttpError> {
    ctx.conn.write_all(request).await?;
    read_response(&mut ctx.conn, ctx.limit, ctx.cfg.limits.max_bytes).await
}
