//! The parameters each action takes: the built-in twelve's, declared here, and the host's
//! own, declared in `acs.toml`. The engine passes parameters through untouched, so a
//! misspelt key reaches the host as an extra key and the one it reads as missing (a
//! `rejectRequest` with `cod:` rejects with `code: null`); only the linter can tell.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The type a parameter's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ParamType {
    /// A string (a template inside text renders to one).
    String,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A list.
    Array,
    /// A mapping.
    Object,
    /// Anything.
    Any,
}

impl ParamType {
    /// "a string", for messages.
    pub fn describe(self) -> &'static str {
        match self {
            ParamType::String => "a string",
            ParamType::Number => "a number",
            ParamType::Boolean => "`true` or `false`",
            ParamType::Array => "an array",
            ParamType::Object => "an object",
            ParamType::Any => "any value",
        }
    }
}

/// An action's parameters: each required and optional key with the type of its value.
///
/// ```toml
/// [actions.quarantineLoad]
/// required = { loadId = "string", reason = "string" }
/// optional = { note = "string" }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionShape {
    /// Keys every use of the action must write.
    pub required: BTreeMap<String, ParamType>,
    /// Keys it may write.
    pub optional: BTreeMap<String, ParamType>,
}

impl ActionShape {
    /// The type of `key`, when the action takes it.
    pub fn param(&self, key: &str) -> Option<ParamType> {
        self.required
            .get(key)
            .or_else(|| self.optional.get(key))
            .copied()
    }

    /// Every key the action takes, required first.
    pub fn keys(&self) -> Vec<&str> {
        self.required
            .keys()
            .chain(self.optional.keys())
            .map(String::as_str)
            .collect()
    }
}

use ParamType::{Any, Array, Object, String as Str};

type Params = &'static [(&'static str, ParamType)];

/// The built-in actions: name, required parameters, optional parameters. `rules/README.md`
/// documents the same table for analysts (a test keeps the two in step).
pub const BUILTIN_ACTIONS: [(&str, Params, Params); 12] = [
    (
        "freezeShipment",
        &[("shipmentId", Str), ("reason", Str)],
        &[],
    ),
    (
        "blockEntity",
        &[("entityType", Str), ("entityId", Any), ("reason", Str)],
        &[("severity", Str), ("scope", Str)],
    ),
    (
        "flagWatchlist",
        &[("entityType", Str), ("entityId", Str), ("reason", Str)],
        &[],
    ),
    ("emitEvent", &[("name", Str)], &[("payload", Object)]),
    (
        "requireManualReview",
        &[("team", Str), ("summary", Str)],
        &[("refs", Array)],
    ),
    ("redactField", &[("field", Str)], &[("reason", Str)]),
    ("rejectRequest", &[("code", Str), ("message", Str)], &[]),
    ("throttle", &[("policy", Str)], &[("message", Str)]),
    (
        "createTicket",
        &[("team", Str), ("summary", Str)],
        &[("refs", Array)],
    ),
    (
        "suspendAccount",
        &[("accountId", Str), ("reason", Str)],
        &[("severity", Str)],
    ),
    ("notifyRole", &[("role", Str), ("message", Str)], &[]),
    ("proceed", &[("outcome", Str)], &[]),
];

/// The shape of a built-in action.
pub fn builtin_shape(name: &str) -> Option<ActionShape> {
    let (_, required, optional) = BUILTIN_ACTIONS.iter().find(|(n, _, _)| *n == name)?;
    let table = |params: Params| {
        params
            .iter()
            .map(|(key, ty)| ((*key).to_owned(), *ty))
            .collect()
    };
    Some(ActionShape {
        required: table(required),
        optional: table(optional),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::KNOWN_ACTIONS;

    #[test]
    fn every_known_action_has_its_parameters_declared() {
        let declared: Vec<&str> = BUILTIN_ACTIONS.iter().map(|(name, _, _)| *name).collect();
        assert_eq!(declared, KNOWN_ACTIONS);
    }
}
