//! `-w/--write-out`: curl's variables rendered after each transfer.

use std::fmt::Write as _;

/// What `-w` can show about one transfer.
#[derive(Debug, Clone, Default)]
pub struct TransferInfo {
    pub http_code: u16,
    pub url_effective: String,
    pub content_type: Option<String>,
    pub size_download: u64,
    pub time_total: f64,
    /// Seconds until the final response's headers arrived.
    pub time_starttransfer: f64,
    pub num_redirects: u32,
    pub filename_effective: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl TransferInfo {
    /// Bytes per second over the whole transfer.
    fn speed_download(&self) -> f64 {
        if self.time_total > 0.0 {
            self.size_download as f64 / self.time_total
        } else {
            0.0
        }
    }

    fn var(&self, name: &str) -> Option<String> {
        Some(match name {
            "http_code" | "response_code" => format!("{:03}", self.http_code),
            "url_effective" => self.url_effective.clone(),
            "content_type" => self.content_type.clone().unwrap_or_default(),
            "size_download" => self.size_download.to_string(),
            "time_total" => format!("{:.6}", self.time_total),
            "time_starttransfer" => format!("{:.6}", self.time_starttransfer),
            "speed_download" => format!("{:.0}", self.speed_download()),
            "num_redirects" => self.num_redirects.to_string(),
            "filename_effective" => self.filename_effective.clone().unwrap_or_default(),
            "json" => self.json().to_string(),
            _ => return None,
        })
    }

    /// `%{json}`: every variable and the response headers (names lower-case, values as
    /// lists, as curl's `%{header_json}`).
    pub fn json(&self) -> serde_json::Value {
        let mut headers = serde_json::Map::new();
        for (name, value) in &self.headers {
            let entry = headers
                .entry(name.to_ascii_lowercase())
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
            if let serde_json::Value::Array(values) = entry {
                values.push(serde_json::Value::String(value.clone()));
            }
        }
        serde_json::json!({
            "http_code": self.http_code,
            "response_code": self.http_code,
            "url_effective": self.url_effective,
            "content_type": self.content_type,
            "size_download": self.size_download,
            "time_total": self.time_total,
            "time_starttransfer": self.time_starttransfer,
            "speed_download": self.speed_download(),
            "num_redirects": self.num_redirects,
            "filename_effective": self.filename_effective,
            "headers": headers,
        })
    }
}

/// Renders a `-w` format: `%{name}`, `%%`, and the escapes `\n`, `\r`, `\t`, `\\`.
pub fn render(format: &str, info: &TransferInfo) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '%' if chars.peek() == Some(&'%') => {
                chars.next();
                out.push('%');
            }
            '%' if chars.peek() == Some(&'{') => {
                chars.next();
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                match info.var(&name) {
                    Some(v) => out.push_str(&v),
                    None => {
                        let _ = write!(out, "%{{{name}}}");
                    }
                }
            }
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_variables_and_escapes() {
        let info = TransferInfo {
            http_code: 200,
            url_effective: "http://h/x".into(),
            size_download: 5,
            num_redirects: 2,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            ..TransferInfo::default()
        };
        assert_eq!(
            render(
                "%{http_code} %{size_download} %{num_redirects}%% %{nope}\\n",
                &info
            ),
            "200 5 2% %{nope}\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render("%{json}", &info)).expect("json");
        assert_eq!(json["http_code"], 200);
        assert_eq!(json["headers"]["content-type"][0], "text/plain");
    }
}
