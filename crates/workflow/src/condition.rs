//! The condition language: when a step applies, as an expression over facts of the authority
//! and the service. Reference: `workflows/README.md`.
//!
//! ```text
//! expr    := or
//! or      := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | compare
//! compare := primary (("==" | "!=" | "<" | "<=" | ">" | ">=") primary | "in" list)?
//! primary := fact | string | number | "true" | "false" | "(" expr ")"
//! list    := "[" (literal ("," literal)*)? "]"
//! fact    := name "." name          e.g. authority.kind, service.fee_based
//! ```
//!
//! Parsing checks names and types against [`FACTS`]; evaluation is pure and total.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use crate::limits::{CONDITION_CHARS_MAX, CONDITION_DEPTH_MAX, LIST_ITEMS_MAX};

/// The type of a fact or an expression.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Type {
    Bool,
    Text,
    Number,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Type::Bool => "true/false",
            Type::Text => "text",
            Type::Number => "number",
        })
    }
}

/// Every fact a condition may name, with its type and, for texts with a fixed set, the values.
pub const FACTS: &[(&str, Type, &[&str])] = &[
    (
        "authority.kind",
        Type::Text,
        &[
            "landkreis",
            "kreisfreie_stadt",
            "amt",
            "verbandsgemeinde",
            "mitverwaltende_gemeinde",
            "amtsfreie_gemeinde",
            "land",
        ],
    ),
    ("authority.ars", Type::Text, &[]),
    ("authority.landkreis_ars", Type::Text, &[]),
    ("authority.population", Type::Number, &[]),
    ("authority.member_count", Type::Number, &[]),
    ("service.key", Type::Text, &[]),
    ("service.fee_based", Type::Bool, &[]),
    ("service.responsible_level", Type::Text, &["land", "landkreis_kfs", "gemeinde_amt"]),
    ("service.providing_state", Type::Text, &[]),
];

/// A fact a definition adds for its own conditions: `evidence.<step>.<field>`, the value a step
/// recorded (typed from the field; an `enum` field's values are its known values).
#[derive(Clone, Debug, PartialEq)]
pub struct EvidenceFact {
    pub name: String,
    pub ty: Type,
    pub values: Vec<String>,
}

/// The prefix of the facts that read recorded evidence.
pub const EVIDENCE_PREFIX: &str = "evidence.";

/// A value of a fact or a literal.
#[derive(Clone, PartialEq, Debug)]
pub enum Value {
    Bool(bool),
    Text(String),
    Number(f64),
}

impl Value {
    fn ty(&self) -> Type {
        match self {
            Value::Bool(_) => Type::Bool,
            Value::Text(_) => Type::Text,
            Value::Number(_) => Type::Number,
        }
    }
}

/// The facts a condition is evaluated against. A missing fact is false, empty text or 0.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facts(pub BTreeMap<String, Value>);

impl Facts {
    pub fn set(&mut self, name: &str, value: Value) -> &mut Self {
        self.0.insert(name.to_owned(), value);
        self
    }
}

/// A parsed, type-checked condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    source: String,
    expr: Expr,
}

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    Fact(String, Type),
    Literal(Value),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(Box<Expr>, Op, Box<Expr>),
    In(Box<Expr>, Vec<Value>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A problem in a condition, at a byte range of its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionError {
    pub at: Range<usize>,
    pub message: String,
}

impl Condition {
    /// Parses and type-checks `source`; the result must be true/false.
    pub fn parse(source: &str) -> Result<Condition, ConditionError> {
        Condition::parse_with(source, &[])
    }

    /// [`Condition::parse`], knowing the definition's evidence facts besides [`FACTS`].
    pub fn parse_with(source: &str, evidence: &[EvidenceFact]) -> Result<Condition, ConditionError> {
        if source.chars().count() > CONDITION_CHARS_MAX {
            return Err(ConditionError {
                at: 0..source.len(),
                message: format!("a condition has at most {CONDITION_CHARS_MAX} characters"),
            });
        }
        let tokens = lex(source)?;
        let mut p = Parser { tokens, at: 0, depth: 0, end: source.len(), evidence };
        let (expr, ty, span) = p.expr()?;
        if let Some(t) = p.tokens.get(p.at) {
            return Err(ConditionError { at: t.span.clone(), message: format!("unexpected {}", t.kind) });
        }
        if ty != Type::Bool {
            return Err(ConditionError {
                at: span,
                message: format!("a condition must be true/false, this is {ty}"),
            });
        }
        Ok(Condition { source: source.to_owned(), expr })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the condition holds for `facts`.
    pub fn eval(&self, facts: &Facts) -> bool {
        matches!(eval(&self.expr, facts), Value::Bool(true))
    }

    /// Whether it reads recorded evidence at all (no allocation: asked on every step command).
    pub fn reads_evidence(&self) -> bool {
        fn walk(e: &Expr) -> bool {
            match e {
                Expr::Fact(name, _) => name.starts_with(EVIDENCE_PREFIX),
                Expr::Literal(_) => false,
                Expr::Not(a) | Expr::In(a, _) => walk(a),
                Expr::And(a, b) | Expr::Or(a, b) | Expr::Compare(a, _, b) => walk(a) || walk(b),
            }
        }
        walk(&self.expr)
    }

    /// The steps whose recorded evidence it reads (`evidence.<step>.<field>`).
    pub fn evidence_steps(&self) -> std::collections::BTreeSet<String> {
        fn walk(e: &Expr, out: &mut std::collections::BTreeSet<String>) {
            match e {
                Expr::Fact(name, _) => {
                    if let Some(step) = name.strip_prefix(EVIDENCE_PREFIX).and_then(|r| r.split('.').next()) {
                        out.insert(step.to_owned());
                    }
                }
                Expr::Literal(_) => {}
                Expr::Not(a) | Expr::In(a, _) => walk(a, out),
                Expr::And(a, b) | Expr::Or(a, b) | Expr::Compare(a, _, b) => {
                    walk(a, out);
                    walk(b, out);
                }
            }
        }
        let mut out = std::collections::BTreeSet::new();
        walk(&self.expr, &mut out);
        out
    }

    /// The condition's value when it names no fact (`None` when it depends on facts).
    pub fn constant(&self) -> Option<bool> {
        fn has_fact(e: &Expr) -> bool {
            match e {
                Expr::Fact(..) => true,
                Expr::Literal(_) => false,
                Expr::Not(a) | Expr::In(a, _) => has_fact(a),
                Expr::And(a, b) | Expr::Or(a, b) | Expr::Compare(a, _, b) => has_fact(a) || has_fact(b),
            }
        }
        (!has_fact(&self.expr)).then(|| self.eval(&Facts::default()))
    }
}

fn default_of(ty: Type) -> Value {
    match ty {
        Type::Bool => Value::Bool(false),
        Type::Text => Value::Text(String::new()),
        Type::Number => Value::Number(0.0),
    }
}

fn eval(e: &Expr, facts: &Facts) -> Value {
    match e {
        Expr::Fact(name, ty) => match facts.0.get(name) {
            Some(v) if v.ty() == *ty => v.clone(),
            _ => default_of(*ty),
        },
        Expr::Literal(v) => v.clone(),
        Expr::Not(a) => Value::Bool(!truthy(&eval(a, facts))),
        Expr::And(a, b) => Value::Bool(truthy(&eval(a, facts)) && truthy(&eval(b, facts))),
        Expr::Or(a, b) => Value::Bool(truthy(&eval(a, facts)) || truthy(&eval(b, facts))),
        Expr::In(a, list) => {
            let v = eval(a, facts);
            Value::Bool(list.contains(&v))
        }
        Expr::Compare(a, op, b) => {
            let (a, b) = (eval(a, facts), eval(b, facts));
            let ord = match (&a, &b) {
                (Value::Number(x), Value::Number(y)) => x.partial_cmp(y),
                (Value::Text(x), Value::Text(y)) => Some(x.cmp(y)),
                (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
                _ => None,
            };
            use std::cmp::Ordering::*;
            Value::Bool(match (op, ord) {
                (Op::Eq, o) => o == Some(Equal),
                (Op::Ne, o) => o != Some(Equal),
                (Op::Lt, o) => o == Some(Less),
                (Op::Le, o) => matches!(o, Some(Less | Equal)),
                (Op::Gt, o) => o == Some(Greater),
                (Op::Ge, o) => matches!(o, Some(Greater | Equal)),
            })
        }
    }
}

fn truthy(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Name(String),
    Str(String),
    Num(f64),
    Sym(&'static str),
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Name(n) => write!(f, "`{n}`"),
            Kind::Str(s) => write!(f, "text {s:?}"),
            Kind::Num(n) => write!(f, "number {n}"),
            Kind::Sym(s) => write!(f, "`{s}`"),
        }
    }
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    span: Range<usize>,
}

// Long: one arm per kind of character: the lexer's table of tokens.
fn lex(src: &str) -> Result<Vec<Token>, ConditionError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
            {
                i += 1;
            }
            out.push(Token { kind: Kind::Name(src[start..i].to_owned()), span: start..i });
            continue;
        }
        if c.is_ascii_digit() || (c == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            let text = &src[start..i];
            let n: f64 = text
                .parse()
                .map_err(|_| ConditionError { at: start..i, message: format!("`{text}` is not a number") })?;
            out.push(Token { kind: Kind::Num(n), span: start..i });
            continue;
        }
        if c == b'"' {
            i += 1;
            let mut s = String::new();
            loop {
                match src[i..].chars().next() {
                    None => {
                        return Err(ConditionError {
                            at: start..src.len(),
                            message: "unterminated text".into(),
                        })
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some('\\') => {
                        return Err(ConditionError {
                            at: i..i + 1,
                            message: "escapes are not supported in texts".into(),
                        })
                    }
                    Some(ch) => {
                        s.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            out.push(Token { kind: Kind::Str(s), span: start..i });
            continue;
        }
        let two = src.get(i..i + 2).unwrap_or("");
        let sym = match two {
            "==" | "!=" | "<=" | ">=" => Some(two),
            _ => None,
        };
        let sym: &'static str = match (sym, c) {
            (Some("=="), _) => "==",
            (Some("!="), _) => "!=",
            (Some("<="), _) => "<=",
            (Some(">="), _) => ">=",
            (_, b'<') => "<",
            (_, b'>') => ">",
            (_, b'(') => "(",
            (_, b')') => ")",
            (_, b'[') => "[",
            (_, b']') => "]",
            (_, b',') => ",",
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(ConditionError {
                    at: i..i + ch.len_utf8(),
                    message: format!("unexpected character {ch:?}"),
                });
            }
        };
        i += sym.len();
        out.push(Token { kind: Kind::Sym(sym), span: start..i });
    }
    Ok(out)
}

struct Parser<'e> {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
    end: usize,
    evidence: &'e [EvidenceFact],
}

type Parsed = (Expr, Type, Range<usize>);
/// The literals of a list with their positions, and where the list ends.
type ParsedList = (Vec<(Value, Range<usize>)>, usize);

impl Parser<'_> {
    fn peek(&self) -> Option<&Kind> {
        self.tokens.get(self.at).map(|t| &t.kind)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Kind::Name(n)) if n == word)
    }

    fn is_sym(&self, sym: &str) -> bool {
        matches!(self.peek(), Some(Kind::Sym(s)) if *s == sym)
    }

    fn error_here(&self, expected: &str) -> ConditionError {
        match self.tokens.get(self.at) {
            Some(t) => ConditionError {
                at: t.span.clone(),
                message: format!("expected {expected}, found {}", t.kind),
            },
            None => {
                ConditionError { at: self.end..self.end, message: format!("expected {expected} at the end") }
            }
        }
    }

    fn expr(&mut self) -> Result<Parsed, ConditionError> {
        self.depth += 1;
        if self.depth > CONDITION_DEPTH_MAX {
            return Err(self.error_here(&format!("less nesting (at most {CONDITION_DEPTH_MAX} levels)")));
        }
        let r = self.or();
        self.depth -= 1;
        r
    }

    fn or(&mut self) -> Result<Parsed, ConditionError> {
        let mut left = self.and()?;
        while self.is_word("or") {
            self.at += 1;
            let right = self.and()?;
            left = bool_pair(left, right, "or", Expr::Or)?;
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Parsed, ConditionError> {
        let mut left = self.unary()?;
        while self.is_word("and") {
            self.at += 1;
            let right = self.unary()?;
            left = bool_pair(left, right, "and", Expr::And)?;
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Parsed, ConditionError> {
        if self.is_word("not") {
            let start = self.tokens[self.at].span.start;
            self.at += 1;
            self.depth += 1;
            if self.depth > CONDITION_DEPTH_MAX {
                return Err(self.error_here(&format!("less nesting (at most {CONDITION_DEPTH_MAX} levels)")));
            }
            let (e, ty, span) = self.unary()?;
            self.depth -= 1;
            expect_type(ty, Type::Bool, &span, "`not`")?;
            return Ok((Expr::Not(Box::new(e)), Type::Bool, start..span.end));
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Parsed, ConditionError> {
        let (left, lty, lspan) = self.primary()?;
        if self.is_word("in") {
            self.at += 1;
            let (list, end) = self.list()?;
            for (v, span) in &list {
                if v.ty() != lty {
                    return Err(ConditionError {
                        at: span.clone(),
                        message: format!("the list holds {}, but the left side is {lty}", v.ty()),
                    });
                }
            }
            check_known_values(&left, self.evidence, list.iter().map(|(v, s)| (v, s)))?;
            let values = list.into_iter().map(|(v, _)| v).collect();
            return Ok((Expr::In(Box::new(left), values), Type::Bool, lspan.start..end));
        }
        let op = match self.peek() {
            Some(Kind::Sym("==")) => Op::Eq,
            Some(Kind::Sym("!=")) => Op::Ne,
            Some(Kind::Sym("<")) => Op::Lt,
            Some(Kind::Sym("<=")) => Op::Le,
            Some(Kind::Sym(">")) => Op::Gt,
            Some(Kind::Sym(">=")) => Op::Ge,
            _ => return Ok((left, lty, lspan)),
        };
        self.at += 1;
        let (right, rty, rspan) = self.primary()?;
        if lty != rty {
            return Err(ConditionError {
                at: lspan.start..rspan.end,
                message: format!("cannot compare {lty} with {rty}"),
            });
        }
        if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) && lty == Type::Bool {
            return Err(ConditionError {
                at: lspan.start..rspan.end,
                message: "true/false values have no order".into(),
            });
        }
        if let Expr::Literal(v) = &right {
            check_known_values(&left, self.evidence, std::iter::once((v, &rspan)))?;
        }
        Ok((Expr::Compare(Box::new(left), op, Box::new(right)), Type::Bool, lspan.start..rspan.end))
    }

    fn list(&mut self) -> Result<ParsedList, ConditionError> {
        if !self.is_sym("[") {
            return Err(self.error_here("a list like [\"a\", \"b\"]"));
        }
        self.at += 1;
        let mut items = Vec::new();
        if self.is_sym("]") {
            let end = self.tokens[self.at].span.end;
            self.at += 1;
            return Ok((items, end));
        }
        loop {
            let Some(t) = self.tokens.get(self.at).cloned() else { return Err(self.error_here("a value")) };
            let v = match t.kind {
                Kind::Str(s) => Value::Text(s),
                Kind::Num(n) => Value::Number(n),
                Kind::Name(n) if n == "true" => Value::Bool(true),
                Kind::Name(n) if n == "false" => Value::Bool(false),
                _ => return Err(self.error_here("a text, number, true or false")),
            };
            self.at += 1;
            items.push((v, t.span));
            if items.len() > LIST_ITEMS_MAX {
                return Err(ConditionError {
                    at: items[LIST_ITEMS_MAX].1.clone(),
                    message: format!("a list has at most {LIST_ITEMS_MAX} values"),
                });
            }
            if self.is_sym(",") {
                self.at += 1;
                continue;
            }
            if self.is_sym("]") {
                let end = self.tokens[self.at].span.end;
                self.at += 1;
                return Ok((items, end));
            }
            return Err(self.error_here("`,` or `]`"));
        }
    }

    fn primary(&mut self) -> Result<Parsed, ConditionError> {
        let Some(t) = self.tokens.get(self.at).cloned() else {
            return Err(self.error_here("a value or a fact"));
        };
        match t.kind {
            Kind::Sym("(") => {
                self.at += 1;
                let (e, ty, _) = self.expr()?;
                if !self.is_sym(")") {
                    return Err(self.error_here("`)`"));
                }
                let end = self.tokens[self.at].span.end;
                self.at += 1;
                Ok((e, ty, t.span.start..end))
            }
            Kind::Str(s) => {
                self.at += 1;
                Ok((Expr::Literal(Value::Text(s)), Type::Text, t.span))
            }
            Kind::Num(n) => {
                self.at += 1;
                Ok((Expr::Literal(Value::Number(n)), Type::Number, t.span))
            }
            Kind::Name(n) if n == "true" || n == "false" => {
                self.at += 1;
                Ok((Expr::Literal(Value::Bool(n == "true")), Type::Bool, t.span))
            }
            Kind::Name(n) if ["and", "or", "not", "in"].contains(&n.as_str()) => {
                Err(self.error_here("a value or a fact"))
            }
            Kind::Name(n) => match FACTS.iter().find(|(name, ..)| *name == n) {
                Some((name, ty, _)) => {
                    self.at += 1;
                    Ok((Expr::Fact((*name).to_owned(), *ty), *ty, t.span))
                }
                None => match self.evidence.iter().find(|f| f.name == n) {
                    Some(f) => {
                        self.at += 1;
                        Ok((Expr::Fact(f.name.clone(), f.ty), f.ty, t.span))
                    }
                    None if n.starts_with(EVIDENCE_PREFIX) => Err(ConditionError {
                        at: t.span,
                        message: format!(
                            "unknown fact `{n}`: `evidence.<step>.<field>` names an evidence field of a step of this definition"
                        ),
                    }),
                    None => Err(ConditionError {
                        at: t.span,
                        message: format!(
                            "unknown fact `{n}`; known facts: {}, evidence.<step>.<field>",
                            FACTS.iter().map(|(n, ..)| *n).collect::<Vec<_>>().join(", ")
                        ),
                    }),
                },
            },
            _ => Err(self.error_here("a value or a fact")),
        }
    }
}

fn bool_pair(
    left: Parsed,
    right: Parsed,
    word: &str,
    make: fn(Box<Expr>, Box<Expr>) -> Expr,
) -> Result<Parsed, ConditionError> {
    expect_type(left.1, Type::Bool, &left.2, &format!("`{word}`"))?;
    expect_type(right.1, Type::Bool, &right.2, &format!("`{word}`"))?;
    Ok((make(Box::new(left.0), Box::new(right.0)), Type::Bool, left.2.start..right.2.end))
}

fn expect_type(got: Type, want: Type, span: &Range<usize>, context: &str) -> Result<(), ConditionError> {
    if got == want {
        return Ok(());
    }
    Err(ConditionError { at: span.clone(), message: format!("{context} needs {want}, this is {got}") })
}

/// A literal compared with a fact that has a fixed set of values must be one of them: a typo
/// like `"landkries"` would otherwise make the condition silently false.
fn check_known_values<'a>(
    fact: &Expr,
    evidence: &[EvidenceFact],
    values: impl Iterator<Item = (&'a Value, &'a Range<usize>)>,
) -> Result<(), ConditionError> {
    let Expr::Fact(name, _) = fact else { return Ok(()) };
    let known: Vec<&str> = match FACTS.iter().find(|(n, ..)| n == name) {
        Some((_, _, known)) => known.to_vec(),
        None => match evidence.iter().find(|f| &f.name == name) {
            Some(f) => f.values.iter().map(String::as_str).collect(),
            None => return Ok(()),
        },
    };
    if known.is_empty() {
        return Ok(());
    }
    for (v, span) in values {
        if let Value::Text(t) = v {
            if !known.contains(&t.as_str()) {
                return Err(ConditionError {
                    at: span.clone(),
                    message: format!("`{name}` is never {t:?}; it is one of {}", known.join(", ")),
                });
            }
        }
    }
    Ok(())
}
