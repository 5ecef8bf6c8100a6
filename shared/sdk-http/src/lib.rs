//! The AWS SDK's HTTPS client, on the same `reqwest` (HTTP/1.1, rustls on ring, Mozilla's
//! roots compiled in) the channels already use for Meta, the voice platforms and the
//! mailboxes: one HTTP stack per binary instead of two, no HTTP/2 (the SDK's own client
//! brings `h2`), and no certificate directory read at start (docs/performance.md, F2 and
//! F3). Every Lambda, the local runtime and the moto-backed tests use it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt;

/// The HTTPS client every SDK client shares.
pub fn http_client() -> SharedHttpClient {
    SharedHttpClient::new(SdkHttpClient::default())
}

/// The SDK's HTTP client on `reqwest`: one pooled `reqwest::Client` per distinct pair of
/// timeouts the SDK asks for (in practice one), built on first use.
#[derive(Debug, Default)]
pub struct SdkHttpClient {
    clients: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

type Timeouts = (Option<Duration>, Option<Duration>);

impl HttpClient for SdkHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = (settings.connect_timeout(), settings.read_timeout());
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients
            .entry(timeouts)
            .or_insert_with(|| SharedHttpConnector::new(Connector::new(timeouts)))
            .clone()
    }
}

#[derive(Debug, Clone)]
struct Connector {
    client: Option<reqwest::Client>,
}

impl Connector {
    fn new((connect, read): Timeouts) -> Self {
        let mut builder = reqwest::Client::builder()
            .http1_only()
            .pool_idle_timeout(Duration::from_secs(50));
        if let Some(connect) = connect {
            builder = builder.connect_timeout(connect);
        }
        if let Some(read) = read {
            builder = builder.read_timeout(read);
        }
        // Building fails only when the TLS backend cannot start; every request then
        // fails with that reason instead of the process panicking.
        Self {
            client: builder.build().ok(),
        }
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let Some(client) = self.client.clone() else {
            return HttpConnectorFuture::ready(Err(ConnectorError::other(
                "the HTTPS client could not be built".into(),
                None,
            )));
        };
        HttpConnectorFuture::new(send(client, request))
    }
}

async fn send(
    client: reqwest::Client,
    request: HttpRequest,
) -> Result<HttpResponse, ConnectorError> {
    let request = to_reqwest(&client, request).await?;
    let mut response = client.execute(request).await.map_err(connector_error)?;
    let status = StatusCode::try_from(response.status().as_u16())
        .map_err(|e| ConnectorError::other(Box::new(e), None))?;
    let headers = std::mem::take(response.headers_mut());
    let body = response.bytes().await.map_err(connector_error)?;
    let mut answer = HttpResponse::new(status, SdkBody::from(body));
    for (name, value) in &headers {
        if let Ok(value) = value.to_str() {
            answer
                .headers_mut()
                .append(name.as_str().to_owned(), value.to_owned());
        }
    }
    Ok(answer)
}

/// The body is read through its `http_body::Body`, not copied from its bytes: the SDK
/// wraps it to watch the upload's progress (stalled-stream protection), and a body never
/// polled looks stalled, failing any request slower than the grace period.
async fn to_reqwest(
    client: &reqwest::Client,
    mut request: HttpRequest,
) -> Result<reqwest::Request, ConnectorError> {
    let method = reqwest::Method::from_bytes(request.method().as_bytes())
        .map_err(|e| ConnectorError::user(Box::new(e)))?;
    let mut builder = client.request(method, request.uri());
    for (name, value) in request.headers() {
        builder = builder.header(name, value);
    }
    let body = request
        .take_body()
        .collect()
        .await
        .map_err(ConnectorError::io)?
        .to_bytes();
    builder
        .body(body)
        .build()
        .map_err(|e| ConnectorError::user(Box::new(e)))
}

/// Sorts reqwest's failures the way the SDK's retry strategy expects: timeouts and I/O
/// (connection refused, reset, TLS) are transient; a request that could not be built is
/// the caller's.
fn connector_error(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(Box::new(error))
    } else if error.is_builder() {
        ConnectorError::user(Box::new(error))
    } else {
        ConnectorError::io(Box::new(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A one-shot HTTP/1.1 server on loopback: hands back the raw request it read and
    /// answers with `answer`.
    async fn serve_once(answer: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then the body announced by content-length.
            loop {
                let n = socket.read(&mut buf).await.unwrap();
                seen.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&seen).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                    if seen.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            socket.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8(seen).unwrap()
        });
        (url, task)
    }

    fn request(url: &str, body: &'static str) -> HttpRequest {
        let mut request = HttpRequest::new(SdkBody::from(body));
        request.set_uri(format!("{url}/items?x=1")).unwrap();
        request.set_method("POST").unwrap();
        request
            .headers_mut()
            .insert("x-amz-target", "DynamoDB_20120810.PutItem");
        request
    }

    #[tokio::test]
    async fn a_request_goes_out_as_http_1_1_with_its_headers_and_body_and_the_answer_comes_back_whole()
     {
        let (url, server) = serve_once(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: r-1\r\ncontent-length: 13\r\n\r\n{\"__type\":1}\n",
        )
        .await;
        let connector = Connector::new((Some(Duration::from_secs(2)), None));
        let answer = connector
            .call(request(&url, r#"{"TableName":"t"}"#))
            .await
            .unwrap();
        let seen = server.await.unwrap();

        assert!(seen.starts_with("POST /items?x=1 HTTP/1.1\r\n"), "{seen}");
        assert!(
            seen.contains("x-amz-target: DynamoDB_20120810.PutItem\r\n"),
            "{seen}"
        );
        assert!(seen.contains("content-length: 17\r\n"), "{seen}");
        assert!(seen.ends_with("\r\n\r\n{\"TableName\":\"t\"}"), "{seen}");
        assert_eq!(answer.status().as_u16(), 400);
        assert_eq!(answer.headers().get("x-amzn-requestid"), Some("r-1"));
        assert_eq!(answer.body().bytes(), Some(&b"{\"__type\":1}\n"[..]));
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_io_error_the_sdk_may_retry() {
        // Bind, then drop: nothing listens on the port any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let connector = Connector::new((Some(Duration::from_secs(2)), None));
        let error = connector
            .call(request(&format!("http://127.0.0.1:{port}"), "{}"))
            .await
            .unwrap_err();
        assert!(error.is_io(), "{error:?}");
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_a_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let _held = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(socket);
        });
        let connector = Connector::new((None, Some(Duration::from_millis(200))));
        let error = connector.call(request(&url, "{}")).await.unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
    }

    #[tokio::test]
    async fn a_body_that_must_be_polled_is_sent_whole() {
        // The SDK hands over bodies wrapped in its own `http_body::Body` (its upload
        // progress watch): they must be read by polling, not by their bytes.
        let (url, server) = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await;
        let mut request = request(&url, "");
        let streamed = http_body_util::Full::new(bytes::Bytes::from_static(b"{\"polled\":true}"));
        *request.body_mut() = SdkBody::from_body_1_x(streamed);
        assert!(request.body().bytes().is_none());

        let answer = Connector::new((None, None)).call(request).await.unwrap();
        let seen = server.await.unwrap();

        assert_eq!(answer.status().as_u16(), 200);
        assert!(seen.ends_with("\r\n\r\n{\"polled\":true}"), "{seen}");
    }
}
