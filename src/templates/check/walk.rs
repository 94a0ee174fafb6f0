//! The walk over a template's parsed AST (handlebars' own parser): every reference is
//! resolved against the kind's context shape, through `#each`/`#with` scopes, block
//! params and partials (recursively, with their hash arguments), and every helper is
//! checked against the closed set. What the walk returns is the set of fields the
//! template *always* prints: a field printed in only one branch of an `#if` does not count.
//! A field printed through `date_ru` or `time_ru` counts as that half only (`path#date`,
//! `path#time`): a date and time needs both.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use handlebars::Path;
use handlebars::template::{
    BlockParam, DecoratorTemplate, HelperTemplate, Parameter, Template, TemplateElement,
};

use super::resolve::{Frame, Ref, resolve};
use super::shape::Shape;
use crate::templates::helpers;

/// Helpers that compare or combine values (usable in `#if` conditions, never printed).
const LOGIC: [&str; 9] = ["eq", "ne", "and", "or", "not", "gt", "gte", "lt", "lte"];
/// Block helpers a template may open.
const BLOCKS: [&str; 4] = ["if", "unless", "each", "with"];
/// Data variables inside `#each`.
const DATA: [&str; 4] = ["index", "first", "last", "key"];
/// What a field printed through `date_ru` / `time_ru` alone is recorded as, after its path.
pub const DATE_HALF: &str = "#date";
pub const TIME_HALF: &str = "#time";

/// Partials may include partials; a cycle stops here.
const MAX_PARTIAL_DEPTH: usize = 8;

/// One problem found by the walk, where the parser put it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

/// Where findings are reported: the element itself, or the `{{> partial}}` that led there.
#[derive(Debug, Clone)]
struct Site {
    at: Option<(usize, usize)>,
    via: Option<String>,
}

pub struct Walker<'a> {
    root: Shape,
    partials: &'a BTreeMap<String, Template>,
    pub findings: Vec<Finding>,
}

impl<'a> Walker<'a> {
    pub fn new(root: Shape, partials: &'a BTreeMap<String, Template>) -> Self {
        Self {
            root,
            partials,
            findings: Vec::new(),
        }
    }

    /// Walks a part; returns the paths it always prints.
    pub fn part(&mut self, template: &Template) -> BTreeSet<String> {
        let frame = Frame {
            this: Ref {
                path: String::new(),
                shape: self.root.clone(),
            },
            locals: HashMap::new(),
            in_each: false,
        };
        let site = Site {
            at: None,
            via: None,
        };
        self.template(template, &[frame], &site, 0)
    }

    fn report(&mut self, site: &Site, message: String) {
        let message = match &site.via {
            Some(partial) => format!("in partial `{partial}`: {message}"),
            None => message,
        };
        self.findings.push(Finding {
            line: site.at.map(|a| a.0),
            column: site.at.map(|a| a.1),
            message,
        });
    }

    fn template(
        &mut self,
        t: &Template,
        scope: &[Frame],
        site: &Site,
        depth: usize,
    ) -> BTreeSet<String> {
        let mut printed = BTreeSet::new();
        for (i, element) in t.elements.iter().enumerate() {
            // Inside a partial, positions point into the partial: report the call site.
            let here = match (&site.via, t.mapping.get(i)) {
                (None, Some(m)) => Site {
                    at: Some((m.0, m.1)),
                    via: None,
                },
                _ => site.clone(),
            };
            printed.extend(self.element(element, scope, &here, depth));
        }
        printed
    }

    fn element(
        &mut self,
        element: &TemplateElement,
        scope: &[Frame],
        site: &Site,
        depth: usize,
    ) -> BTreeSet<String> {
        match element {
            TemplateElement::RawString(_) | TemplateElement::Comment(_) => BTreeSet::new(),
            TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
                self.expression(h, scope, site)
            }
            TemplateElement::HelperBlock(h) => self.block(h, scope, site, depth),
            TemplateElement::PartialExpression(d) => self.partial(d, scope, site, depth),
            TemplateElement::PartialBlock(_)
            | TemplateElement::DecoratorExpression(_)
            | TemplateElement::DecoratorBlock(_) => {
                self.report(
                    site,
                    "partial blocks and decorators are not supported in notices".into(),
                );
                BTreeSet::new()
            }
            _ => BTreeSet::new(),
        }
    }

    /// `{{path}}` or `{{helper args}}`: what it prints.
    fn expression(&mut self, h: &HelperTemplate, scope: &[Frame], site: &Site) -> BTreeSet<String> {
        let mut printed = BTreeSet::new();
        let name = param_name(&h.name);
        if h.params.is_empty() && h.hash.is_empty() {
            if let Some(n) = &name
                && (helpers::NAMES.contains(&n.as_str()) || LOGIC.contains(&n.as_str()))
            {
                self.report(site, format!("helper `{n}` needs an argument"));
                return printed;
            }
            if let Some(r) = self.value(&h.name, scope, site) {
                match r.shape {
                    Shape::Scalar => {
                        // Whole, and so both halves: an `#if` may print halves on the other side.
                        printed.insert(format!("{}{DATE_HALF}", r.path));
                        printed.insert(format!("{}{TIME_HALF}", r.path));
                        printed.insert(r.path);
                    }
                    _ => self.report(
                        site,
                        format!("`{}` is a list or an object, not a value to print", r.path),
                    ),
                }
            }
            return printed;
        }
        let Some(name) = name else {
            self.report(site, "a helper call needs a helper name".into());
            return printed;
        };
        let formats = helpers::NAMES.contains(&name.as_str());
        if !formats && !LOGIC.contains(&name.as_str()) {
            self.report(site, unknown_helper(&name));
            return printed;
        }
        let half = match name.as_str() {
            "date_ru" => DATE_HALF,
            "time_ru" => TIME_HALF,
            _ => "",
        };
        for p in h.params.iter().chain(h.hash.values()) {
            if let Some(r) = self.value(p, scope, site)
                && formats
            {
                printed.insert(format!("{}{half}", r.path));
            }
        }
        printed
    }

    /// `A` and `B` when `condition` is `(eq (date_ru A) (date_ru B))`: inside such an `#if`,
    /// printing one date prints the other (one day's period names its date once).
    fn same_date(&self, condition: &Parameter, scope: &[Frame]) -> Option<(String, String)> {
        let Parameter::Subexpression(eq) = condition else {
            return None;
        };
        let params = eq.params()?;
        if eq.name() != "eq" || params.len() != 2 {
            return None;
        }
        let date_of = |p: &Parameter| {
            let Parameter::Subexpression(sub) = p else {
                return None;
            };
            match (sub.name(), sub.params()?.as_slice()) {
                ("date_ru", [arg]) => resolve(&param_name(arg)?, scope).ok()?.map(|r| r.path),
                _ => None,
            }
        };
        Some((date_of(&params[0])?, date_of(&params[1])?))
    }

    fn block(
        &mut self,
        h: &HelperTemplate,
        scope: &[Frame],
        site: &Site,
        depth: usize,
    ) -> BTreeSet<String> {
        let name = param_name(&h.name).unwrap_or_default();
        if !BLOCKS.contains(&name.as_str()) {
            self.report(site, unknown_helper(&name));
            return BTreeSet::new();
        }
        if h.params.len() != 1 {
            self.report(site, format!("`#{name}` takes exactly one argument"));
            return BTreeSet::new();
        }
        let subject = self.value(&h.params[0], scope, site);
        let otherwise = h
            .inverse
            .as_ref()
            .map(|t| self.template(t, scope, site, depth))
            .unwrap_or_default();
        match name.as_str() {
            // Only what both branches print is printed for sure.
            "if" | "unless" => {
                let mut then = h
                    .template
                    .as_ref()
                    .map(|t| self.template(t, scope, site, depth))
                    .unwrap_or_default();
                if name == "if"
                    && let Some((a, b)) = self.same_date(&h.params[0], scope)
                {
                    for (from, to) in [(&a, &b), (&b, &a)] {
                        if then.contains(from) || then.contains(&format!("{from}{DATE_HALF}")) {
                            then.insert(format!("{to}{DATE_HALF}"));
                        }
                    }
                }
                then.intersection(&otherwise).cloned().collect()
            }
            "each" | "with" => {
                let inner = match (name.as_str(), subject) {
                    (
                        "each",
                        Some(Ref {
                            path,
                            shape: Shape::List(item),
                        }),
                    ) => Some(Ref {
                        path: format!("{path}[]"),
                        shape: *item,
                    }),
                    (
                        "with",
                        Some(
                            r @ Ref {
                                shape: Shape::Object(_),
                                ..
                            },
                        ),
                    ) => Some(r),
                    (_, Some(r)) => {
                        let want = if name == "each" {
                            "a list"
                        } else {
                            "an object"
                        };
                        self.report(site, format!("`#{name}` needs {want}; `{}` is not", r.path));
                        None
                    }
                    (_, None) => None,
                };
                let Some(inner) = inner else {
                    return BTreeSet::new();
                };
                let mut frame = Frame {
                    this: inner.clone(),
                    locals: scope.last().map(|f| f.locals.clone()).unwrap_or_default(),
                    in_each: name == "each",
                };
                match &h.block_param {
                    Some(BlockParam::Single(p)) => {
                        if let Some(n) = param_name(p) {
                            frame.locals.insert(n, Some(inner));
                        }
                    }
                    Some(BlockParam::Pair((p, q))) => {
                        if let Some(n) = param_name(p) {
                            frame.locals.insert(n, Some(inner));
                        }
                        if let Some(n) = param_name(q) {
                            frame.locals.insert(n, None);
                        }
                    }
                    _ => {}
                }
                let mut inner_scope = scope.to_vec();
                inner_scope.push(frame);
                h.template
                    .as_ref()
                    .map(|t| self.template(t, &inner_scope, site, depth))
                    .unwrap_or_default()
            }
            _ => BTreeSet::new(),
        }
    }

    fn partial(
        &mut self,
        d: &DecoratorTemplate,
        scope: &[Frame],
        site: &Site,
        depth: usize,
    ) -> BTreeSet<String> {
        let Some(name) = param_name(&d.name) else {
            self.report(site, "a partial must be named literally".into());
            return BTreeSet::new();
        };
        let Some(partial) = self.partials.get(&name) else {
            let known: Vec<&str> = self.partials.keys().map(String::as_str).collect();
            self.report(
                site,
                format!("unknown partial `{name}`; known: {}", known.join(", ")),
            );
            return BTreeSet::new();
        };
        if depth >= MAX_PARTIAL_DEPTH {
            self.report(site, format!("partial `{name}` includes itself"));
            return BTreeSet::new();
        }
        let Some(current) = scope.last() else {
            return BTreeSet::new();
        };
        let mut frame = current.clone();
        if let Some(p) = d.params.first() {
            match self.value(p, scope, site) {
                Some(r) => frame.this = r,
                None => return BTreeSet::new(),
            }
        }
        // handlebars merges the hash into the partial's context: its names shadow.
        for (key, p) in &d.hash {
            let r = self.value(p, scope, site);
            frame.locals.insert(key.clone(), r);
        }
        let mut inner_scope = scope.to_vec();
        inner_scope.push(frame);
        let inner_site = Site {
            at: site.at,
            via: Some(match &site.via {
                Some(outer) => format!("{outer} > {name}"),
                None => name.clone(),
            }),
        };
        self.template(partial, &inner_scope, &inner_site, depth + 1)
    }

    /// Resolves a parameter in value position; `None` for literals, computed values and
    /// anything already reported.
    fn value(&mut self, p: &Parameter, scope: &[Frame], site: &Site) -> Option<Ref> {
        match p {
            Parameter::Literal(_) => None,
            Parameter::Subexpression(sub) => {
                let name = sub.name().to_owned();
                if !helpers::NAMES.contains(&name.as_str()) && !LOGIC.contains(&name.as_str()) {
                    self.report(site, unknown_helper(&name));
                }
                for q in sub.params().into_iter().flatten() {
                    self.value(q, scope, site);
                }
                for q in sub.hash().into_iter().flat_map(|h| h.values()) {
                    self.value(q, scope, site);
                }
                None
            }
            Parameter::Path(Path::Local((_, name, raw))) => {
                let in_each = scope.iter().any(|f| f.in_each);
                if !DATA.contains(&name.as_str()) || !in_each {
                    self.report(site, format!("unknown data variable `{raw}`"));
                }
                None
            }
            Parameter::Path(Path::Relative((_, raw))) => self.lookup(raw, scope, site),
            Parameter::Name(name) => self.lookup(name, scope, site),
            _ => None,
        }
    }

    fn lookup(&mut self, raw: &str, scope: &[Frame], site: &Site) -> Option<Ref> {
        match resolve(raw, scope) {
            Ok(found) => found,
            Err(why) => {
                self.report(site, why);
                None
            }
        }
    }
}

fn param_name(p: &Parameter) -> Option<String> {
    match p {
        Parameter::Name(n) => Some(n.clone()),
        Parameter::Path(Path::Relative((_, raw))) => Some(raw.clone()),
        _ => None,
    }
}

fn unknown_helper(name: &str) -> String {
    let mut allowed: Vec<&str> = helpers::NAMES.to_vec();
    allowed.extend(LOGIC);
    allowed.extend(BLOCKS);
    format!("unknown helper `{name}`; allowed: {}", allowed.join(", "))
}
