//! Dovecot harness (filled in below).
#![allow(dead_code)]
