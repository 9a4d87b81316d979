//! A readable API reference page, rendered once at startup from the OpenAPI document.

use std::fmt::Write;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{OpenApi, RefOr, Required, Schema};

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `Member` for a reference, `string` for an inline schema of that type, and so on.
fn type_name(schema: &RefOr<Schema>) -> String {
    match schema {
        RefOr::Ref(r) => {
            let name = r.ref_location.rsplit('/').next().unwrap_or("");
            format!("<a href=\"#schema-{name}\">{}</a>", escape(name))
        }
        RefOr::T(Schema::Array(array)) => match &array.items {
            utoipa::openapi::schema::ArrayItems::RefOrSchema(item) => {
                format!("array of {}", type_name(item))
            }
            _ => "array".into(),
        },
        RefOr::T(Schema::Object(object)) => {
            let json = serde_json::to_value(&object.schema_type).unwrap_or_default();
            let kind = match json {
                serde_json::Value::String(s) => s,
                serde_json::Value::Array(list) => list
                    .iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(" or "),
                _ => "value".into(),
            };
            match &object.format {
                Some(format) => format!(
                    "{kind} ({})",
                    serde_json::to_value(format)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default()
                ),
                None if object.enum_values.is_some() => {
                    let values: Vec<String> = object
                        .enum_values
                        .iter()
                        .flatten()
                        .map(|v| v.to_string())
                        .collect();
                    format!("one of {}", escape(&values.join(", ")))
                }
                None => kind,
            }
        }
        RefOr::T(Schema::OneOf(one)) => one
            .items
            .iter()
            .map(type_name)
            .collect::<Vec<_>>()
            .join(" or "),
        RefOr::T(_) => "value".into(),
    }
}

fn operation(out: &mut String, method: &str, path: &str, op: &Operation) {
    let id = format!("{method}-{path}").replace(['/', '{', '}'], "-");
    let _ = write!(
        out,
        "<section class=\"card api-op\" id=\"{id}\"><h3><span class=\"badge api-method api-{m}\">{M}</span> <code>{p}</code></h3>",
        m = method,
        M = method.to_uppercase(),
        p = escape(path)
    );
    if let Some(summary) = &op.summary {
        let _ = write!(out, "<p>{}</p>", escape(summary));
    }
    if let Some(description) = &op.description {
        let _ = write!(out, "<p class=\"muted\">{}</p>", escape(description));
    }
    if op.security.is_none() {
        out.push_str("<p class=\"muted\">No credential needed.</p>");
    }
    let params = op.parameters.iter().flatten().collect::<Vec<_>>();
    if !params.is_empty() {
        out.push_str("<table class=\"table\"><thead><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr></thead><tbody>");
        for p in params {
            let place = match p.parameter_in {
                ParameterIn::Path => "path",
                ParameterIn::Query => "query",
                ParameterIn::Header => "header",
                ParameterIn::Cookie => "cookie",
            };
            let required = matches!(p.required, Required::True);
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{}</td><td>{place}</td><td>{}</td><td>{}</td></tr>",
                escape(&p.name),
                if required { " (required)" } else { "" },
                p.schema.as_ref().map(type_name).unwrap_or_default(),
                escape(p.description.as_deref().unwrap_or(""))
            );
        }
        out.push_str("</tbody></table>");
    }
    if let Some(body) = &op.request_body {
        for content in body.content.values() {
            if let Some(schema) = &content.schema {
                let _ = write!(out, "<p>Request body (JSON): {}</p>", type_name(schema));
            }
        }
    }
    out.push_str("<table class=\"table\"><thead><tr><th>Status</th><th>Meaning</th><th>Body</th></tr></thead><tbody>");
    let mut errors = Vec::new();
    for (status, response) in &op.responses.responses {
        let RefOr::T(response) = response else {
            continue;
        };
        if !status.starts_with('2') {
            errors.push(format!("<a href=\"#errors\">{status}</a>"));
            continue;
        }
        let body = response
            .content
            .values()
            .filter_map(|c| c.schema.as_ref())
            .map(type_name)
            .next()
            .unwrap_or_default();
        let _ = write!(
            out,
            "<tr><td>{status}</td><td>{}</td><td>{body}</td></tr>",
            escape(&response.description)
        );
    }
    out.push_str("</tbody></table>");
    if !errors.is_empty() {
        let _ = write!(out, "<p class=\"muted\">Errors: {}</p>", errors.join(", "));
    }
    out.push_str("</section>");
}

/// What each error status means, taken from the operations that document it.
fn error_table(out: &mut String, api: &OpenApi) {
    let mut seen = std::collections::BTreeMap::new();
    for item in api.paths.paths.values() {
        for op in [&item.get, &item.post, &item.put, &item.patch, &item.delete]
            .into_iter()
            .flatten()
        {
            for (status, response) in &op.responses.responses {
                if let (false, RefOr::T(response)) = (status.starts_with('2'), response) {
                    seen.entry(status.clone())
                        .or_insert_with(|| response.description.clone());
                }
            }
        }
    }
    out.push_str("<section class=\"card api-op\" id=\"errors\"><h2>Errors</h2><p>Every error is an RFC 9457 problem document (<code>application/problem+json</code>, see <a href=\"#schema-Problem\">Problem</a>) whose <code>type</code> is stable.</p><table class=\"table\"><thead><tr><th>Status</th><th>Meaning</th></tr></thead><tbody>");
    for (status, description) in seen {
        let _ = write!(
            out,
            "<tr><td>{status}</td><td>{}</td></tr>",
            escape(&description)
        );
    }
    out.push_str("</tbody></table></section>");
}

pub fn render(api: &OpenApi) -> String {
    let mut out = String::from(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>API reference · Stratus</title><link rel=\"stylesheet\" href=\"/pkg/stratus.css\"></head>\
         <body><main id=\"main\" class=\"api-docs\">",
    );
    let _ = write!(
        out,
        "<h1>{} <span class=\"muted\">v{}</span></h1><p>{}</p>\
         <p><a href=\"/api/v1/openapi.json\">OpenAPI 3.1 document</a> · <a href=\"/\">Back to the portal</a></p>",
        escape(&api.info.title),
        escape(&api.info.version),
        escape(api.info.description.as_deref().unwrap_or(""))
    );
    error_table(&mut out, api);
    out.push_str("<h2>Operations</h2>");
    for (path, item) in &api.paths.paths {
        let methods = [
            ("get", &item.get),
            ("post", &item.post),
            ("put", &item.put),
            ("patch", &item.patch),
            ("delete", &item.delete),
        ];
        for (method, op) in methods {
            if let Some(op) = op {
                operation(&mut out, method, path, op);
            }
        }
    }
    out.push_str("<h2>Schemas</h2>");
    if let Some(components) = &api.components {
        for (name, schema) in &components.schemas {
            let _ = write!(
                out,
                "<section class=\"card api-schema\" id=\"schema-{n}\"><h3>{n}</h3>",
                n = escape(name)
            );
            match schema {
                RefOr::T(Schema::Object(object)) if !object.properties.is_empty() => {
                    out.push_str("<table class=\"table\"><thead><tr><th>Field</th><th>Type</th><th>Description</th></tr></thead><tbody>");
                    for (field, field_schema) in &object.properties {
                        let required = object.required.contains(field);
                        let description = match field_schema {
                            RefOr::T(Schema::Object(o)) => o.description.clone(),
                            _ => None,
                        };
                        let _ = write!(
                            out,
                            "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
                            escape(field),
                            if required { "" } else { " (optional)" },
                            type_name(field_schema),
                            escape(description.as_deref().unwrap_or(""))
                        );
                    }
                    out.push_str("</tbody></table>");
                }
                other => {
                    let _ = write!(out, "<p>{}</p>", type_name(other));
                }
            }
            out.push_str("</section>");
        }
    }
    out.push_str("</main></body></html>");
    out
}
