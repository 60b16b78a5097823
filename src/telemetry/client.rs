//! The operator's requests to the API server, counted by HTTP method and status code
//! (`vrg_operator_api_requests_total{method,code}`, like controller-runtime's
//! `rest_client_requests_total`): a tower layer around the kube client's HTTP service.
//!
//! A request is counted once, when its response head arrives (a watch when its stream opens) or
//! when it fails without one (`code="error"`). The layer sits outside kube's own retry layer, so
//! a retried request counts once. Writes are the POST, PUT, PATCH and DELETE requests; Events are
//! writes too.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use kube::client::ClientBuilder;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tower::{Layer, Service};

use super::Metrics;

/// The labels of `vrg_operator_api_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE`.
    pub method: String,
    /// The HTTP status code, or `error` when no response came.
    pub code: String,
}

/// Adds request counting to a kube client's service stack.
#[derive(Clone)]
pub struct CountRequests {
    requests: Family<RequestLabels, Counter>,
}

impl CountRequests {
    pub fn new(requests: Family<RequestLabels, Counter>) -> Self {
        Self { requests }
    }
}

impl<S> Layer<S> for CountRequests {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            requests: self.requests.clone(),
        }
    }
}

/// The service [`CountRequests`] makes.
#[derive(Clone)]
pub struct Counted<S> {
    inner: S,
    requests: Family<RequestLabels, Counter>,
}

impl<S, B, R> Service<Request<B>> for Counted<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let method = request.method().as_str().to_owned();
        let requests = self.requests.clone();
        let response = self.inner.call(request);
        Box::pin(async move {
            let result = response.await;
            let code = match &result {
                Ok(response) => response.status().as_u16().to_string(),
                Err(_) => "error".to_owned(),
            };
            requests
                .get_or_create(&RequestLabels { method, code })
                .inc();
            result
        })
    }
}

/// A client for `config` whose requests are counted in `metrics`.
pub fn client_for(config: kube::Config, metrics: &Metrics) -> Result<kube::Client, kube::Error> {
    Ok(ClientBuilder::try_from(config)?
        .with_layer(&CountRequests::new(metrics.api_requests.clone()))
        .build())
}

/// The client of the current kubeconfig or in-cluster config (as `kube::Client::try_default`),
/// with its requests counted in `metrics`.
pub async fn client(metrics: &Metrics) -> Result<kube::Client, kube::Error> {
    let config = kube::Config::infer()
        .await
        .map_err(kube::Error::InferConfig)?;
    client_for(config, metrics)
}
