//! Errors people can read. A failed job keeps its provider's words verbatim (`last_error`);
//! the portal shows one short sentence derived from the error's class (transport or API) and
//! code, and the verbatim text behind a "details" disclosure. Pure functions, so the browser
//! and the server derive the same sentence.

/// One short sentence for a verbatim provider or job error.
pub fn summarize(verbatim: &str) -> String {
    let text = verbatim.trim();
    if text.is_empty() {
        return "the job failed without a message".into();
    }
    if let Some((code, message)) = api_error(text) {
        return api_summary(code, message);
    }
    if let Some(summary) = transport_summary(text) {
        return summary;
    }
    shorten(first_line(text))
}

/// A job event that reports a failed attempt (the queue writes `attempt 1 of 3 failed,
/// retrying: <error>`, `failed after 3 attempts: <error>` and `cancelled (the attempt had
/// failed: <error>)`), split into what happened and the verbatim error.
pub fn failed_attempt(message: &str) -> Option<(&str, &str)> {
    if let Some(error) = message
        .strip_prefix("cancelled (the attempt had failed: ")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        return Some(("cancelled; the attempt had failed", error));
    }
    let (what, error) = message.split_once(": ")?;
    let attempts = what.starts_with("attempt ") && what.ends_with(" failed, retrying");
    let gave_up = what.starts_with("failed after ") && what.ends_with(" attempts");
    (attempts || gave_up).then_some((what, error))
}

/// An AWS-style API error, `Code: message` (the form `describe_error` writes when the provider
/// answered): a code is one word of letters, digits and dots, starting with a capital.
fn api_error(text: &str) -> Option<(&str, &str)> {
    let (code, message) = match text.split_once(": ") {
        Some((code, message)) => (code, message),
        None => (text, ""),
    };
    let is_code = code.len() >= 3
        && code.len() <= 64
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
        && code.chars().any(|c| c.is_ascii_lowercase());
    is_code.then_some((code, message.trim()))
}

fn api_summary(code: &str, message: &str) -> String {
    let what = match code {
        "AuthFailure"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "UnrecognizedClientException"
        | "InvalidAccessKeyId"
        | "ExpiredToken" => Some("the provider refused the credentials"),
        "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException" => {
            Some("the credentials are not allowed to do this")
        }
        "RequestLimitExceeded" | "Throttling" | "ThrottlingException" => {
            Some("the provider is throttling requests; Stratus retries with backoff")
        }
        "InsufficientInstanceCapacity" => {
            Some("the zone has no capacity for this instance type right now")
        }
        "OptInRequired" => Some("the account is not subscribed to this service or region"),
        "InternalError" | "InternalFailure" | "ServiceUnavailable" | "Unavailable" => {
            Some("the provider had an internal error; Stratus retries")
        }
        _ if code.ends_with("LimitExceeded") => {
            Some("an account limit at the provider was reached")
        }
        _ if code.ends_with(".NotFound") || code.ends_with("NotFound") => {
            Some("the provider does not know the object Stratus asked for")
        }
        _ => None,
    };
    match what {
        Some(what) => format!("{what} ({code})"),
        None if message.is_empty() => code.to_string(),
        None => format!("{code}: {}", shorten(first_sentence(message))),
    }
}

/// Nothing answered, or the connection broke: the transport error chain (the SDK's
/// `DispatchFailure`, `TimeoutError`, hyper's connect errors).
fn transport_summary(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let transport = [
        "dispatch failure",
        "dispatchfailure",
        "connectorerror",
        "timeouterror",
        "error trying to connect",
        "tcp connect error",
        "connection refused",
        "timed out",
        "dns error",
    ]
    .iter()
    .any(|marker| lower.contains(marker));
    if !transport {
        return None;
    }
    let target = socket_address(text)
        .map(str::to_string)
        .unwrap_or_else(|| "the provider's endpoint".into());
    let reason = if lower.contains("connection refused") {
        format!("could not connect to {target}: connection refused")
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        "could not resolve the endpoint's host name".to_string()
    } else if lower.contains("certificate") || lower.contains("tls") {
        format!("the secure connection to {target} failed (certificate or TLS)")
    } else if lower.contains("connection reset") {
        format!("the connection to {target} was reset")
    } else if lower.contains("unreachable") || lower.contains("no route to host") {
        format!("could not reach {target}: network unreachable")
    } else if lower.contains("timed out") || lower.contains("timeout") {
        format!("{target} did not answer in time")
    } else {
        format!("could not reach {target}")
    };
    Some(reason)
}

/// The first `host:port` in the text that looks like an IPv4 or bracketed IPv6 socket address.
fn socket_address(text: &str) -> Option<&str> {
    for (start, _) in text.char_indices() {
        let rest = &text[start..];
        let len = if let Some(inner) = rest.strip_prefix('[') {
            inner.find("]:").and_then(|close| {
                let port = digits(&inner[close + 2..]);
                (port > 0 && inner[..close].contains(':')).then_some(1 + close + 2 + port)
            })
        } else {
            // Start only at the beginning of a number, not inside one.
            let inside = text[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_digit() || c == '.');
            if inside {
                continue;
            }
            ipv4_len(rest).and_then(|n| {
                let port = rest[n..].strip_prefix(':').map_or(0, digits);
                (port > 0).then_some(n + 1 + port)
            })
        };
        if let Some(len) = len {
            return Some(&rest[..len]);
        }
    }
    None
}

fn digits(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

/// The length of a dotted quad at the start of `s`, if there is one.
fn ipv4_len(s: &str) -> Option<usize> {
    let mut len = 0;
    for part in 0..4 {
        let n = digits(&s[len..]);
        if n == 0 || n > 3 {
            return None;
        }
        len += n;
        if part < 3 {
            if !s[len..].starts_with('.') {
                return None;
            }
            len += 1;
        }
    }
    Some(len)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text).trim()
}

fn first_sentence(text: &str) -> &str {
    let line = first_line(text);
    match line.find(". ") {
        Some(end) => &line[..end],
        None => line.trim_end_matches('.'),
    }
}

/// At most 160 characters, cut at a word, and never a Rust debug dump's tail.
fn shorten(text: &str) -> String {
    let text = match text.find(" (") {
        Some(i) if text[i..].contains("{ ") => &text[..i],
        _ => text,
    };
    if text.chars().count() <= 160 {
        return text.to_string();
    }
    let cut: String = text.chars().take(160).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::{failed_attempt, summarize};

    #[test]
    fn failed_attempt_events_are_split_from_their_verbatim_error() {
        let error = "dispatch failure: io error: client error (Connect): tcp connect error";
        assert_eq!(
            failed_attempt(&format!("attempt 1 of 3 failed, retrying: {error}")),
            Some(("attempt 1 of 3 failed, retrying", error))
        );
        assert_eq!(
            failed_attempt(&format!("failed after 3 attempts: {error}")),
            Some(("failed after 3 attempts", error))
        );
        assert_eq!(
            failed_attempt(&format!("cancelled (the attempt had failed: {error})")),
            Some(("cancelled; the attempt had failed", error))
        );
        assert_eq!(failed_attempt("running (attempt 1 of 3)"), None);
        assert_eq!(failed_attempt("zone web-a: subnet created"), None);
    }

    #[test]
    fn a_refused_connection_names_the_address() {
        let dump = "dispatch failure: io error: error trying to connect: tcp connect error: \
            Connection refused (os error 111) (DispatchFailure(DispatchFailure { source: \
            ConnectorError { kind: Io, source: hyper_util::client::legacy::Error(Connect, \
            ConnectError(\"tcp connect error\", 127.0.0.1:9, Os { code: 111, kind: \
            ConnectionRefused, message: \"Connection refused\" })), connection: Unknown } }))";
        assert_eq!(
            summarize(dump),
            "could not connect to 127.0.0.1:9: connection refused"
        );
        assert_eq!(
            summarize("dispatch failure: tcp connect error: Connection refused (os error 111)"),
            "could not connect to the provider's endpoint: connection refused"
        );
    }

    #[test]
    fn api_errors_say_what_the_code_means_and_keep_it() {
        assert_eq!(
            summarize("AuthFailure: AWS was not able to validate the provided access credentials"),
            "the provider refused the credentials (AuthFailure)"
        );
        assert_eq!(
            summarize(
                "InvalidParameterValue: Value (x) for parameter foo is invalid. More text here."
            ),
            "InvalidParameterValue: Value (x) for parameter foo is invalid"
        );
        assert_eq!(
            summarize("VcpuLimitExceeded: You have requested more vCPU capacity"),
            "an account limit at the provider was reached (VcpuLimitExceeded)"
        );
    }

    #[test]
    fn timeouts_dns_and_plain_messages() {
        assert_eq!(
            summarize("timeout: TimeoutError(TimeoutError { source: MaybeTimeoutError { kind: Operation, duration: 20s } })"),
            "the provider's endpoint did not answer in time"
        );
        assert_eq!(
            summarize("dispatch failure: dns error: failed to lookup address information"),
            "could not resolve the endpoint's host name"
        );
        assert_eq!(
            summarize("the cloud account was deleted"),
            "the cloud account was deleted"
        );
        assert_eq!(summarize("  "), "the job failed without a message");
        let long = "word ".repeat(80);
        assert!(summarize(&long).chars().count() <= 161);
        assert_eq!(
            summarize("[::1]:9 refused\ndispatch failure"),
            "could not reach [::1]:9"
        );
    }
}
