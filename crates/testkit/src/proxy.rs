use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP proxy in front of a real server, to take that server "down" and bring it back without
/// touching the shared server itself: `stop` closes the port and cuts every open connection.
pub struct TcpProxy {
    listen: SocketAddr,
    target: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl TcpProxy {
    /// A proxy on a free local port, forwarding to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let listen = listener.local_addr().expect("proxy address");
        let proxy = Self { listen, target, tasks: Arc::new(Mutex::new(Vec::new())) };
        proxy.accept(listener);
        proxy
    }

    /// Resolves `host:port` of a URL like `mysql://root@127.0.0.1:3306/db` and proxies it.
    pub async fn for_url(url: &str) -> Self {
        let authority = url.split("://").nth(1).expect("url has a scheme");
        let host_port = authority.rsplit('@').next().expect("authority").split('/').next().expect("host:port");
        let target = tokio::net::lookup_host(host_port).await.expect("resolve target").next().expect("target address");
        Self::start(target).await
    }

    /// The URL with its host:port replaced by the proxy's.
    pub fn rewrite(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("url has a scheme");
        let (credentials, after) = match rest.rsplit_once('@') {
            Some((credentials, after)) => (format!("{credentials}@"), after),
            None => (String::new(), rest),
        };
        let path = after.find('/').map(|i| &after[i..]).unwrap_or("");
        format!("{scheme}://{credentials}{}{path}", self.listen)
    }

    /// Where the proxy listens.
    pub fn addr(&self) -> SocketAddr {
        self.listen
    }

    fn accept(&self, listener: TcpListener) {
        let (target, tasks) = (self.target, self.tasks.clone());
        let acceptor = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let pipe = tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(target).await {
                        let (mut inbound, mut outbound) = (inbound, outbound);
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().expect("proxy lock").push(pipe);
            }
        });
        self.tasks.lock().expect("proxy lock").push(acceptor);
    }

    /// The server is "down": the port refuses connections and open connections are cut.
    pub fn stop(&self) {
        for task in self.tasks.lock().expect("proxy lock").drain(..) {
            task.abort();
        }
    }

    /// The server is back on the same address.
    pub async fn resume(&self) {
        let listener = TcpListener::bind(self.listen).await.expect("rebind proxy port");
        self.accept(listener);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.stop();
    }
}
