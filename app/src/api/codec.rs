//! The server functions' response encoding: JSON, decoded from a `&str`.
//!
//! server_fn's own `Json` decodes responses with `serde_json::from_slice`, while a resource
//! hydrates from the page with `serde_json::from_str`: two readers, so the browser bundle held
//! two copies of every response type's deserializer. Decoding through `from_str` here shares
//! the resource's copy (docs/measurements.md, bundle size).

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::{de::DeserializeOwned, Serialize};

pub struct StrJsonEncoding;

impl ContentType for StrJsonEncoding {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for StrJsonEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for StrJsonEncoding {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for StrJsonEncoding {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde::de::Error::custom)?;
        serde_json::from_str(text)
    }
}

/// What every server function answers with.
pub type StrJson = Post<StrJsonEncoding>;
