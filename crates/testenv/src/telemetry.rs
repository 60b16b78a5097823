//! A plain HTTP/1.1 client for the operator's telemetry endpoints on loopback (`/metrics`,
//! `/healthz`, `/readyz`), shared by the tests and the benchmarks.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// GET `path` at `address`: the status code and the body.
pub async fn get(address: std::net::SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}
