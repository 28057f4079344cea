//! The network's files: published with [`Network::publish_file`](crate::Network::publish_file)
//! at a `direct-file:` URL, fetched by any endpoint.

use chatty_core::session::Refusal;
use chatty_core::{Content, FailureKind, File};

use crate::state::Shared;

/// `file` with the bytes published at its URL.
pub(crate) fn download(shared: &Shared, file: File) -> Result<File, Refusal> {
    let Content::Url { url, .. } = &file.content else {
        return Err(Refusal::new(
            FailureKind::Rejected,
            "the file has its bytes already; there is nothing to download",
        ));
    };
    let data = shared.lock().files.get(url).cloned().ok_or_else(|| {
        Refusal::new(FailureKind::UnknownAddressee, format!("no file at {url}"))
            .with_code("file_not_found")
    })?;
    let mut file = file;
    file.content = Content::Bytes { data };
    Ok(file)
}
