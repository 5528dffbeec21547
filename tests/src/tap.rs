//! A TCP proxy that records what clients send and can end each connection
//! after a number of response bytes: put in front of S3 as the presigned
//! URLs' host, it interrupts a download mid-body and shows the `Range`
//! header of the retry.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How much of each request a tap keeps (the head is what tests look at).
const KEEP_REQUEST_BYTES: usize = 16 * 1024;
const NO_LIMIT: u64 = u64::MAX;

#[derive(Clone)]
pub struct Tap {
    pub addr: SocketAddr,
    /// Response bytes each connection may carry before it is closed.
    limit: Arc<AtomicU64>,
    response_bytes: Arc<AtomicU64>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Tap {
    pub async fn start(target: SocketAddr) -> Tap {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind tap");
        let tap = Tap {
            addr: listener.local_addr().unwrap(),
            limit: Arc::new(AtomicU64::new(NO_LIMIT)),
            response_bytes: Arc::new(AtomicU64::new(0)),
            requests: Arc::new(Mutex::new(Vec::new())),
        };
        let t = tap.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let t = t.clone();
                tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(target).await {
                        t.relay(inbound, outbound).await;
                    }
                });
            }
        });
        tap
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections opened from now on close after `bytes` response bytes
    /// (None: no limit).
    pub fn limit_responses(&self, bytes: Option<u64>) {
        self.limit
            .store(bytes.unwrap_or(NO_LIMIT), Ordering::SeqCst);
    }

    /// Response bytes relayed to clients so far, over all connections.
    pub fn response_bytes(&self) -> u64 {
        self.response_bytes.load(Ordering::SeqCst)
    }

    /// The start of what each connection's client sent, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    async fn relay(&self, inbound: TcpStream, outbound: TcpStream) {
        let index = {
            let mut requests = self.requests.lock().unwrap();
            requests.push(String::new());
            requests.len() - 1
        };
        let limit = self.limit.load(Ordering::SeqCst);
        let (mut client_rd, mut client_wr) = inbound.into_split();
        let (mut server_rd, mut server_wr) = outbound.into_split();
        let requests = self.requests.clone();
        let upstream = async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match client_rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                {
                    let mut requests = requests.lock().unwrap();
                    let kept = &mut requests[index];
                    if kept.len() < KEEP_REQUEST_BYTES {
                        kept.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
                if server_wr.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        };
        let counter = self.response_bytes.clone();
        let downstream = async move {
            let mut buf = vec![0u8; 16 * 1024];
            let mut left = limit;
            while left > 0 {
                let n = match server_rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n.min(usize::try_from(left).unwrap_or(usize::MAX)),
                };
                if client_wr.write_all(&buf[..n]).await.is_err() {
                    break;
                }
                counter.fetch_add(n as u64, Ordering::SeqCst);
                left -= n as u64;
            }
            // Limit reached or server done: close the client's side.
            let _ = client_wr.shutdown().await;
        };
        // Whichever direction ends first ends the connection.
        tokio::select! {
            _ = upstream => {}
            _ = downstream => {}
        }
    }
}
