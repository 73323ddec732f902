//! `netlab ws autobahn`: the Autobahn|Testsuite client protocol (fuzzingserver mode).
//!
//! 1. `/getCaseCount` answers with one text message: the number of cases.
//! 2. For each case N, `/runCase?case=N&agent=A`: echo every message until the close.
//! 3. `/updateReports?agent=A` makes the suite write its reports.

use crate::cli::ws::AutobahnArgs;
use crate::error::{usage, HintExt};
use crate::net::ws::{self, AfterReceipt, Received, WsConfig, WsUrl};
use crate::output::{Output, Render, Style};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Plan {
    pub base: WsUrl,
    pub agent: String,
}

impl TryFrom<AutobahnArgs> for Plan {
    type Error = anyhow::Error;
    fn try_from(a: AutobahnArgs) -> anyhow::Result<Plan> {
        let base = a
            .url
            .parse()
            .map_err(|e: String| usage(e, "for example ws://127.0.0.1:9011"))?;
        if a.agent.is_empty()
            || !a
                .agent
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(usage(
                "--agent must be letters, digits, - _ or .",
                "for example netlab",
            ));
        }
        Ok(Plan {
            base,
            agent: a.agent,
        })
    }
}

#[derive(Debug, Serialize)]
pub struct CaseDone {
    pub case: u32,
    pub echoed: u64,
    pub close_code: Option<u16>,
    pub error: Option<String>,
}

impl Render for CaseDone {
    fn render_human(&self, _: &Style) -> String {
        format!(
            "case {:>3}: echoed {} message(s), close {}{}",
            self.case,
            self.echoed,
            self.close_code.map_or("-".into(), |c| c.to_string()),
            self.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        )
    }
}

#[derive(Debug, Serialize)]
pub struct AutobahnReport {
    pub cases: u32,
    pub reports_updated: bool,
}

impl Render for AutobahnReport {
    fn render_human(&self, _: &Style) -> String {
        format!(
            "ran {} case(s); reports updated: {}",
            self.cases, self.reports_updated
        )
    }
}

fn url(base: &WsUrl, resource: String) -> WsUrl {
    WsUrl {
        resource,
        ..base.clone()
    }
}

fn cfg() -> WsConfig {
    WsConfig {
        max_message: 64 << 20,
        handshake_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        close_timeout: Duration::from_secs(5),
        // Cases 12.* and 13.* test permessage-deflate (RFC 7692).
        offer_deflate: true,
        ..WsConfig::default()
    }
}

/// Echo everything until the connection ends; returns (messages echoed, close code seen).
async fn echo(mut conn: ws::WsConnection) -> (u64, Option<u16>, Option<String>) {
    let mut echoed = 0;
    loop {
        let r = match conn.recv().await {
            Ok(r) => r,
            Err(e) => return (echoed, None, Some(e.to_string())),
        };
        if let Received::Message(m) = &r {
            if let Err(e) = conn.send(m).await {
                return (echoed, None, Some(e.to_string()));
            }
            echoed += 1;
        }
        let code = match &r {
            Received::Close(c) => c.code.map(|c| c.0),
            Received::Violation(e) => Some(e.close_code().0),
            _ => None,
        };
        match conn.respond(&r).await {
            Ok(AfterReceipt::Continue) => {}
            Ok(AfterReceipt::Closed) => return (echoed, code, None),
            Err(e) => return (echoed, code, Some(e.to_string())),
        }
    }
}

pub async fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    let hint = "start the suite first: ../shared/tools/autobahn/run-fuzzingserver.sh (see .ci/autobahn.sh)";
    let mut conn = ws::connect(&url(&plan.base, "/getCaseCount".into()), cfg(), &[])
        .await
        .hinted(
            format!("could not reach the fuzzing server at {}", plan.base),
            hint,
        )?;
    let mut count = None;
    while count.is_none() {
        let r = conn.recv().await.failed("reading the case count")?;
        if let Received::Message(m) = &r {
            count = m.as_text().and_then(|t| t.trim().parse::<u32>().ok());
        }
        if conn.respond(&r).await.failed("reading the case count")? == AfterReceipt::Closed {
            break;
        }
    }
    let count = count.ok_or_else(|| anyhow::anyhow!("the fuzzing server sent no case count"))?;
    for case in 1..=count {
        let u = url(
            &plan.base,
            format!("/runCase?case={case}&agent={}", plan.agent),
        );
        let done = match ws::connect(&u, cfg(), &[]).await {
            Ok(conn) => {
                let (echoed, close_code, error) = echo(conn).await;
                CaseDone {
                    case,
                    echoed,
                    close_code,
                    error,
                }
            }
            Err(e) => CaseDone {
                case,
                echoed: 0,
                close_code: None,
                error: Some(e.to_string()),
            },
        };
        out.event(&done)?;
    }
    let u = url(&plan.base, format!("/updateReports?agent={}", plan.agent));
    let reports_updated = match ws::connect(&u, cfg(), &[]).await {
        Ok(conn) => {
            echo(conn).await;
            true
        }
        Err(_) => false,
    };
    out.report(&AutobahnReport {
        cases: count,
        reports_updated,
    })?;
    Ok(())
}
