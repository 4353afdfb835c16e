//! Python values as `json.loads` gives them, and their `str()` and `repr()` as CPython prints
//! them: what `postie qs encode` hands to urlencode, so a JSON value turns into the same text
//! Python's `urlencode(json.loads(line))` would produce.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::QsValue;
use super::pyrepr::repr;

/// A JSON value as Python's `json.loads` gives it, objects in their key order.
#[derive(Debug, Clone, PartialEq)]
pub enum Py {
    None,
    Bool(bool),
    Int(String),
    Float(f64),
    Str(String),
    List(Vec<Py>),
    Dict(Vec<(String, Py)>),
}

impl<'de> Deserialize<'de> for Py {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Py, D::Error> {
        d.deserialize_any(PyVisitor)
    }
}

struct PyVisitor;

impl<'de> Visitor<'de> for PyVisitor {
    type Value = Py;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Py, E> {
        Ok(Py::None)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Py, E> {
        Ok(Py::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Py, E> {
        Ok(Py::Int(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Py, E> {
        Ok(Py::Int(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Py, E> {
        Ok(Py::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Py, E> {
        Ok(Py::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Py, E> {
        Ok(Py::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Py, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Py::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Py, A::Error> {
        let mut items: Vec<(String, Py)> = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Py>()? {
            // json.loads keeps the last value of a repeated key, at the first key's place.
            match items.iter_mut().find(|(key, _)| *key == k) {
                Some(slot) => slot.1 = v,
                None => items.push((k, v)),
            }
        }
        Ok(Py::Dict(items))
    }
}

/// Python's `repr(float)`: the shortest round-trip digits, scientific outside 1e-4..1e16.
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if f == 0.0 {
        return format!("{sign}0.0");
    }
    let sci = format!("{:e}", f.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits = mant.replace('.', "");
    if (-4..16).contains(&exp) {
        let e = usize::try_from(exp).unwrap_or(0);
        if exp < 0 {
            let zeros = "0".repeat(usize::try_from(-exp - 1).unwrap_or(0));
            return format!("{sign}0.{zeros}{digits}");
        }
        let int_len = e + 1;
        if digits.len() <= int_len {
            let pad = "0".repeat(int_len - digits.len());
            format!("{sign}{digits}{pad}.0")
        } else {
            format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
        }
    } else {
        let m = if digits.len() == 1 {
            digits
        } else {
            format!("{}.{}", &digits[..1], &digits[1..])
        };
        let es = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{es}{:02}", exp.abs())
    }
}

/// Python's `str()` of the value.
pub fn py_str(v: &Py) -> String {
    match v {
        Py::Str(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr()` of the value.
pub fn py_repr(v: &Py) -> String {
    match v {
        Py::None => "None".to_owned(),
        Py::Bool(true) => "True".to_owned(),
        Py::Bool(false) => "False".to_owned(),
        Py::Int(s) => s.clone(),
        Py::Float(f) => py_float(*f),
        Py::Str(s) => repr(s),
        Py::List(items) => {
            let inner: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Py::Dict(items) => {
            let inner: Vec<String> = items
                .iter()
                .map(|(k, v)| format!("{}: {}", repr(k), py_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// How urlencode sees a value: a str, a sequence (iterated with doseq), or another object.
pub fn qs_value(v: &Py) -> QsValue {
    match v {
        Py::List(items) => QsValue::Seq {
            items: items.iter().map(py_str).collect(),
            as_str: py_repr(v),
        },
        // Iterating a dict yields its keys.
        Py::Dict(items) => QsValue::Seq {
            items: items.iter().map(|(k, _)| k.clone()).collect(),
            as_str: py_repr(v),
        },
        other => QsValue::Str(py_str(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_repr() {
        for (f, want) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345.6, "123456789012345.6"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (1e100, "1e+100"),
        ] {
            assert_eq!(py_float(f), want);
        }
    }
}
