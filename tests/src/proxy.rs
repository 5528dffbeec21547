//! A TCP proxy a test can cut: the worker reaches S3 through it, so an S3
//! outage can be staged without disturbing the LocalStack other tests use.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct Proxy {
    pub addr: SocketAddr,
    down: Arc<AtomicBool>,
    /// Cancelled (and replaced) to cut every open connection.
    cut: Arc<std::sync::Mutex<CancellationToken>>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let proxy = Proxy {
            addr: listener.local_addr().unwrap(),
            down: Arc::new(AtomicBool::new(false)),
            cut: Arc::new(std::sync::Mutex::new(CancellationToken::new())),
        };
        let p = proxy.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if p.down.load(Ordering::SeqCst) {
                    drop(inbound); // refused, as far as the client can tell
                    continue;
                }
                let cut = p.cut.lock().unwrap().clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.cancelled() => {}
                    }
                });
            }
        });
        proxy
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Drops every connection and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        let mut guard = self.cut.lock().unwrap();
        guard.cancel();
        *guard = CancellationToken::new();
    }

    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}
