//! A client that records the path and query of every request it sends, for tests that check what
//! the operator asks the API server for (not only what it does).

use std::sync::{Arc, Mutex};

use vrg_testenv::shared;

/// Every request's path and query, in the order sent.
#[derive(Clone, Default)]
pub struct Requests(Arc<Mutex<Vec<String>>>);

impl Requests {
    /// The requests whose path ends with `suffix` (e.g. `/namespaces/NS/pods`): list calls of a
    /// collection, watches included.
    pub fn of(&self, suffix: &str) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|r| {
                r.split('?')
                    .next()
                    .is_some_and(|path| path.ends_with(suffix))
            })
            .cloned()
            .collect()
    }
}

/// An admin client whose requests `Requests` records.
pub async fn recording_client() -> (kube::Client, Requests) {
    let requests = Requests::default();
    let log = requests.clone();
    let config = shared().config().await.unwrap();
    let client = kube::client::ClientBuilder::try_from(config)
        .unwrap()
        .with_layer(&tower::ServiceBuilder::new().map_request(
            move |request: http::Request<kube::client::Body>| {
                let uri = request.uri();
                let line = uri
                    .path_and_query()
                    .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
                log.0.lock().unwrap().push(line);
                request
            },
        ))
        .build();
    (client, requests)
}
