//! Role expansion with the semantics of Taskcluster's scope resolver
//! (`services/auth/src/{scoperesolver,trie}.js`).
//!
//! A role `R` with scopes `S` is the rule "whoever holds a scope that satisfies
//! `assume:R`, or that `assume:R` satisfies, also holds `S`":
//!
//! * `assume:a` gets role `a`, and every role `p*` where `p` is a prefix of `a`
//!   (including role `a*` itself);
//! * a held scope ending in `*` gets every role its prefix matches: `assume:a*`
//!   gets `a`, `ab`, `a*`, `ab*`, and also `*` (whose prefix, the empty
//!   string, prefixes `a`); `*`, `a*`, `assume*` and `assume:*` get all roles;
//! * in the scopes of a role `p*`, the first `<..>` is replaced by what
//!   followed `p`; when that parameter ends in `*` (the holder asked for a whole
//!   family) everything after `<..>` is dropped, so `assume:project-admin:ops*`
//!   through role `project-admin:*` → `secrets:get:project/<..>/x` gives
//!   `secrets:get:project/ops*`. A scope matching `p*` only because its own
//!   prefix is shorter than `p` (`assume:a*` against role `abc*`) has
//!   parameter `*`.
//!
//! Expansion is the fixpoint of these rules. Taskcluster rejects any role set
//! in which a role can (directly or through others) grant a scope matching
//! itself, *plain cycles included* (`a → assume:b`, `b → assume:a`), because
//! with parameters such cycles can grow scopes without bound; see
//! [`RoleError::Cycle`]. Acyclicity also bounds the fixpoint's work.
//!
//! Lookups go through hash maps and a sorted key index built once, so an
//! expansion costs roughly "one hash probe per distinct role-prefix length, per
//! `assume:` scope reached" and does not scan all roles.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crate::scopes::{is_valid_scope, normalize_scopes, normalize_sorted, scope_compare};

/// The parameter marker in the scopes of a role whose id ends in `*`.
const PARAM: &str = "<..>";
const ASSUME: &str = "assume:";

/// A role as stored: `assume:<role_id>` grants `scopes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    pub role_id: String,
    pub scopes: Vec<String>,
}

impl Role {
    pub fn new<I, S>(role_id: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Role {
            role_id: role_id.into(),
            scopes: scopes.into_iter().map(Into::into).collect(),
        }
    }
}

/// Why a set of roles cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    /// Role ids are non-empty printable ASCII.
    #[error("invalid roleId {0:?}: must be non-empty printable ASCII")]
    InvalidRoleId(String),
    /// A scope that is not printable ASCII, or a parameterized scope
    /// Taskcluster forbids (several `<..>`, or `*<..>` at the end, where the
    /// `*` would be ambiguous).
    #[error("role {role_id:?} has invalid scope {scope:?}: {reason}")]
    InvalidScope {
        role_id: String,
        scope: String,
        reason: String,
    },
    /// Taskcluster's `DependencyCycleError`: following the roles, starting from
    /// the first one, leads back to it. `cycle` lists role ids, first == last.
    #[error("roles may not contain dependency cycles, found: {}", .cycle.join(" -> "))]
    Cycle { cycle: Vec<String> },
}

/// One role, pre-processed.
#[derive(Debug)]
struct CompiledRole {
    role_id: String,
    /// Role id ends in `*`: matches by prefix and may have parameters.
    kleene: bool,
    /// Scopes granted as they are, normalized.
    fixed: Vec<String>,
    /// Parameterized scopes `before<..>after` as `(before, after)` (only for
    /// `kleene` roles; elsewhere `<..>` is literal).
    params: Vec<(String, String)>,
}

impl CompiledRole {
    /// The scopes this role grants when reached with parameter `param`
    /// (`None` for roles that are not parameterized).
    fn grants<'r>(&'r self, param: Option<&str>, mut emit: impl FnMut(Cow<'r, str>)) {
        for s in &self.fixed {
            emit(Cow::Borrowed(s.as_str()));
        }
        let param = param.unwrap_or("");
        for (before, after) in &self.params {
            let scope = if param.ends_with('*') {
                format!("{before}{param}")
            } else {
                format!("{before}{param}{after}")
            };
            emit(Cow::Owned(scope));
        }
    }

    /// A worst-case stand-in for each granted scope, used to find which roles
    /// this one can lead to: parameters become `*`, as in Taskcluster.
    fn dependency_scopes(&self) -> impl Iterator<Item = Cow<'_, str>> {
        let fixed = self.fixed.iter().map(|s| Cow::Borrowed(s.as_str()));
        let params = self
            .params
            .iter()
            .map(|(before, _)| Cow::Owned(format!("{before}*")));
        fixed.chain(params)
    }
}

/// Expands scopes through a fixed set of roles. Build once per role-set
/// change; [`RoleResolver::expand`] is cheap and takes `&self`.
#[derive(Debug)]
pub struct RoleResolver {
    roles: Vec<CompiledRole>,
    /// Role id → index, for roles not ending in `*`.
    exact: HashMap<String, usize>,
    /// Role id without its final `*` → index, for roles ending in `*`.
    prefixed: HashMap<String, usize>,
    /// The distinct lengths of the keys of `prefixed`, ascending, so a lookup
    /// probes only lengths that exist.
    prefixed_lens: Vec<usize>,
    /// (key, index) sorted by key bytes, where the key is the role id without
    /// a final `*`: the roles a scope `assume:P*` reaches are one contiguous
    /// range, the keys starting with `P`.
    by_key: Vec<(String, usize)>,
}

impl RoleResolver {
    /// Validate and index `roles`. Roles with the same id are merged.
    pub fn new(roles: Vec<Role>) -> Result<RoleResolver, RoleError> {
        let mut merged: Vec<Role> = Vec::with_capacity(roles.len());
        let mut position: HashMap<String, usize> = HashMap::with_capacity(roles.len());
        for role in roles {
            match position.get(&role.role_id) {
                Some(&i) => merged[i].scopes.extend(role.scopes),
                None => {
                    position.insert(role.role_id.clone(), merged.len());
                    merged.push(role);
                }
            }
        }

        let compiled = merged
            .into_iter()
            .map(compile)
            .collect::<Result<Vec<_>, _>>()?;

        let mut exact = HashMap::new();
        let mut prefixed = HashMap::new();
        let mut by_key = Vec::with_capacity(compiled.len());
        for (i, role) in compiled.iter().enumerate() {
            let key = role.role_id.strip_suffix('*').filter(|_| role.kleene);
            match key {
                Some(key) => {
                    prefixed.insert(key.to_string(), i);
                    by_key.push((key.to_string(), i));
                }
                None => {
                    exact.insert(role.role_id.clone(), i);
                    by_key.push((role.role_id.clone(), i));
                }
            }
        }
        by_key.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut prefixed_lens: Vec<usize> = prefixed.keys().map(String::len).collect();
        prefixed_lens.sort_unstable();
        prefixed_lens.dedup();

        let resolver = RoleResolver {
            roles: compiled,
            exact,
            prefixed,
            prefixed_lens,
            by_key,
        };
        resolver.check_acyclic()?;
        Ok(resolver)
    }

    /// The number of (distinct) roles.
    pub fn len(&self) -> usize {
        self.roles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }

    /// All scopes `scopes` grant through the roles, the input included,
    /// normalized and sorted by [`crate::scopes::scope_compare`].
    pub fn expand<S: AsRef<str>>(&self, scopes: &[S]) -> Vec<String> {
        // `*` satisfies every scope, so the normalized expansion is `*` alone; answering at once
        // spares walking every role (the root client holds `*` and authenticates constantly).
        if scopes.iter().any(|s| s.as_ref() == "*") {
            return vec!["*".to_string()];
        }
        let mut seen: HashSet<Cow<'_, str>> = HashSet::with_capacity(scopes.len() * 8);
        for s in scopes {
            let s = s.as_ref();
            if !seen.contains(s) {
                seen.insert(Cow::Owned(s.to_string()));
            }
        }
        // A scope reaching every role (`*`, `assume:*`, `assume*`, …) gets
        // each role with parameter `*`, whose grants satisfy whatever any
        // other scope could reach through that role: one pass, no fixpoint.
        if scopes.iter().any(|s| role_input(s.as_ref()) == Some("*")) {
            self.for_each_match("*", |i, param| {
                self.roles[i].grants(param, |granted| {
                    if !seen.contains(granted.as_ref()) {
                        seen.insert(granted);
                    }
                });
            });
        } else {
            // Only scopes that can reach roles are worth a lookup.
            let mut pending: Vec<Cow<'_, str>> = seen
                .iter()
                .filter(|s| role_input(s).is_some())
                .cloned()
                .collect();
            while let Some(scope) = pending.pop() {
                let Some(input) = role_input(&scope) else {
                    continue;
                };
                self.for_each_match(input, |i, param| {
                    self.roles[i].grants(param, |granted| {
                        if seen.contains(granted.as_ref()) {
                            return;
                        }
                        if role_input(&granted).is_some() {
                            pending.push(granted.clone());
                        }
                        seen.insert(granted);
                    });
                });
            }
        }
        let mut all: Vec<Cow<'_, str>> = seen.into_iter().collect();
        all.sort_unstable_by(|a, b| scope_compare(a, b));
        // normalize before allocating, so only the survivors are copied
        normalize_sorted(all)
            .into_iter()
            .map(Cow::into_owned)
            .collect()
    }

    /// Calls `f(role index, parameter)` for every role `assume:<input>`
    /// reaches. The parameter is `Some` exactly for roles ending in `*`.
    fn for_each_match<'i>(&self, input: &'i str, mut f: impl FnMut(usize, Option<&'i str>)) {
        match input.strip_suffix('*') {
            Some(prefix) => {
                // Every role whose key starts with the prefix (parameter `*`)…
                let start = self
                    .by_key
                    .partition_point(|(key, _)| key.as_bytes() < prefix.as_bytes());
                for (key, i) in &self.by_key[start..] {
                    if !key.starts_with(prefix) {
                        break;
                    }
                    f(*i, self.roles[*i].kleene.then_some("*"));
                }
                // …and every `q*` role with `q` a proper prefix of it.
                for &len in &self.prefixed_lens {
                    if len >= prefix.len() {
                        break;
                    }
                    if let Some((key, rest)) = split_at_checked(input, len) {
                        if let Some(&i) = self.prefixed.get(key) {
                            f(i, Some(rest));
                        }
                    }
                }
            }
            None => {
                if let Some(&i) = self.exact.get(input) {
                    f(i, None);
                }
                for &len in &self.prefixed_lens {
                    if len > input.len() {
                        break;
                    }
                    if let Some((key, rest)) = split_at_checked(input, len) {
                        if let Some(&i) = self.prefixed.get(key) {
                            f(i, Some(rest));
                        }
                    }
                }
            }
        }
    }

    /// Taskcluster's `dependencyOrdering`: role A depends on role B if a scope
    /// of A (parameters taken as `*`) reaches B. Any cycle, self-loops
    /// included, is an error. Iterative DFS, so long chains cannot overflow
    /// the stack.
    fn check_acyclic(&self) -> Result<(), RoleError> {
        const NEW: u8 = 0;
        const ON_STACK: u8 = 1;
        const DONE: u8 = 2;
        let mut state = vec![NEW; self.roles.len()];
        for root in 0..self.roles.len() {
            if state[root] != NEW {
                continue;
            }
            state[root] = ON_STACK;
            let mut stack: Vec<(usize, Vec<usize>)> = vec![(root, self.dependencies(root))];
            while let Some((node, deps)) = stack.last_mut() {
                let Some(next) = deps.pop() else {
                    state[*node] = DONE;
                    stack.pop();
                    continue;
                };
                match state[next] {
                    NEW => {
                        state[next] = ON_STACK;
                        let deps = self.dependencies(next);
                        stack.push((next, deps));
                    }
                    ON_STACK => {
                        let from = stack.iter().position(|(n, _)| *n == next).unwrap_or(0);
                        let mut cycle: Vec<String> = stack[from..]
                            .iter()
                            .map(|(n, _)| self.roles[*n].role_id.clone())
                            .collect();
                        cycle.push(self.roles[next].role_id.clone());
                        return Err(RoleError::Cycle { cycle });
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The roles role `i` can lead to, in reverse discovery order (the DFS pops
    /// from the end, so it visits them in discovery order).
    fn dependencies(&self, i: usize) -> Vec<usize> {
        let mut deps = Vec::new();
        for scope in self.roles[i].dependency_scopes() {
            if let Some(input) = role_input(&scope) {
                self.for_each_match(input, |j, _| deps.push(j));
            }
        }
        deps.sort_unstable();
        deps.dedup();
        deps.reverse();
        deps
    }
}

/// The role-id pattern a held scope asks for: the rest of an `assume:` scope,
/// or `*` for a scope such as `*`, `a*` or `assume*` whose prefix is a prefix
/// of `assume:` (it satisfies every `assume:` scope). `None` if the scope
/// cannot reach any role.
///
/// Taskcluster's resolver selects these scopes with a regular expression that
/// (by a typo, `(:?` for `(?:`) also accepts `:*`, `::*`, `:a*`…, handing them
/// every role although they do not satisfy `assume:`; relyard does not copy
/// that.
fn role_input(scope: &str) -> Option<&str> {
    if let Some(rest) = scope.strip_prefix(ASSUME) {
        return Some(rest);
    }
    let prefix = scope.strip_suffix('*')?;
    ASSUME.starts_with(prefix).then_some("*")
}

fn split_at_checked(s: &str, mid: usize) -> Option<(&str, &str)> {
    if s.is_char_boundary(mid) {
        Some(s.split_at(mid))
    } else {
        None
    }
}

fn compile(role: Role) -> Result<CompiledRole, RoleError> {
    let Role { role_id, scopes } = role;
    if role_id.is_empty() || !is_valid_scope(&role_id) {
        return Err(RoleError::InvalidRoleId(role_id));
    }
    let invalid = |scope: &str, reason: &str| RoleError::InvalidScope {
        role_id: role_id.clone(),
        scope: scope.to_string(),
        reason: reason.to_string(),
    };
    let kleene = role_id.ends_with('*');
    let mut fixed = Vec::with_capacity(scopes.len());
    let mut params = Vec::new();
    for scope in scopes {
        if !is_valid_scope(&scope) {
            return Err(invalid(&scope, "scopes must be printable ASCII"));
        }
        match scope.split_once(PARAM).filter(|_| kleene) {
            None => fixed.push(scope),
            Some((before, after)) => {
                if after.contains(PARAM) {
                    return Err(invalid(
                        &scope,
                        "a parameterized scope may contain only one <..>",
                    ));
                }
                if after.is_empty() && before.ends_with('*') {
                    return Err(invalid(
                        &scope,
                        "a parameterized scope may not end with *<..>: the * would be ambiguous",
                    ));
                }
                params.push((before.to_string(), after.to_string()));
            }
        }
    }
    Ok(CompiledRole {
        role_id,
        kleene,
        fixed: normalize_scopes(fixed),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn roles(spec: &[(&str, &[&str])]) -> Vec<Role> {
        spec.iter()
            .map(|(id, scopes)| Role::new(*id, scopes.iter().copied()))
            .collect()
    }

    fn resolver(spec: &[(&str, &[&str])]) -> RoleResolver {
        RoleResolver::new(roles(spec)).expect("valid roles")
    }

    fn sorted(mut s: Vec<String>) -> Vec<String> {
        s.sort_by(|a, b| scope_compare(a, b));
        s
    }

    /// Taskcluster's `scoperesolver_test.js` `buildResolver` cases.
    #[test]
    fn resolver_cases() {
        type Case<'a> = (
            &'a str,
            &'a [(&'a str, &'a [&'a str])],
            &'a [&'a str],
            &'a [&'a str],
        );
        let cases: &[Case] = &[
            ("pass through", &[], &["a", "b", "c*"], &["a", "b", "c*"]),
            ("normalized", &[], &["a*", "ab", "ac*", "a"], &["a*"]),
            (
                "assume:a* matches a, aa, ab, a*",
                &[
                    ("a", &["A"]),
                    ("aa", &["AA"]),
                    ("ab", &["AB"]),
                    ("a*", &["ASTAR"]),
                ],
                &["assume:a*"],
                &["assume:a*", "A", "AA", "AB", "ASTAR"],
            ),
            (
                "ab* matches ab, abc",
                &[("a", &["A"]), ("ab", &["AB"]), ("abc", &["ABC"])],
                &["assume:ab*"],
                &["assume:ab*", "AB", "ABC"],
            ),
            (
                "a gets a*",
                &[("a*", &["ASTAR"]), ("ab*", &["ABSTAR"])],
                &["assume:a"],
                &["assume:a", "ASTAR"],
            ),
            (
                "max sets (with long scopes)",
                &[
                    ("ab*", &["ABSTAR"]),
                    ("aaaaaaaaaaaaa", &["long"]),
                    (
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                        &["longer"],
                    ),
                    (
                        "ababaabdssafsdcsdcsacwscwcscsesdsdfdsfdsfsdfsfdsdfsdfsdfsafewfsewfwsd",
                        &["longest"],
                    ),
                ],
                &["assume:ab*"],
                &["assume:ab*", "ABSTAR", "longest"],
            ),
            (
                "ab gets ab*, a*",
                &[("ab*", &["ABSTAR"]), ("a*", &["ASTAR"])],
                &["assume:ab"],
                &["assume:ab", "ABSTAR", "ASTAR"],
            ),
            (
                "a gets * and a*",
                &[("*", &["STAR"]), ("a*", &["ASTAR"])],
                &["assume:a"],
                &["assume:a", "STAR", "ASTAR"],
            ),
            (
                "a*, b*, c*",
                &[
                    ("a*", &["ASTAR"]),
                    ("ab*", &["ABSTAR"]),
                    ("ac*", &["ACSTAR"]),
                    ("d", &["D"]),
                ],
                &["assume:ab"],
                &["assume:ab", "ASTAR", "ABSTAR"],
            ),
            (
                "aa* matches a*",
                &[("a*", &["ASTAR"]), ("aabc", &["AABC"])],
                &["assume:aa*"],
                &["assume:aa*", "ASTAR", "AABC"],
            ),
            (
                "* gets all",
                &[("a", &["A"]), ("b", &["B"]), ("c", &["C"])],
                &["*"],
                &["*"],
            ),
            (
                "a* gets all",
                &[("a", &["A"]), ("b", &["B"]), ("c", &["C"])],
                &["a*"],
                &["a*", "A", "B", "C"],
            ),
            (
                "assume* gets all",
                &[("a", &["A"]), ("b", &["B"]), ("c", &["C"])],
                &["assume*"],
                &["assume*", "A", "B", "C"],
            ),
            (
                "assume:* gets all",
                &[("a", &["A"]), ("b", &["B"]), ("c", &["C"])],
                &["assume:*"],
                &["assume:*", "A", "B", "C"],
            ),
            (
                "assum* gets all",
                &[("a", &["A"]), ("b", &["B"]), ("c", &["C"])],
                &["assum*"],
                &["assum*", "A", "B", "C"],
            ),
            (
                "assume:a works",
                &[("a", &["A"]), ("b", &["B"]), ("c", &["C"])],
                &["assume:a"],
                &["assume:a", "A"],
            ),
            (
                "exact match ab",
                &[("a", &["A"]), ("ab", &["AB"]), ("abc", &["ABC"])],
                &["assume:ab"],
                &["assume:ab", "AB"],
            ),
            (
                "ab* matches a*",
                &[("a*", &["ASTAR"]), ("ab", &["AB"]), ("abc", &["ABC"])],
                &["assume:ab*"],
                &["assume:ab*", "ASTAR", "AB", "ABC"],
            ),
            (
                "ab matches ab, a*",
                &[("a*", &["ASTAR"]), ("ab", &["AB"]), ("abc", &["ABC"])],
                &["assume:ab"],
                &["assume:ab", "ASTAR", "AB"],
            ),
            (
                "a*b* matches a*b, a*bc",
                &[
                    ("a", &["A"]),
                    ("a*b", &["ASTARB"]),
                    ("a*bc", &["ASTARBC"]),
                    ("ab", &["AB"]),
                    ("abc", &["ABC"]),
                    ("b*", &["BSTAR"]),
                    ("c*", &["CSTAR"]),
                    ("ab*", &["ABSTAR"]),
                ],
                &["assume:a*b*"],
                &["assume:a*b*", "ASTARB", "ASTARBC"],
            ),
            (
                "a*b matches a*, a*b",
                &[
                    ("a*", &["ASTAR"]),
                    ("a*b", &["ASTARB"]),
                    ("a*bc", &["ASTARBC"]),
                    ("ab", &["AB"]),
                    ("abc", &["ABC"]),
                    ("b*", &["BSTAR"]),
                    ("c*", &["CSTAR"]),
                    ("ab*", &["ABSTAR"]),
                ],
                &["assume:a*b"],
                &["assume:a*b", "ASTARB", "ASTAR"],
            ),
            (
                "a*b* matches a*, a*b, a*bc",
                &[
                    ("a*", &["ASTAR"]),
                    ("a*b", &["ASTARB"]),
                    ("a*bc", &["ASTARBC"]),
                    ("ab", &["AB"]),
                    ("abc", &["ABC"]),
                    ("b*", &["BSTAR"]),
                    ("c*", &["CSTAR"]),
                    ("ab*", &["ABSTAR"]),
                ],
                &["assume:a*b*"],
                &["assume:a*b*", "ASTARB", "ASTARBC", "ASTAR"],
            ),
            (
                "basic parameterized role",
                &[("a*", &["A<..>"])],
                &["assume:abc"],
                &["assume:abc", "Abc"],
            ),
            (
                "basic parameterized role, matched with *",
                &[("a*", &["A<..>"])],
                &["assume:abc*"],
                &["assume:abc*", "Abc*"],
            ),
            (
                "parameterized role with suffix",
                &[("a*", &["A<..>X"])],
                &["assume:abc"],
                &["assume:abc", "AbcX"],
            ),
            (
                "parameterized role with suffix, matched with *",
                &[("a*", &["A<..>X"])],
                &["assume:abc*"],
                &["assume:abc*", "Abc*"],
            ),
            (
                "parameterized role with suffix, matched with a shorter *",
                &[("abc*", &["ABC<..>DEF"])],
                &["assume:a*"],
                &["assume:a*", "ABC*"],
            ),
        ];
        for (title, spec, input, expected) in cases {
            let got = resolver(spec).expand(input);
            assert_eq!(got, sorted(v(expected)), "{title}");
        }
    }

    /// Taskcluster's `trietestcases.js`: 25 rule sets. A rule `p -> s` is the
    /// role `p` with scope `assume:s`, and an input `x` is `assume:x`; the
    /// expected expansion is the listed scopes plus the input, normalized.
    const TRIE_CASES: &[(&str, &str, &str)] = &[
        (
            "simple",
            "a -> A\n b -> B C",
            "a => A\n b => B C\n c =>\n * => A B C",
        ),
        (
            "parameterized direct",
            "a -> A\n b -> B C\n c* -> C\n d* -> D<..>\n e* -> E<..>F",
            "a => A\n b => B C\n c => C\n cccc => C\n cX => C\n c* => C\n dX => DX\n \
             dXYZ => DXYZ\n d* => D*\n dXY* => DXY*\n eX => EXF\n eXYZ => EXYZF\n e* => E*\n \
             eXY* => EXY*\n q =>\n * => A B C D* E*",
        ),
        (
            "star",
            "a*a -> A",
            "a =>\n a* => A\n a*a => A\n a*a* => A\n a*aa* =>\n b =>\n => \n * => A",
        ),
        (
            "parameterized indirect",
            "a:* -> q<..>\n a -> b\n b -> cc eX*\n c* -> dYY\n d* -> eZZZ\n e* -> f<..>g\n \
             ff* -> h<..>j*\n hej -> hello\n hej2 -> hello2\n h* -> H\n q* -> Q",
            "a => b cc dYY eZZZ fZZZg eX* fX*\n aa =>\n a:a => qa Q\n a:aa => qaa Q\n z =>\n \
             eU* => fU*\n e* => f* h* hello hello2 H\n e123 => f123g\n eU => fUg\n \
             hej => hello H\n hej2 => hello2 H\n hh => H\n efy => ffyg hygj* H\n \
             ef* => ff* h* H\n ffe => hej* hello hello2 H\n f* => h* H\n ff => hj* H\n \
             * => q* b cc eX* dYY eZZZ f* h* H Q",
        ),
        (
            "pattern hierarchy",
            "a* -> A\n aa* -> AA\n aaa* -> AAA\n ab* -> AB\n abc* -> ABC",
            "a => A\n aa => A AA\n aaa => A AA AAA\n aaaa => A AA AAA\n aa* => A AA AAA\n \
             ab => A AB\n abc => A AB ABC\n abcd => A AB ABC\n ab* => A AB ABC\n \
             a* => A AA AAA AB ABC",
        ),
        (
            "prefix-parameterized hierarchy",
            "a* -> A<..>\n aa* -> AA<..>\n aaa* -> AAA<..>\n ab* -> AB<..>\n abc* -> ABC<..>",
            "a => A\n aa => Aa AA\n aaa => Aaa AAa AAA\n aaaa => Aaaa AAaa AAAa\n \
             aa* => Aa* AA*\n ab => Ab AB\n abc => Abc ABc ABC\n abcd => Abcd ABcd ABCd\n \
             ab* => Ab* AB*\n a* => A*",
        ),
        (
            "parameterized hierarchy",
            "a* -> A<..>X\n aa* -> AA<..>X\n aaa* -> AAA<..>X\n ab* -> AB<..>X\n \
             abc* -> ABC<..>X",
            "a => AX\n aa => AaX AAX\n aaa => AaaX AAaX AAAX\n aaaa => AaaaX AAaaX AAAaX\n \
             aa* => Aa* AA*\n ab => AbX ABX\n abc => AbcX ABcX ABCX\n \
             abcd => AbcdX ABcdX ABCdX\n ab* => Ab* AB*\n a* => A*",
        ),
        (
            "parameterized kleene hierarchy",
            "a* -> A<..>*\n aa* -> AA<..>*\n aaa* -> AAA<..>*\n ab* -> AB<..>*\n \
             abc* -> ABC<..>*",
            "a => A*\n aa => Aa* AA*\n aaa => Aaa* AAa* AAA*\n aaaa => Aaaa* AAaa* AAAa*\n \
             aa* => Aa* AA*\n ab => Ab* AB*\n abc => Abc* ABc* ABC*\n \
             abcd => Abcd* ABcd* ABCd*\n ab* => Ab* AB*\n a* => A*",
        ),
        (
            "parameterized suffixed kleene hierarchy",
            "a* -> A<..>X*\n aa* -> AA<..>X*\n aaa* -> AAA<..>X*\n ab* -> AB<..>X*\n \
             abc* -> ABC<..>X*",
            "a => AX*\n aa => AaX* AAX*\n aaa => AaaX* AAaX* AAAX*\n \
             aaaa => AaaaX* AAaaX* AAAaX*\n aa* => Aa* AA*\n ab => AbX* ABX*\n \
             abc => AbcX* ABcX* ABCX*\n abcd => AbcdX* ABcdX* ABCdX*\n ab* => Ab* AB*\n \
             a* => A*",
        ),
        (
            "acyclic parameterized rules",
            "a -> START\n aaa* -> bb<..>BB\n b* -> ccc<..>*\n cc* -> dd<..>C\n ddcbXBB -> C\n \
             dd* -> eee<..>D*\n ddXC -> hello-world you-made-it",
            "a => START\n aaaX => bbXBB cccbXBB* ddcbXBB* C eeecbXBB*\n \
             ccX => ddXC eeeXCD* hello-world you-made-it\n ddd => eeedD*",
        ),
        (
            "acyclic parameterized matching pattern",
            "a* -> bb<..>BB\n b* -> cc<..>*\n c* -> dd<..>C\n ddcbXBB -> C",
            "aX => bbXBB ccbXBB* ddcbXBB* C",
        ),
        ("no rules", "", " =>\n a =>\n * =>\n abc* =>"),
        (
            "simple rules",
            "a -> A1 A2\n b -> B1 B2",
            " =>\n * => A1 A2 B1 B2\n a => A1 A2\n a* => A1 A2\n b => B1 B2\n b* => B1 B2\n ab =>",
        ),
        (
            "simple rules in a DAG",
            "a -> c\n b -> c\n c -> D",
            " =>\n c => D\n a => c D\n b => c D\n * => c D\n a* => c D\n b* => c D",
        ),
        (
            "prefix matching rules in a DAG",
            "a* -> c\n b* -> c\n c* -> D",
            " =>\n c => D\n a => c D\n b => c D\n * => c D\n a* => c D\n b* => c D",
        ),
        (
            "parameterized rule variations",
            "A* -> b c* d<..> e<..>* f<..>g h<..>i*\n \
             BC* -> b c* d<..> e<..>* f<..>g h<..>i*\n \
             B*C* -> b c* d<..> e<..>* f<..>g h<..>i*",
            " =>\n A => b c* d e* fg hi*\n AX => b c* dX eX* fXg hXi*\n \
             AXyX => b c* dXyX eXyX* fXyXg hXyXi*\n AX*X => b c* dX*X eX*X* fX*Xg hX*Xi*\n \
             AZZ* => b c* dZZ* eZZ* fZZ* hZZ*\n AZZ*** => b c* dZZ*** eZZ*** fZZ*** hZZ***\n \
             A* => b c* d* e* f* h*\n A*X => b c* d*X e*X* f*Xg h*Xi*\n \
             BC => b c* d e* fg hi*\n BCX => b c* dX eX* fXg hXi*\n \
             BCXyX => b c* dXyX eXyX* fXyXg hXyXi*\n BCX*X => b c* dX*X eX*X* fX*Xg hX*Xi*\n \
             BCZZ* => b c* dZZ* eZZ* fZZ* hZZ*\n BCZZ*** => b c* dZZ*** eZZ*** fZZ*** hZZ***\n \
             BC* => b c* d* e* f* h*\n BC*X => b c* d*X e*X* f*Xg h*Xi*\n \
             B*C => b c* d e* fg hi*\n B*CX => b c* dX eX* fXg hXi*\n \
             B*CXyX => b c* dXyX eXyX* fXyXg hXyXi*\n B*CX*X => b c* dX*X eX*X* fX*Xg hX*Xi*\n \
             B*CZZ* => b c* dZZ* eZZ* fZZ* hZZ*\n B*CZZ** => b c* dZZ** eZZ** fZZ** hZZ**\n \
             B*C* => b c* d* e* f* h*\n B*C*X => b c* d*X e*X* f*Xg h*Xi*",
        ),
        (
            "parameterized role DAG",
            "a* -> c<..>A\n b* -> c<..>B*\n c* -> e<..>",
            "a => cA eA\n abc => cbcA ebcA\n bXYX => cXYXB* eXYXB*",
        ),
        (
            "chain of rules",
            "a -> b\n b -> c\n c -> d\n d -> e\n e -> f\n f -> g\n g -> abc\n abc -> 1\n \
             1 -> 12\n 12 -> 123\n 123 -> 1234\n 1234 -> 12345\n 12345 -> GOAL\n num -> 1*",
            "a => b c d e f g abc 1 12 123 1234 12345 GOAL\n \
             d => e f g abc 1 12 123 1234 12345 GOAL\n abc => 1 12 123 1234 12345 GOAL\n \
             1 => 12 123 1234 12345 GOAL\n num => 1* GOAL\n num* => 1* GOAL\n \
             n* => 1* GOAL\n ??? =>",
        ),
        (
            "hierarchy of chained rules",
            "a -> A\n aa -> AA\n aaa -> AAA\n a* -> A_\n aa* -> AA_\n aaa* -> AAA_",
            "a => A A_\n aaaa => AAA_ AA_ A_\n aaa => A_ AA_ AAA_ AAA",
        ),
        (
            "chain of star-rules",
            "a -> b\n b -> c*\n c -> d--\n d* -> e*YY\n e** -> f\n f -> g\n g -> abc\n \
             abc -> 1\n 1 -> 12\n 12 -> 123*\n 123 -> 1234\n 1234 -> 12345\n 12345 -> GOAL\n \
             num -> 1*",
            "a => b c* d-- e*YY f g abc 1 12 123* GOAL\n d => e*YY f g abc 1 12 123* GOAL\n \
             abc => 1 12 123* GOAL\n 1 => 12 123* GOAL\n num => 1* GOAL\n \
             num* => 1* GOAL\n n* => 1* GOAL\n ??? =>",
        ),
        (
            "chain of parameterized rules",
            "aa* -> b<..>C\n bb -> cYY\n c* -> d**/<..>/",
            "a =>\n ??? =>\n aa => bC\n aab => bbC\n aab* => bb* cYY d**/YY/\n \
             a* => b* cYY d**/YY/\n aa* => b* cYY d**/YY/\n * => b* cYY d**/*",
        ),
        (
            "parameterized rules matches simple rule",
            "aa* -> b<..>C\n bb -> cYY",
            "a =>\n ??? =>\n aa => bC\n aab => bbC\n aab* => bb* cYY\n a* => b* cYY\n \
             aa* => b* cYY\n * => b* cYY",
        ),
        (
            "kleene in parameterization",
            "a* -> A<..>B*",
            "a => AB*\n a* => A*\n * => A*",
        ),
        (
            "example of namespacing with roles",
            "ns:* -> index:user.<..>.* notify:irc:<..>",
            "ns:jonasfj => index:user.jonasfj.* notify:irc:jonasfj\n \
             ns:* => index:user.* notify:irc:*\n ns:evil* => index:user.evil* notify:irc:evil*",
        ),
        (
            "match exact though parameterized role",
            "a* -> A<..>B*\n param:* -> A<..>B\n A-123-B -> GOAL\n ATB -> TARGET\n \
             ATB* -> TARGET++\n AT* -> prefix",
            "a => AB*\n a-123 => A-123B*\n a-123- => A-123-B* GOAL\n \
             a* => A* GOAL prefix TARGET TARGET++\n * => A* GOAL prefix TARGET TARGET++\n \
             param:T => ATB prefix TARGET TARGET++",
        ),
    ];

    /// Split "x op y z" lines into (x, [y, z]).
    fn parse_lines<'a>(text: &'a str, op: &str) -> Vec<(&'a str, Vec<&'a str>)> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let (lhs, rhs) = l.split_once(op).expect("operator");
                (lhs.trim(), rhs.split_whitespace().collect())
            })
            .collect()
    }

    #[test]
    fn taskcluster_trie_cases() {
        let assume = |s: &str| format!("assume:{s}");
        let mut pairs = 0;
        for (title, rules, results) in TRIE_CASES {
            let rules: Vec<Role> = parse_lines(rules, "->")
                .into_iter()
                .map(|(p, scopes)| Role::new(p, scopes.into_iter().map(assume)))
                .collect();
            let resolver = RoleResolver::new(rules)
                .unwrap_or_else(|e| panic!("{title}: unexpected error {e}"));
            for (input, expected) in parse_lines(results, "=>") {
                let mut want: Vec<String> = expected.into_iter().map(assume).collect();
                want.push(assume(input));
                let got = resolver.expand(&[assume(input)]);
                assert_eq!(got, normalize_scopes(want), "{title}: {input:?}");
                pairs += 1;
            }
        }
        assert_eq!(TRIE_CASES.len(), 25);
        assert_eq!(pairs, 201);
    }

    fn validate(spec: &[(&str, &[&str])]) -> Result<(), RoleError> {
        // Taskcluster shuffles the roles; the answer must not depend on order.
        let forward = RoleResolver::new(roles(spec)).map(|_| ());
        let mut reversed = roles(spec);
        reversed.reverse();
        let backward = RoleResolver::new(reversed).map(|_| ());
        assert_eq!(forward.is_ok(), backward.is_ok(), "{spec:?}");
        forward
    }

    /// Taskcluster's `validateRoles` cases that must be accepted.
    #[test]
    fn acyclic_role_sets_are_accepted() {
        let ok: &[&[(&str, &[&str])]] = &[
            &[("a", &["A"]), ("b", &["B"]), ("c", &["C"])],
            &[
                ("a", &["assume:c"]),
                ("b", &["assume:c"]),
                ("c", &["assume:e"]),
            ],
            &[
                ("a*", &["assume:c"]),
                ("b*", &["assume:c"]),
                ("c*", &["assume:e"]),
            ],
            &[("a*", &["assume:b"])],
            &[("a*", &["assume:b*"])],
            &[("a*", &["assume:b<..>"])],
            &[("a*", &["assume:b<..>*"])],
            &[("a*", &["assume:b<..>c"])],
            &[("a*", &["assume:b<..>c*"])],
            &[
                ("a*", &["assume:c<..>A"]),
                ("b*", &["assume:c<..>B*"]),
                ("c*", &["assume:e<..>"]),
            ],
            &[
                ("abc", &["assume:def"]),
                ("def", &["assume:ghi"]),
                ("ghi", &["assume:jkl"]),
                ("jkl", &["assume:abcd"]),
            ],
            &[
                ("abc", &["assume:def"]),
                ("def", &["assume:ghi"]),
                ("ghi", &["assume:xyz"]),
                ("jkl", &["assume:xyz"]),
            ],
            &[
                ("abc", &["assume:xyz"]),
                ("def", &["assume:xyz"]),
                ("ghi", &["assume:xyz"]),
                ("jkl", &["assume:xyz"]),
                ("xyz", &["some-scope"]),
            ],
            &[
                ("abc", &["assume:d*"]),
                ("def", &["assume:ghi"]),
                ("g*", &["assume:jkl"]),
                ("jkl", &["assume:ab"]),
            ],
            &[
                ("bb*", &["assume:cd<..>"]),
                ("cde*", &["assume:de<..>x"]),
                ("d*", &["assume:b"]),
            ],
            // `<..>` in a role not ending in `*` is literal
            &[("a", &["assume:a<..>"])],
        ];
        for spec in ok {
            assert_eq!(validate(spec), Ok(()), "{spec:?}");
        }
    }

    /// Taskcluster's `validateRoles` cases that are `DependencyCycleError`s.
    #[test]
    fn cyclic_role_sets_are_rejected() {
        let cyclic: &[&[(&str, &[&str])]] = &[
            &[
                ("a", &["assume:c"]),
                ("b", &["assume:c"]),
                ("c", &["assume:a"]),
            ],
            &[
                ("a*", &["assume:c"]),
                ("b*", &["assume:c"]),
                ("c*", &["assume:a"]),
            ],
            &[
                ("a*", &["assume:c<..>A"]),
                ("b*", &["assume:c<..>B*"]),
                ("c*", &["assume:a<..>"]),
            ],
            &[
                ("a*", &["assume:c<..>A"]),
                ("b*", &["assume:c<..>B*"]),
                ("c*", &["assume:b<..>"]),
            ],
            &[
                ("a*", &["assume:c<..>A"]),
                ("b*", &["assume:c<..>B*"]),
                ("c*", &["assume:<..>"]),
            ],
            &[
                ("a*", &["assume:c<..>A"]),
                ("b*", &["assume:c<..>B*"]),
                ("c*", &["assume:b"]),
            ],
            &[("abc", &["assume:abc"])],
            &[("abc", &["assume:ab*"])],
            &[("ab*", &["assume:abc"])],
            &[("ab*", &["assume:abc*"])],
            &[("a*", &["assume:ab<..>"])],
            &[("a*", &["assume:a<..>x"])],
            &[("a*", &["assume:ab<..>x"])],
            &[("a*", &["assume:b<..>x"]), ("b*", &["assume:a<..>"])],
            &[("a*", &["assume:b<..>x"]), ("bstuff*", &["assume:a<..>"])],
            &[("a*", &["assume:bstuff<..>x"]), ("b*", &["assume:a<..>"])],
            // a partial "assume:" that would still reach every role
            &[("b*", &["as<..>"])],
            &[
                ("b*", &["assume:cd<..>"]),
                ("cde*", &["assume:de<..>x"]),
                ("d*", &["assume:bx"]),
            ],
            // a role holding `*` or `assume:*` reaches itself
            &[("admin", &["*"])],
            &[("admin", &["assume:*"])],
        ];
        for spec in cyclic {
            match validate(spec) {
                Err(RoleError::Cycle { cycle }) => {
                    assert!(cycle.len() >= 2, "{cycle:?}");
                    assert_eq!(cycle.first(), cycle.last(), "{cycle:?}");
                }
                other => panic!("{spec:?}: expected a cycle, got {other:?}"),
            }
        }
    }

    #[test]
    fn cycle_error_names_the_roles_in_order() {
        let err = RoleResolver::new(roles(&[
            ("x", &["assume:a"]),
            ("a", &["assume:b"]),
            ("b", &["assume:c"]),
            ("c", &["assume:a"]),
        ]))
        .unwrap_err();
        assert_eq!(
            err,
            RoleError::Cycle {
                cycle: v(&["a", "b", "c", "a"])
            }
        );
        assert_eq!(
            err.to_string(),
            "roles may not contain dependency cycles, found: a -> b -> c -> a"
        );
    }

    #[test]
    fn invalid_roles_are_rejected() {
        let invalid_scope: &[&[(&str, &[&str])]] = &[
            &[("a*", &["assume:b*<..>"])],
            &[("a*", &["assume:b<..>c<..>"])],
            &[("a*", &["assume:b<..><..>"])],
            &[("a*", &["assume:b<..>c<..>d"])],
            &[("a*", &["bc*<..>"])],
            &[("a", &["new\nline"])],
        ];
        for spec in invalid_scope {
            assert!(
                matches!(validate(spec), Err(RoleError::InvalidScope { .. })),
                "{spec:?}"
            );
        }
        assert!(matches!(
            RoleResolver::new(roles(&[("", &["x"])])),
            Err(RoleError::InvalidRoleId(_))
        ));
        assert!(matches!(
            RoleResolver::new(roles(&[("caf\u{e9}", &["x"])])),
            Err(RoleError::InvalidRoleId(_))
        ));
    }

    #[test]
    fn parameter_substitution_edge_cases() {
        let r = resolver(&[
            (
                "project-admin:*",
                &["secrets:get:project/<..>/x", "assume:project:<..>"],
            ),
            ("project:*", &["queue:route:index.project.<..>.*"]),
        ]);
        assert_eq!(
            r.expand(&["assume:project-admin:ops"]),
            sorted(v(&[
                "assume:project-admin:ops",
                "assume:project:ops",
                "queue:route:index.project.ops.*",
                "secrets:get:project/ops/x",
            ]))
        );
        // a parameter ending in `*` drops what follows `<..>`
        assert_eq!(
            r.expand(&["assume:project-admin:ops*"]),
            sorted(v(&[
                "assume:project-admin:ops*",
                "assume:project:ops*",
                "queue:route:index.project.ops*",
                "secrets:get:project/ops*",
            ]))
        );
        // a `*` inside the parameter (not at its end) is literal
        assert_eq!(
            r.expand(&["assume:project-admin:o*s"]),
            sorted(v(&[
                "assume:project-admin:o*s",
                "assume:project:o*s",
                "queue:route:index.project.o*s.*",
                "secrets:get:project/o*s/x",
            ]))
        );
        // only the first `<..>` of a role not ending in `*`... is literal there
        let literal = resolver(&[("a", &["x<..>y"])]);
        assert_eq!(
            literal.expand(&["assume:a"]),
            sorted(v(&["assume:a", "x<..>y"]))
        );
    }

    #[test]
    fn non_assume_scopes_and_odd_inputs() {
        let r = resolver(&[("a", &["A"]), ("*", &["STAR"])]);
        // only scopes satisfying some `assume:` scope reach roles
        assert_eq!(r.expand(&["as"]), v(&["as"]));
        assert_eq!(r.expand(&["b*"]), v(&["b*"]));
        // Taskcluster's regex typo would give these every role; we do not
        assert_eq!(r.expand(&[":*"]), v(&[":*"]));
        assert_eq!(r.expand(&[":a*"]), v(&[":a*"]));
        // "assume:" alone still reaches role `*` (empty parameter)
        assert_eq!(r.expand(&["assume:"]), sorted(v(&["assume:", "STAR"])));
        // non-ASCII input does not panic
        assert_eq!(
            r.expand(&["assume:\u{e9}*"]),
            sorted(v(&["STAR", "assume:\u{e9}*"]))
        );
        let empty: [&str; 0] = [];
        assert!(r.expand(&empty).is_empty());
        // duplicates and already-covered input are normalized away
        assert_eq!(
            r.expand(&["assume:a", "assume:a", "A"]),
            sorted(v(&["A", "STAR", "assume:a"]))
        );
    }

    #[test]
    fn duplicate_role_ids_are_merged() {
        let r = RoleResolver::new(vec![Role::new("a", ["A"]), Role::new("a", ["B"])]).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r.expand(&["assume:a"]), sorted(v(&["A", "B", "assume:a"])));
    }

    /// Taskcluster's performance-suite shapes: a chain of 500 roles and a tree.
    #[test]
    fn chain_and_tree() {
        let n = 500;
        let mut chain: Vec<Role> = (0..n)
            .map(|i| Role::new(format!("ch-{i}"), [format!("assume:ch-{}", i + 1)]))
            .collect();
        chain.push(Role::new(format!("ch-{n}"), ["special-scope"]));
        let r = RoleResolver::new(chain).unwrap();
        let mut expected: Vec<String> = (0..=n).map(|i| format!("assume:ch-{i}")).collect();
        expected.push("special-scope".into());
        assert_eq!(r.expand(&["assume:ch-0"]), normalize_scopes(expected));

        // t -> t-0, t-1; t-0 -> t-0-0, t-0-1; ... three levels deep
        fn tree(prefix: String, depth: u32, out: &mut Vec<Role>) {
            let children: Vec<String> = (0..2).map(|w| format!("{prefix}-{w}")).collect();
            if depth < 3 {
                for c in &children {
                    tree(c.clone(), depth + 1, out);
                }
            }
            out.push(Role::new(
                prefix,
                children.iter().map(|c| format!("assume:{c}")),
            ));
        }
        let mut roles = Vec::new();
        tree("t".into(), 0, &mut roles);
        let mut expected: Vec<String> = roles.iter().flat_map(|r| r.scopes.clone()).collect();
        expected.push("assume:t".into());
        let r = RoleResolver::new(roles).unwrap();
        assert_eq!(r.expand(&["assume:t"]), normalize_scopes(expected));
    }

    /// Cross-check the indexed lookup against a direct transcription of the
    /// rules (Taskcluster's `evalRulesRecursively` reference semantics) on a
    /// generated role set.
    #[test]
    fn index_agrees_with_naive_semantics() {
        let alphabet = [
            "a", "b", "ab", "a*", "*", "b*", "ba", "aab", "c*", "c**", "c*x",
        ];
        let role_set = roles(&[
            ("a", &["A", "assume:x:a"]),
            ("ab", &["AB"]),
            ("a*", &["A<..>*", "P<..>Q"]),
            ("c**", &["C<..>D", "assume:ab"]),
            ("b*", &["assume:x:<..>", "B"]),
            ("*", &["ALL<..>"]),
            ("x:*", &["X<..>"]),
            ("x:ab", &["XAB"]),
            ("a*b", &["LITERAL"]),
        ]);
        let r = RoleResolver::new(role_set.clone()).unwrap();
        let naive = |input: &str| -> Vec<String> {
            let mut result = vec![input.to_string()];
            let mut queue = vec![input.to_string()];
            while let Some(s) = queue.pop() {
                for role in &role_set {
                    let pattern = format!("assume:{}", role.role_id);
                    // Taskcluster's test-suite patternMatch: the input's own
                    // trailing `*` is not part of what the pattern must prefix
                    let forward = pattern == s
                        || (pattern.ends_with('*')
                            && s.strip_suffix('*')
                                .unwrap_or(&s)
                                .starts_with(&pattern[..pattern.len() - 1]));
                    let backward = crate::scopes::scope_matches(&s, &pattern);
                    if !forward && !backward {
                        continue;
                    }
                    for scope in &role.scopes {
                        let granted = if !pattern.ends_with('*') || !scope.contains(PARAM) {
                            scope.clone()
                        } else {
                            let param = if forward {
                                s[pattern.len() - 1..].to_string()
                            } else {
                                "*".to_string()
                            };
                            let (before, after) = scope.split_once(PARAM).unwrap();
                            if s.ends_with('*') {
                                format!("{before}{param}")
                            } else {
                                format!("{before}{param}{after}")
                            }
                        };
                        if !result.contains(&granted) {
                            result.push(granted.clone());
                            queue.push(granted);
                        }
                    }
                }
            }
            normalize_scopes(result)
        };
        for x in alphabet {
            for y in ["", "a", "b", "*", "ab*", "x:", "x:a", "x:*"] {
                let input = format!("assume:{y}{x}");
                assert_eq!(r.expand(&[input.as_str()]), naive(&input), "{input}");
            }
        }
        assert_eq!(r.expand(&["*"]), v(&["*"]));
    }
}
