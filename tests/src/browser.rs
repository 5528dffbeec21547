//! Headless Debian Chromium driven over the DevTools protocol (CDP), raw
//! JSON over its WebSocket: enough to let a page download a file and see
//! what the browser saved.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// `HAUL_CHROMIUM`, else `chromium` on PATH. Missing is a test failure, not
/// a skip: CI installs it (scripts/test.sh).
pub fn chromium_path() -> PathBuf {
    if let Some(path) = std::env::var_os("HAUL_CHROMIUM") {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromium"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "Chromium is not installed: the browser download test needs Debian's `chromium` \
             (`apt-get install -y chromium chromium-driver`; scripts/test.sh installs it), \
             or HAUL_CHROMIUM pointing at a Chromium binary"
        )
    })
}

pub struct Browser {
    child: Child,
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Events that arrived while waiting for a command's answer.
    events: VecDeque<Value>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts headless Chromium with a fresh profile and connects to it.
    pub async fn launch() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(chromium_path())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium_path().display()));

        // Chromium prints "DevTools listening on ws://…" once it is ready.
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = Vec::new();
        let ws_url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = stderr.next_line().await {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    return Some(url.trim().to_string());
                }
                seen.push(line);
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("Chromium did not start its DevTools endpoint: {seen:#?}"));
        // Keep draining stderr so Chromium never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });

        let (ws, _) = connect_async(ws_url.as_str())
            .await
            .expect("connect to Chromium's DevTools WebSocket");
        Browser {
            child,
            ws,
            next_id: 0,
            events: VecDeque::new(),
            _profile: profile,
        }
    }

    /// Sends a browser-level command and returns its result.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.call_in(None, method, params).await
    }

    /// Sends a command to a page's session (or the browser's, with None).
    pub async fn call_in(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            msg["sessionId"] = json!(session);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .await
            .expect("send to Chromium");
        loop {
            let msg = self.receive().await;
            if msg["id"] == id {
                if let Some(err) = msg.get("error") {
                    panic!("{method} failed: {err}");
                }
                return msg["result"].clone();
            }
            if msg.get("method").is_some() {
                self.events.push_back(msg);
            }
        }
    }

    /// The next event named `method` whose params satisfy `check`.
    pub async fn event(&mut self, method: &str, check: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self
            .events
            .iter()
            .position(|e| e["method"] == method && check(&e["params"]))
        {
            return self.events.remove(i).unwrap()["params"].clone();
        }
        loop {
            let msg = self.receive().await;
            if msg["method"] == method && check(&msg["params"]) {
                return msg["params"].clone();
            }
            if msg.get("method").is_some() {
                self.events.push_back(msg);
            }
        }
    }

    async fn receive(&mut self) -> Value {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(&text).expect("CDP messages are JSON");
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("Chromium's DevTools connection failed: {e}"),
                None => panic!("Chromium closed its DevTools connection"),
            }
        }
    }

    /// Lets pages save downloads into `dir` under their suggested names
    /// and report progress as `Browser.downloadWillBegin/Progress` events.
    pub async fn allow_downloads(&mut self, dir: &Path) {
        self.call(
            "Browser.setDownloadBehavior",
            json!({
                "behavior": "allow",
                "downloadPath": dir.to_str().unwrap(),
                "eventsEnabled": true,
            }),
        )
        .await;
    }

    /// Opens `url` in a new tab, as pasting it into the address bar does.
    pub async fn open(&mut self, url: &str) {
        self.call("Target.createTarget", json!({"url": url})).await;
    }

    /// Opens `url` in a new tab and attaches to it; returns the session id
    /// that [`Browser::evaluate`] takes.
    pub async fn open_page(&mut self, url: &str) -> String {
        let target = self.call("Target.createTarget", json!({"url": url})).await;
        let attached = self
            .call(
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        attached["sessionId"].as_str().unwrap().to_string()
    }

    /// Runs `expression` in the page and returns its value (awaiting a
    /// promise); a JavaScript exception fails the test.
    pub async fn evaluate(&mut self, session: &str, expression: &str) -> Value {
        let result = self
            .call_in(
                Some(session),
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("JavaScript failed: {exception}\n{expression}");
        }
        result["result"]["value"].clone()
    }

    /// Evaluates `expression` until it gives something other than null,
    /// false, "" or an empty array (for up to a minute).
    pub async fn wait_for(&mut self, session: &str, expression: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let value = self.evaluate(session, expression).await;
            let empty = value.is_null()
                || value == Value::Bool(false)
                || value.as_str() == Some("")
                || value.as_array().is_some_and(|a| a.is_empty());
            if !empty {
                return value;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the page never satisfied: {expression}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits for the next download to finish; returns the name the browser
    /// chose and the saved file's path.
    pub async fn finished_download(&mut self, dir: &Path) -> (String, PathBuf) {
        let begin = self.event("Browser.downloadWillBegin", |_| true).await;
        let guid = begin["guid"].as_str().unwrap().to_string();
        let name = begin["suggestedFilename"].as_str().unwrap().to_string();
        let done = self
            .event("Browser.downloadProgress", |p| {
                p["guid"] == guid.as_str() && p["state"] != "inProgress"
            })
            .await;
        assert_eq!(done["state"], "completed", "download of {name}: {done}");
        (name.clone(), dir.join(name))
    }

    pub async fn close(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
