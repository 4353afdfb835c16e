//! `-w/--write-out`: curl's variables rendered after each transfer.

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
    /// Seconds from the start until the name was resolved, TCP was up, TLS was up (0 on
    /// a plain connection), and the request was about to go; 0 when a kept-alive connection
    /// was reused (nothing happened), as curl.
    pub time_namelookup: f64,
    pub time_connect: f64,
    pub time_appconnect: f64,
    pub time_pretransfer: f64,
    pub remote_ip: String,
    pub remote_port: Option<u16>,
    pub local_ip: String,
    /// Bytes of every response header block of the transfer (as `-i` prints them).
    pub size_header: u64,
    /// Bytes of every request sent: request line, headers, body.
    pub size_request: u64,
    /// The Location not followed (`--no-follow`, or the last hop with no more redirects).
    pub redirect_url: Option<String>,
    pub errormsg: String,
    pub exitcode: u8,
    /// The 0-based position of the URL on the command line.
    pub urlnum: usize,
    /// When the transfer began (the origin of the times above).
    pub started: Option<std::time::Instant>,
    /// `--update`: the server answered 304 and the file was left as it was.
    pub not_modified: bool,
    /// The body was appended to bytes already on disk (a 206 to a Range request).
    pub resumed: bool,
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
            "time_namelookup" => format!("{:.6}", self.time_namelookup),
            "time_connect" => format!("{:.6}", self.time_connect),
            "time_appconnect" => format!("{:.6}", self.time_appconnect),
            "time_pretransfer" => format!("{:.6}", self.time_pretransfer),
            "remote_ip" => self.remote_ip.clone(),
            // curl prints 0 when there was no connection.
            "remote_port" => self.remote_port.unwrap_or(0).to_string(),
            "local_ip" => self.local_ip.clone(),
            "size_header" => self.size_header.to_string(),
            "size_request" => self.size_request.to_string(),
            "redirect_url" => self.redirect_url.clone().unwrap_or_default(),
            "errormsg" => self.errormsg.clone(),
            "exitcode" => self.exitcode.to_string(),
            "urlnum" => self.urlnum.to_string(),
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
            "time_namelookup": self.time_namelookup,
            "time_connect": self.time_connect,
            "time_appconnect": self.time_appconnect,
            "time_pretransfer": self.time_pretransfer,
            "remote_ip": self.remote_ip,
            "remote_port": self.remote_port,
            "local_ip": self.local_ip,
            "size_header": self.size_header,
            "size_request": self.size_request,
            "redirect_url": self.redirect_url,
            "errormsg": self.errormsg,
            "exitcode": self.exitcode,
            "urlnum": self.urlnum,
            "headers": headers,
        })
    }

    /// `%header{name}`: every value of the response header, joined with `, ` as curl.
    fn header(&self, name: &str) -> String {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        values.join(", ")
    }
}

/// Renders a `-w` format: `%{name}`, `%header{name}`, `%%`, and the escapes `\n`, `\r`,
/// `\t`, `\\`. An unknown `%{name}` prints nothing and its name goes into `unknown` (curl
/// warns about it).
pub fn render(format: &str, info: &TransferInfo, unknown: &mut Vec<String>) -> String {
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
                    None => unknown.push(name),
                }
            }
            '%' if chars.clone().take(7).eq("header{".chars()) => {
                chars.nth(6);
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                out.push_str(&info.header(&name));
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
        let mut unknown = Vec::new();
        assert_eq!(
            render(
                "%{http_code} %{size_download} %{num_redirects}%% %{nope}|%header{content-TYPE}\\n",
                &info,
                &mut unknown
            ),
            "200 5 2% |text/plain\n"
        );
        assert_eq!(unknown, ["nope"]);
        let json: serde_json::Value =
            serde_json::from_str(&render("%{json}", &info, &mut unknown)).expect("json");
        assert_eq!(json["http_code"], 200);
        assert_eq!(json["headers"]["content-type"][0], "text/plain");
    }
}
