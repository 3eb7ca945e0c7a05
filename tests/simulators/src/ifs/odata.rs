//! The OData v4 subset IFS clients use: `$filter` (eq ne gt ge lt le and or not, parentheses,
//! contains/startswith/endswith/tolower/toupper; strings, numbers, booleans, null, Date and
//! DateTimeOffset literals, IFS enum literals), `$orderby`, `$top`, `$skip`, `$select`,
//! `$count`, and server-driven paging through `$skiptoken`.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use serde_json::{Map, Value};

/// Type of an entity field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ft {
    Str,
    Int,
    Dec,
    Bool,
    /// Edm.DateTimeOffset, serialised `2024-01-01T10:00:00Z`.
    Dto,
    /// An IFS enumeration: type name within the projection namespace and its members.
    Enum(&'static str, &'static [&'static str]),
}

/// Static description of an entity set.
pub(crate) struct SetMeta {
    pub(crate) name: &'static str,
    pub(crate) projection: &'static str,
    pub(crate) fields: &'static [(&'static str, Ft)],
}

impl SetMeta {
    pub(crate) fn field(&self, name: &str) -> Option<Ft> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
    }
}

/// An OData error to send back (status, IFS-style code, message).
#[derive(Debug)]
pub(crate) struct ODataError {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl ODataError {
    pub(crate) fn bad(message: impl Into<String>) -> Self {
        ODataError {
            status: 400,
            code: "ODP_BAD_REQUEST",
            message: message.into(),
        }
    }
}

type R<T> = Result<T, ODataError>;

#[derive(Clone, Debug, PartialEq)]
enum V {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Dto(DateTime<FixedOffset>),
    Date(NaiveDate),
    Enum(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Func {
    Contains,
    StartsWith,
    EndsWith,
    ToLower,
    ToUpper,
}

#[derive(Clone, Debug)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Op, Box<Expr>, Box<Expr>),
    Field(String, Ft),
    Lit(V),
    Call(Func, Vec<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Ident(String),
    Str(String),
    Num(f64),
    Dto(DateTime<FixedOffset>),
    Date(NaiveDate),
    /// `Namespace.Type'Member'`
    Enum(String, String),
}

fn lex(src: &str) -> R<Vec<Tok>> {
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '\'' => {
                let (s, n) = lex_string(&chars, i)?;
                out.push(Tok::Str(s));
                i = n;
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || matches!(chars[i], '.' | ':' | '-' | '+'))
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                out.push(lex_number_or_date(&text)?);
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '$' | '.'))
                {
                    i += 1;
                }
                let ident: String = chars[start..i].iter().collect();
                if chars.get(i) == Some(&'\'') {
                    let (member, n) = lex_string(&chars, i)?;
                    out.push(Tok::Enum(ident, member));
                    i = n;
                } else {
                    out.push(Tok::Ident(ident));
                }
            }
            other => {
                return Err(ODataError::bad(format!(
                    "unexpected character '{other}' in $filter"
                )));
            }
        }
    }
    Ok(out)
}

fn lex_string(chars: &[char], start: usize) -> R<(String, usize)> {
    let mut i = start + 1;
    let mut s = String::new();
    loop {
        match chars.get(i) {
            None => return Err(ODataError::bad("unterminated string literal in $filter")),
            Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                s.push('\'');
                i += 2;
            }
            Some('\'') => return Ok((s, i + 1)),
            Some(c) => {
                s.push(*c);
                i += 1;
            }
        }
    }
}

fn lex_number_or_date(text: &str) -> R<Tok> {
    if text.len() >= 10 && text.as_bytes().get(4) == Some(&b'-') {
        if text.len() == 10 {
            return NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Tok::Date)
                .map_err(|_| ODataError::bad(format!("invalid Date literal '{text}'")));
        }
        return parse_dto(text)
            .map(Tok::Dto)
            .ok_or_else(|| ODataError::bad(format!("invalid DateTimeOffset literal '{text}'")));
    }
    text.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Tok::Num)
        .ok_or_else(|| ODataError::bad(format!("invalid number literal '{text}'")))
}

/// Parses an OData DateTimeOffset (seconds optional, `Z` or `±hh:mm`).
pub(crate) fn parse_dto(text: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t);
    }
    // `2024-01-01T10:00Z` (no seconds) is valid OData but not RFC 3339.
    let (main, zone) = if let Some(m) = text.strip_suffix('Z') {
        (m, "+00:00")
    } else if text.len() > 6 {
        let (m, z) = text.split_at(text.len() - 6);
        (m, z)
    } else {
        return None;
    };
    let full = format!("{main}:00{zone}");
    DateTime::parse_from_rfc3339(&full).ok()
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    meta: &'a SetMeta,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn peek_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s == kw)
    }
    fn bump(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn or(&mut self) -> R<Expr> {
        let mut l = self.and()?;
        while self.peek_kw("or") {
            self.pos += 1;
            let r = self.and()?;
            l = Expr::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn and(&mut self) -> R<Expr> {
        let mut l = self.not()?;
        while self.peek_kw("and") {
            self.pos += 1;
            let r = self.not()?;
            l = Expr::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn not(&mut self) -> R<Expr> {
        if self.peek_kw("not") {
            self.pos += 1;
            let e = self.not()?;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.cmp()
    }
    fn cmp(&mut self) -> R<Expr> {
        let l = self.primary()?;
        let op = match self.peek() {
            Some(Tok::Ident(s)) => match s.as_str() {
                "eq" => Some(Op::Eq),
                "ne" => Some(Op::Ne),
                "gt" => Some(Op::Gt),
                "ge" => Some(Op::Ge),
                "lt" => Some(Op::Lt),
                "le" => Some(Op::Le),
                _ => None,
            },
            _ => None,
        };
        match op {
            Some(op) => {
                self.pos += 1;
                let r = self.primary()?;
                Ok(Expr::Cmp(op, Box::new(l), Box::new(r)))
            }
            None => Ok(l),
        }
    }
    fn primary(&mut self) -> R<Expr> {
        match self.bump() {
            Some(Tok::LParen) => {
                let e = self.or()?;
                match self.bump() {
                    Some(Tok::RParen) => Ok(e),
                    _ => Err(ODataError::bad("missing ')' in $filter")),
                }
            }
            Some(Tok::Str(s)) => Ok(Expr::Lit(V::Str(s))),
            Some(Tok::Num(n)) => Ok(Expr::Lit(V::Num(n))),
            Some(Tok::Dto(d)) => Ok(Expr::Lit(V::Dto(d))),
            Some(Tok::Date(d)) => Ok(Expr::Lit(V::Date(d))),
            Some(Tok::Enum(ty, member)) => {
                let want_prefix = format!("IfsApp.{}.", self.meta.projection);
                match ty.strip_prefix(&want_prefix) {
                    Some(t) if !t.is_empty() && !t.contains('.') => {
                        Ok(Expr::Lit(V::Enum(format!("{t}'{member}"))))
                    }
                    _ => Err(ODataError::bad(format!(
                        "unknown enumeration type '{ty}' (expected {want_prefix}<EnumType>)"
                    ))),
                }
            }
            Some(Tok::Ident(id)) => {
                match id.as_str() {
                    "null" => return Ok(Expr::Lit(V::Null)),
                    "true" => return Ok(Expr::Lit(V::Bool(true))),
                    "false" => return Ok(Expr::Lit(V::Bool(false))),
                    _ => {}
                }
                if self.peek() == Some(&Tok::LParen) {
                    let f = match id.as_str() {
                        "contains" => Func::Contains,
                        "startswith" => Func::StartsWith,
                        "endswith" => Func::EndsWith,
                        "tolower" => Func::ToLower,
                        "toupper" => Func::ToUpper,
                        _ => {
                            return Err(ODataError::bad(format!(
                                "unsupported function '{id}' in $filter"
                            )));
                        }
                    };
                    self.pos += 1;
                    let mut args = vec![self.or()?];
                    while self.peek() == Some(&Tok::Comma) {
                        self.pos += 1;
                        args.push(self.or()?);
                    }
                    if self.bump() != Some(Tok::RParen) {
                        return Err(ODataError::bad("missing ')' after function arguments"));
                    }
                    let want = if matches!(f, Func::ToLower | Func::ToUpper) {
                        1
                    } else {
                        2
                    };
                    if args.len() != want {
                        return Err(ODataError::bad(format!(
                            "function '{id}' takes {want} argument(s)"
                        )));
                    }
                    return Ok(Expr::Call(f, args));
                }
                match self.meta.field(&id) {
                    Some(ft) => Ok(Expr::Field(id, ft)),
                    None => Err(ODataError::bad(format!(
                        "property '{id}' does not exist on {}",
                        self.meta.name
                    ))),
                }
            }
            Some(t) => Err(ODataError::bad(format!(
                "unexpected token {t:?} in $filter"
            ))),
            None => Err(ODataError::bad("unexpected end of $filter")),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Ty {
    Null,
    Bool,
    Num,
    Str,
    Time,
    Enum(String),
}

fn type_of(e: &Expr) -> R<Ty> {
    Ok(match e {
        Expr::Or(a, b) | Expr::And(a, b) => {
            for x in [a, b] {
                if type_of(x)? != Ty::Bool {
                    return Err(ODataError::bad("'and'/'or' need boolean operands"));
                }
            }
            Ty::Bool
        }
        Expr::Not(a) => {
            if type_of(a)? != Ty::Bool {
                return Err(ODataError::bad("'not' needs a boolean operand"));
            }
            Ty::Bool
        }
        Expr::Cmp(op, a, b) => {
            let (ta, tb) = (type_of(a)?, type_of(b)?);
            let ok = ta == tb || ta == Ty::Null || tb == Ty::Null;
            if !ok {
                let hint = match (&ta, &tb) {
                    (Ty::Enum(t), Ty::Str) | (Ty::Str, Ty::Enum(t)) => format!(
                        " (enumerations must be compared with a qualified literal such as IfsApp.<Projection>.{t}'Value')"
                    ),
                    _ => String::new(),
                };
                return Err(ODataError::bad(format!(
                    "incompatible operand types {ta:?} and {tb:?} for '{op:?}'{hint}"
                )));
            }
            if let (Ty::Enum(_), Expr::Lit(V::Enum(lit))) = (&ta, b.as_ref()) {
                check_enum_member(a, lit)?;
            }
            if let (Expr::Lit(V::Enum(lit)), Ty::Enum(_)) = (a.as_ref(), &tb) {
                check_enum_member(b, lit)?;
            }
            if matches!(op, Op::Gt | Op::Ge | Op::Lt | Op::Le)
                && matches!(ta, Ty::Bool | Ty::Enum(_))
            {
                return Err(ODataError::bad(
                    "ordering comparison not supported for this type",
                ));
            }
            Ty::Bool
        }
        Expr::Field(_, ft) => match ft {
            Ft::Str => Ty::Str,
            Ft::Int | Ft::Dec => Ty::Num,
            Ft::Bool => Ty::Bool,
            Ft::Dto => Ty::Time,
            Ft::Enum(t, _) => Ty::Enum((*t).to_string()),
        },
        Expr::Lit(v) => match v {
            V::Null => Ty::Null,
            V::Bool(_) => Ty::Bool,
            V::Num(_) => Ty::Num,
            V::Str(_) => Ty::Str,
            V::Dto(_) | V::Date(_) => Ty::Time,
            V::Enum(t) => Ty::Enum(t.split('\'').next().unwrap_or("").to_string()),
        },
        Expr::Call(f, args) => {
            for a in args {
                if type_of(a)? != Ty::Str {
                    return Err(ODataError::bad("string functions need string arguments"));
                }
            }
            match f {
                Func::ToLower | Func::ToUpper => Ty::Str,
                _ => Ty::Bool,
            }
        }
    })
}

fn check_enum_member(field: &Expr, lit: &str) -> R<()> {
    if let Expr::Field(name, Ft::Enum(_, members)) = field {
        let member = lit.split('\'').nth(1).unwrap_or("");
        if !members.contains(&member) {
            return Err(ODataError::bad(format!(
                "'{member}' is not a valid value of {name}"
            )));
        }
    }
    Ok(())
}

/// A parsed, type-checked `$filter`.
pub(crate) struct Filter(Expr);

impl Filter {
    pub(crate) fn parse(src: &str, meta: &SetMeta) -> R<Filter> {
        let toks = lex(src)?;
        let mut p = Parser { toks, pos: 0, meta };
        let e = p.or()?;
        if p.pos != p.toks.len() {
            return Err(ODataError::bad("unexpected trailing input in $filter"));
        }
        if type_of(&e)? != Ty::Bool {
            return Err(ODataError::bad("$filter must be a boolean expression"));
        }
        Ok(Filter(e))
    }

    pub(crate) fn matches(&self, ent: &Map<String, Value>) -> bool {
        matches!(eval(&self.0, ent), V::Bool(true))
    }
}

fn field_value(ent: &Map<String, Value>, name: &str, ft: Ft) -> V {
    match ent.get(name) {
        None | Some(Value::Null) => V::Null,
        Some(Value::Bool(b)) => V::Bool(*b),
        Some(Value::Number(n)) => V::Num(n.as_f64().unwrap_or(0.0)),
        Some(Value::String(s)) => match ft {
            Ft::Dto => parse_dto(s).map(V::Dto).unwrap_or(V::Null),
            Ft::Enum(t, _) => V::Enum(format!("{t}'{s}")),
            Ft::Int | Ft::Dec => s.parse().map(V::Num).unwrap_or(V::Null),
            _ => V::Str(s.clone()),
        },
        Some(_) => V::Null,
    }
}

fn as_time(v: &V) -> Option<DateTime<Utc>> {
    match v {
        V::Dto(d) => Some(d.with_timezone(&Utc)),
        V::Date(d) => d.and_hms_opt(0, 0, 0).map(|n| Utc.from_utc_datetime(&n)),
        _ => None,
    }
}

fn compare(a: &V, b: &V) -> Option<Ordering> {
    match (a, b) {
        (V::Num(x), V::Num(y)) => x.partial_cmp(y),
        (V::Str(x), V::Str(y)) => Some(x.cmp(y)),
        (V::Bool(x), V::Bool(y)) => Some(x.cmp(y)),
        (V::Enum(x), V::Enum(y)) => Some(x.cmp(y)),
        _ => match (as_time(a), as_time(b)) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => None,
        },
    }
}

fn eval(e: &Expr, ent: &Map<String, Value>) -> V {
    match e {
        Expr::Or(a, b) => V::Bool(eval(a, ent) == V::Bool(true) || eval(b, ent) == V::Bool(true)),
        Expr::And(a, b) => V::Bool(eval(a, ent) == V::Bool(true) && eval(b, ent) == V::Bool(true)),
        Expr::Not(a) => V::Bool(eval(a, ent) != V::Bool(true)),
        Expr::Field(n, ft) => field_value(ent, n, *ft),
        Expr::Lit(v) => v.clone(),
        Expr::Cmp(op, a, b) => {
            let (x, y) = (eval(a, ent), eval(b, ent));
            let res = match (&x, &y) {
                (V::Null, V::Null) => matches!(op, Op::Eq | Op::Le | Op::Ge),
                (V::Null, _) | (_, V::Null) => matches!(op, Op::Ne),
                _ => match compare(&x, &y) {
                    None => false,
                    Some(o) => match op {
                        Op::Eq => o == Ordering::Equal,
                        Op::Ne => o != Ordering::Equal,
                        Op::Gt => o == Ordering::Greater,
                        Op::Ge => o != Ordering::Less,
                        Op::Lt => o == Ordering::Less,
                        Op::Le => o != Ordering::Greater,
                    },
                },
            };
            V::Bool(res)
        }
        Expr::Call(f, args) => {
            let vals: Vec<Option<String>> = args
                .iter()
                .map(|a| match eval(a, ent) {
                    V::Str(s) => Some(s),
                    _ => None,
                })
                .collect();
            match (f, vals.as_slice()) {
                (Func::ToLower, [Some(s)]) => V::Str(s.to_lowercase()),
                (Func::ToUpper, [Some(s)]) => V::Str(s.to_uppercase()),
                (Func::Contains, [Some(a), Some(b)]) => V::Bool(a.contains(b.as_str())),
                (Func::StartsWith, [Some(a), Some(b)]) => V::Bool(a.starts_with(b.as_str())),
                (Func::EndsWith, [Some(a), Some(b)]) => V::Bool(a.ends_with(b.as_str())),
                (Func::ToLower | Func::ToUpper, _) => V::Null,
                _ => V::Bool(false),
            }
        }
    }
}

/// Parsed system query options of a collection request.
#[derive(Default)]
pub(crate) struct Query {
    pub(crate) filter: Option<Filter>,
    pub(crate) orderby: Vec<(String, Ft, bool)>,
    pub(crate) top: Option<usize>,
    pub(crate) skip: usize,
    pub(crate) select: Option<Vec<String>>,
    pub(crate) count: bool,
    pub(crate) skiptoken: usize,
    /// The options as received (minus `$skiptoken`), to rebuild `@odata.nextLink`.
    pub(crate) passthrough: Vec<(String, String)>,
}

fn parse_usize(name: &str, v: &str) -> R<usize> {
    v.trim()
        .parse::<usize>()
        .map_err(|_| ODataError::bad(format!("{name} must be a non-negative integer, got '{v}'")))
}

/// Parses the query string of a request against `meta`. `single` = single-entity request,
/// where only `$select` is allowed.
pub(crate) fn parse_query(raw: Option<&str>, meta: &SetMeta, single: bool) -> R<Query> {
    let mut q = Query::default();
    let mut seen: Vec<String> = Vec::new();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let (k, v) = (k.into_owned(), v.into_owned());
        if !k.starts_with('$') {
            // Custom query options are allowed by OData and ignored here.
            continue;
        }
        if seen.contains(&k) {
            return Err(ODataError::bad(format!(
                "query option {k} given more than once"
            )));
        }
        seen.push(k.clone());
        if single && k != "$select" {
            return Err(ODataError::bad(format!(
                "query option {k} is not supported on a single entity"
            )));
        }
        match k.as_str() {
            "$filter" => q.filter = Some(Filter::parse(&v, meta)?),
            "$orderby" => {
                for item in v.split(',') {
                    let mut parts = item.split_whitespace();
                    let field = parts
                        .next()
                        .ok_or_else(|| ODataError::bad("empty $orderby item"))?;
                    let desc = match parts.next() {
                        None | Some("asc") => false,
                        Some("desc") => true,
                        Some(o) => {
                            return Err(ODataError::bad(format!(
                                "invalid $orderby direction '{o}'"
                            )));
                        }
                    };
                    if parts.next().is_some() {
                        return Err(ODataError::bad("invalid $orderby item"));
                    }
                    let ft = meta.field(field).ok_or_else(|| {
                        ODataError::bad(format!(
                            "property '{field}' does not exist on {}",
                            meta.name
                        ))
                    })?;
                    q.orderby.push((field.to_string(), ft, desc));
                }
            }
            "$top" => q.top = Some(parse_usize("$top", &v)?),
            "$skip" => q.skip = parse_usize("$skip", &v)?,
            "$count" => {
                q.count = match v.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(ODataError::bad("$count must be true or false")),
                }
            }
            "$select" => {
                let mut fields = Vec::new();
                for f in v.split(',').map(str::trim) {
                    if f == "*" {
                        continue;
                    }
                    if meta.field(f).is_none() {
                        return Err(ODataError::bad(format!(
                            "property '{f}' does not exist on {}",
                            meta.name
                        )));
                    }
                    fields.push(f.to_string());
                }
                q.select = Some(fields);
            }
            "$skiptoken" => {
                q.skiptoken = parse_usize("$skiptoken", &v)?;
                continue;
            }
            other => {
                return Err(ODataError {
                    status: 400,
                    code: "ODP_UNSUPPORTED_QUERY_OPTION",
                    message: format!("The query option '{other}' is not supported."),
                });
            }
        }
        q.passthrough.push((k, v));
    }
    Ok(q)
}

/// Sorts rows per `$orderby`, then by `keys` so paging is stable.
pub(crate) fn sort_rows<T>(
    rows: &mut [T],
    get: impl Fn(&T) -> &Map<String, Value>,
    q: &Query,
    keys: &[(&str, Ft)],
) {
    rows.sort_by(|a, b| {
        let (a, b) = (get(a), get(b));
        for (name, ft, desc) in &q.orderby {
            let o = order_values(&field_value(a, name, *ft), &field_value(b, name, *ft));
            if o != Ordering::Equal {
                return if *desc { o.reverse() } else { o };
            }
        }
        for (name, ft) in keys {
            let o = order_values(&field_value(a, name, *ft), &field_value(b, name, *ft));
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
}

fn order_values(a: &V, b: &V) -> Ordering {
    match (a, b) {
        (V::Null, V::Null) => Ordering::Equal,
        (V::Null, _) => Ordering::Less,
        (_, V::Null) => Ordering::Greater,
        _ => compare(a, b).unwrap_or(Ordering::Equal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static META: SetMeta = SetMeta {
        name: "ShipmentSet",
        projection: "ShipmentHandling",
        fields: &[
            ("ShipmentId", Ft::Int),
            ("Name", Ft::Str),
            (
                "Objstate",
                Ft::Enum("ShipmentState", &["Preliminary", "Completed"]),
            ),
            ("LastActivityDate", Ft::Dto),
        ],
    };

    fn ent(id: i64, name: &str, state: &str, t: &str) -> Map<String, Value> {
        serde_json::json!({"ShipmentId": id, "Name": name, "Objstate": state, "LastActivityDate": t})
            .as_object()
            .cloned()
            .unwrap()
    }

    #[test]
    fn filters() {
        let e = ent(5, "O'Brien", "Completed", "2024-01-02T10:00:00Z");
        let ok = |f: &str| Filter::parse(f, &META).unwrap().matches(&e);
        assert!(ok("ShipmentId eq 5"));
        assert!(ok(
            "Objstate eq IfsApp.ShipmentHandling.ShipmentState'Completed'"
        ));
        assert!(ok(
            "LastActivityDate gt 2024-01-02T09:59:59Z and ShipmentId ge 5"
        ));
        assert!(ok("LastActivityDate lt 2024-01-02T11:30+01:00 or false"));
        assert!(ok("not (ShipmentId lt 5) and Name eq 'O''Brien'"));
        assert!(ok("contains(tolower(Name),'brien')"));
        assert!(!ok("Name eq null"));
        assert!(Filter::parse("Objstate eq 'Completed'", &META).is_err());
        assert!(Filter::parse("Objstate eq IfsApp.Other.ShipmentState'Completed'", &META).is_err());
        assert!(
            Filter::parse(
                "Objstate eq IfsApp.ShipmentHandling.ShipmentState'Bogus'",
                &META
            )
            .is_err()
        );
        assert!(Filter::parse("Nope eq 1", &META).is_err());
        assert!(Filter::parse("ShipmentId eq", &META).is_err());
        assert!(Filter::parse("(ShipmentId eq 1", &META).is_err());
        assert!(Filter::parse("LastActivityDate gt '2024'", &META).is_err());
    }
}
