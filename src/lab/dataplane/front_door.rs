//! The anycast front door: each new connection goes to the metro whose route the
//! upstream BIRD prefers at that moment, and dies if there is none, as traffic to a
//! withdrawn prefix would. Answers "which metro does a connection to the anycast
//! address reach?"

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

use super::lock;
use crate::bird::BirdClient;

/// How long the front door trusts the upstream's answer: short, so that a connection
/// made just after the best path moved follows it (as a router's forwarding table would
/// within milliseconds), while a burst of connections asks BIRD at most 100 times a
/// second.
const ROUTE_CACHE: Duration = Duration::from_millis(10);

/// Which metro's app server the upstream's best path leads to, asked of its BIRD.
pub(super) struct Router {
    pub(super) upstream: tokio::sync::Mutex<BirdClient>,
    pub(super) prefix: String,
    /// Upstream protocol name -> the metro's app server.
    pub(super) routes: Mutex<Vec<(String, SocketAddr)>>,
    pub(super) cache: Mutex<Option<(Instant, Option<SocketAddr>)>>,
}

impl Router {
    async fn best(&self) -> Option<SocketAddr> {
        if let Some((at, best)) = *lock(&self.cache) {
            if at.elapsed() < ROUTE_CACHE {
                return best;
            }
        }
        let mut client = self.upstream.lock().await;
        // Another connection may have refreshed it while this one waited.
        if let Some((at, best)) = *lock(&self.cache) {
            if at.elapsed() < ROUTE_CACHE {
                return best;
            }
        }
        let best = match client.show_route_for(&self.prefix, false).await {
            Ok(routes) => routes.iter().find(|r| r.best).and_then(|r| {
                lock(&self.routes)
                    .iter()
                    .find(|(p, _)| *p == r.protocol)
                    .map(|(_, addr)| *addr)
            }),
            Err(_) => None,
        };
        *lock(&self.cache) = Some((Instant::now(), best));
        best
    }
}

pub(super) async fn front_door(listener: TcpListener, router: Arc<Router>) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let router = router.clone();
        tokio::spawn(async move {
            // No route: the connection dies, as traffic to a withdrawn prefix would.
            let Some(addr) = router.best().await else {
                return;
            };
            let Ok(mut server) = TcpStream::connect(addr).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        });
    }
}
