//! Per-account outbound proxies: the WebSocket to wa-sim goes through a SOCKS5 proxy (with
//! username/password) or an HTTP CONNECT proxy. Both proxies are minimal test servers here that
//! count the tunnels they open.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prost::Message as _;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wa_client::{EventKind, Gateway};
use wa_protocol::payload::{login_payload, ClientIdentity};
use wa_protocol::signal::KeyPair;
use wa_sim::SimEvent;
use wa_store::{Account, AccountId, Durability, MemStore, ProxyConfig, Store};
use wa_testkit::raw::{RawOptions, RawSocket};
use wa_testkit::{client_config, start_sim, wait_for, AccountEvents};

const DEADLINE: Duration = Duration::from_secs(20);

/// A SOCKS5 server (RFC 1928/1929) accepting `user`/`pass` and IPv4 or domain targets.
async fn socks5_server(tunnels: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = listener.accept().await {
            let tunnels = Arc::clone(&tunnels);
            tokio::spawn(async move {
                let mut head = [0u8; 2];
                c.read_exact(&mut head).await.ok()?;
                let mut methods = vec![0u8; usize::from(head[1])];
                c.read_exact(&mut methods).await.ok()?;
                if !methods.contains(&2) {
                    c.write_all(&[5, 0xff]).await.ok()?;
                    return None;
                }
                c.write_all(&[5, 2]).await.ok()?;
                let mut v = [0u8; 2];
                c.read_exact(&mut v).await.ok()?;
                let mut user = vec![0u8; usize::from(v[1])];
                c.read_exact(&mut user).await.ok()?;
                let mut plen = [0u8; 1];
                c.read_exact(&mut plen).await.ok()?;
                let mut pass = vec![0u8; usize::from(plen[0])];
                c.read_exact(&mut pass).await.ok()?;
                let ok = user == b"user" && pass == b"pass";
                c.write_all(&[1, if ok { 0 } else { 1 }]).await.ok()?;
                if !ok {
                    return None;
                }
                let mut req = [0u8; 4];
                c.read_exact(&mut req).await.ok()?;
                let host = match req[3] {
                    1 => {
                        let mut ip = [0u8; 4];
                        c.read_exact(&mut ip).await.ok()?;
                        std::net::Ipv4Addr::from(ip).to_string()
                    }
                    3 => {
                        let mut len = [0u8; 1];
                        c.read_exact(&mut len).await.ok()?;
                        let mut name = vec![0u8; usize::from(len[0])];
                        c.read_exact(&mut name).await.ok()?;
                        String::from_utf8(name).ok()?
                    }
                    _ => return None,
                };
                let mut port = [0u8; 2];
                c.read_exact(&mut port).await.ok()?;
                let mut upstream = TcpStream::connect((host.as_str(), u16::from_be_bytes(port)))
                    .await
                    .ok()?;
                c.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).await.ok()?;
                tunnels.fetch_add(1, Ordering::SeqCst);
                tokio::io::copy_bidirectional(&mut c, &mut upstream)
                    .await
                    .ok()
            });
        }
    });
    addr
}

/// An HTTP CONNECT proxy.
async fn http_proxy(tunnels: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = listener.accept().await {
            let tunnels = Arc::clone(&tunnels);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    c.read_exact(&mut b).await.ok()?;
                    head.push(b[0]);
                }
                let head = String::from_utf8(head).ok()?;
                let target = head.strip_prefix("CONNECT ")?.split_whitespace().next()?;
                let mut upstream = TcpStream::connect(target).await.ok()?;
                c.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .ok()?;
                tunnels.fetch_add(1, Ordering::SeqCst);
                tokio::io::copy_bidirectional(&mut c, &mut upstream)
                    .await
                    .ok()
            });
        }
    });
    addr
}

#[tokio::test]
async fn handshake_through_socks5_and_http_connect() {
    let sim = start_sim(&[]).await;
    let mut events = sim.subscribe();
    let socks = Arc::new(AtomicUsize::new(0));
    let http = Arc::new(AtomicUsize::new(0));
    let socks_addr = socks5_server(Arc::clone(&socks)).await;
    let http_addr = http_proxy(Arc::clone(&http)).await;
    let mut rng = StdRng::seed_from_u64(1);
    let noise_key = KeyPair::generate(&mut rng);
    let payload = login_payload(&ClientIdentity::default(), 15_550_000_002, 1).encode_to_vec();
    for proxy in [
        format!("socks5://user:pass@{socks_addr}"),
        format!("http://{http_addr}"),
    ] {
        let opts = RawOptions {
            proxy: Some(proxy.parse().expect("proxy URL")),
            ..RawOptions::to_sim(&sim)
        };
        RawSocket::connect(&opts, &mut rng, &noise_key, &payload)
            .await
            .unwrap_or_else(|e| panic!("handshake through {proxy}: {e}"));
        wait_for(&mut events, DEADLINE, "ClientPayload", |e| {
            matches!(e, SimEvent::ClientPayload { .. }).then_some(())
        })
        .await
        .expect("the sim saw the handshake");
    }
    assert_eq!(socks.load(Ordering::SeqCst), 1);
    assert_eq!(http.load(Ordering::SeqCst), 1);

    let opts = RawOptions {
        proxy: Some(
            format!("socks5://user:wrong@{socks_addr}")
                .parse()
                .expect("url"),
        ),
        ..RawOptions::to_sim(&sim)
    };
    let err = RawSocket::connect(&opts, &mut rng, &noise_key, &payload)
        .await
        .err()
        .expect("refused");
    assert!(err.is_transient(), "{err}");
    assert!(
        !err.to_string().contains("wrong"),
        "no password in errors: {err}"
    );
}

#[tokio::test]
async fn an_accounts_proxy_setting_is_used() {
    let sim = start_sim(&[]).await;
    let tunnels = Arc::new(AtomicUsize::new(0));
    let socks_addr = socks5_server(Arc::clone(&tunnels)).await;
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let id = AccountId::generate(&mut StdRng::seed_from_u64(9));
    let mut account = Account::new(id, "proxied", "token-proxied", 0);
    account.proxy = ProxyConfig {
        enabled: true,
        url: format!("socks5://user:pass@{socks_addr}"),
    };
    store
        .create_account(&account, Durability::Durable)
        .expect("account");
    let gateway = Gateway::new(Arc::clone(&store), client_config(&sim));
    let mut events = AccountEvents::new(gateway.subscribe(), id);
    gateway.connect(&id).await.expect("starts");
    wait_for(&mut events, DEADLINE, "a QR code", |e| {
        matches!(e, EventKind::Qr { .. }).then_some(())
    })
    .await
    .expect("a QR arrives through the proxy");
    assert_eq!(tunnels.load(Ordering::SeqCst), 1);
    gateway.shutdown(DEADLINE).await;
}
