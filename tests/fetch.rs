//! `postie fetch` against the in-process test server (tests/support/http_server.rs) and,
//! with POSTIE_INTEROP=1, against httpbin served by gunicorn.

#[path = "support/common.rs"]
mod common;
#[path = "support/http_server.rs"]
mod http_server;

use std::io::{Read, Write};

use http_server::{HttpServer, Response, TestCerts};

#[test]
fn test_server_records_requests_and_keeps_connections_alive() {
    let server = HttpServer::start(|req| Response::ok(format!("you sent {}", req.body.len())));
    let mut s = std::net::TcpStream::connect(server.addr()).expect("connect");
    s.write_all(b"POST /a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
        .expect("write");
    s.write_all(b"PUT /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nxy\r\n0\r\n\r\n")
        .expect("write");
    let mut reply = String::new();
    s.read_to_string(&mut reply).expect("read");
    assert_eq!(reply.matches("HTTP/1.1 200 OK").count(), 2, "{reply}");
    let reqs = server.requests();
    assert_eq!(reqs[0].path(), "/a");
    assert_eq!(reqs[0].query(), Some("x=1"));
    assert_eq!(reqs[0].body, b"abc");
    assert_eq!(reqs[1].body, b"xy");
    assert_eq!(server.connections(), 1);
    let _ = TestCerts::generate();
}
