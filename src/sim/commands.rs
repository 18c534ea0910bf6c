//! Application commands: validating registrations the way Discord does (names, lengths,
//! option nesting, required-before-optional, choices), storing them as Discord returns them,
//! and turning a test's `"session start"` + `{"municipality": "Arnhem"}` into the `data` of an
//! INTERACTION_CREATE using the *registered* definitions (option types, subcommand nesting).

use anyhow::{anyhow, bail};
use serde_json::{json, Map, Value};

use super::messages::{p, FormErrors};
use super::payloads;
use super::rest::ApiError;
use super::state::{CommandRec, State};

const OPT_SUB_COMMAND: u64 = 1;
const OPT_SUB_COMMAND_GROUP: u64 = 2;
const OPT_STRING: u64 = 3;
const OPT_INTEGER: u64 = 4;
const OPT_BOOLEAN: u64 = 5;
const OPT_USER: u64 = 6;
const OPT_CHANNEL: u64 = 7;
const OPT_ROLE: u64 = 8;
const OPT_MENTIONABLE: u64 = 9;
const OPT_NUMBER: u64 = 10;
const OPT_ATTACHMENT: u64 = 11;

fn valid_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=32).contains(&n)
        && name.chars().all(|c| {
            (c.is_alphanumeric() || c == '-' || c == '_' || c == '\'')
                && c.to_lowercase().eq(std::iter::once(c))
        })
}

fn check_str(
    errs: &mut FormErrors,
    path: &[String],
    v: Option<&Value>,
    min: usize,
    max: usize,
    required: bool,
) {
    match v {
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if n < min || n > max {
                errs.add(
                    path,
                    "BASE_TYPE_BAD_LENGTH",
                    format!("Must be between {min} and {max} in length."),
                );
            }
        }
        None | Some(Value::Null) if !required => {}
        None | Some(Value::Null) => errs.add(path, "BASE_TYPE_REQUIRED", "This field is required"),
        Some(_) => errs.add(
            path,
            "BASE_TYPE_STRING",
            "Could not interpret value as string.",
        ),
    }
}

fn validate_options(errs: &mut FormErrors, path: &[String], opts: &Value, depth: u8) {
    let Some(list) = opts.as_array() else {
        if !opts.is_null() {
            errs.add(path, "BASE_TYPE_LIST", "Could not interpret value as list.");
        }
        return;
    };
    if list.len() > 25 {
        errs.add(
            path,
            "BASE_TYPE_MAX_LENGTH",
            "Must be 25 or fewer in length.",
        );
    }
    let mut names = Vec::new();
    let mut seen_optional = false;
    let mut has_sub = false;
    let mut has_value = false;
    for (i, o) in list.iter().enumerate() {
        let mut at = path.to_vec();
        at.push(i.to_string());
        let sub = |k: &str| {
            let mut v = at.clone();
            v.push(k.to_string());
            v
        };
        let kind = o.get("type").and_then(Value::as_u64).unwrap_or(0);
        if !(1..=11).contains(&kind) {
            errs.add(
                &sub("type"),
                "BASE_TYPE_CHOICES",
                "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.",
            );
            continue;
        }
        let name = o.get("name").and_then(Value::as_str).unwrap_or("");
        if !valid_name(name) {
            errs.add(
                &sub("name"),
                "APPLICATION_COMMAND_INVALID_NAME",
                format!("Command name is invalid: {name:?}"),
            );
        }
        if names.contains(&name) {
            errs.add(
                &sub("name"),
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                "Option names must be unique",
            );
        }
        names.push(name);
        check_str(
            errs,
            &sub("description"),
            o.get("description"),
            1,
            100,
            true,
        );
        let required = o.get("required").and_then(Value::as_bool).unwrap_or(false);
        let is_sub = kind == OPT_SUB_COMMAND || kind == OPT_SUB_COMMAND_GROUP;
        if is_sub {
            has_sub = true;
            if required {
                errs.add(
                    &sub("required"),
                    "APPLICATION_COMMAND_OPTION_REQUIRED_INVALID_TYPE",
                    "Sub-command and sub-command group option types are mutually exclusive to the required field",
                );
            }
            let allowed_depth = if kind == OPT_SUB_COMMAND_GROUP { 0 } else { 1 };
            if depth > allowed_depth {
                errs.add(
                    &sub("type"),
                    "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                    "Sub-commands can only be nested one level in a sub-command group",
                );
            }
            let children = o.get("options").cloned().unwrap_or(Value::Null);
            if kind == OPT_SUB_COMMAND_GROUP {
                if let Some(cs) = children.as_array() {
                    if cs
                        .iter()
                        .any(|c| c.get("type").and_then(Value::as_u64) != Some(OPT_SUB_COMMAND))
                    {
                        errs.add(
                            &sub("options"),
                            "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                            "Sub-command groups may only contain sub-commands",
                        );
                    }
                }
            }
            validate_options(errs, &sub("options"), &children, depth + 1);
        } else {
            has_value = true;
            if required && seen_optional {
                errs.add(
                    &sub("required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                );
            }
            if !required {
                seen_optional = true;
            }
            if o.get("options")
                .is_some_and(|c| c.as_array().is_some_and(|a| !a.is_empty()))
            {
                errs.add(
                    &sub("options"),
                    "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                    "Only sub-commands and sub-command groups may have options",
                );
            }
            let choices = o.get("choices").and_then(Value::as_array);
            let autocomplete = o
                .get("autocomplete")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if let Some(choices) = choices.filter(|c| !c.is_empty()) {
                if autocomplete {
                    errs.add(
                        &sub("autocomplete"),
                        "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE",
                        "Autocomplete cannot be set on options with choices",
                    );
                }
                if !matches!(kind, OPT_STRING | OPT_INTEGER | OPT_NUMBER) {
                    errs.add(
                        &sub("choices"),
                        "APPLICATION_COMMAND_OPTION_CHOICES_INVALID_TYPE",
                        "Choices are only valid for string, integer and number options",
                    );
                }
                if choices.len() > 25 {
                    errs.add(
                        &sub("choices"),
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 25 or fewer in length.",
                    );
                }
                for (ci, c) in choices.iter().enumerate() {
                    let mut cp = sub("choices");
                    cp.push(ci.to_string());
                    let mut np = cp.clone();
                    np.push("name".into());
                    check_str(errs, &np, c.get("name"), 1, 100, true);
                    let mut vp = cp.clone();
                    vp.push("value".into());
                    let v = c.get("value");
                    let ok = match kind {
                        OPT_STRING => v.and_then(Value::as_str).is_some_and(|s| {
                            let n = s.chars().count();
                            (1..=100).contains(&n)
                        }),
                        OPT_INTEGER => v.and_then(Value::as_i64).is_some(),
                        _ => v.and_then(Value::as_f64).is_some(),
                    };
                    if !ok {
                        errs.add(
                            &vp,
                            "APPLICATION_COMMAND_OPTION_CHOICE_VALUE_INVALID",
                            "Invalid choice value for this option type",
                        );
                    }
                }
            }
            if autocomplete && !matches!(kind, OPT_STRING | OPT_INTEGER | OPT_NUMBER) {
                errs.add(
                    &sub("autocomplete"),
                    "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID_TYPE",
                    "Autocomplete is only valid for string, integer and number options",
                );
            }
        }
    }
    if has_sub && has_value {
        errs.add(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive to all other types",
        );
    }
}

/// Validate a command body (POST/PUT/PATCH); returns the normalized command object without
/// the server-assigned fields (`id`, `application_id`, `version`, `guild_id`).
pub(crate) fn validate(body: &Value, prefix: &[String]) -> Result<Value, ApiError> {
    let Some(o) = body.as_object() else {
        return Err(ApiError::invalid_form(json!({"_errors": [{
            "code": "MODEL_TYPE_CONVERT", "message": "Only dictionaries may be used in a ModelType"}]})));
    };
    let mut errs = FormErrors::default();
    let at = |k: &str| {
        let mut v = prefix.to_vec();
        v.push(k.to_string());
        v
    };
    let kind = o.get("type").and_then(Value::as_u64).unwrap_or(1);
    if !(1..=4).contains(&kind) {
        errs.add(
            &at("type"),
            "BASE_TYPE_CHOICES",
            "Value must be one of {1, 2, 3, 4}.",
        );
    }
    let name = o.get("name").and_then(Value::as_str);
    match name {
        None => errs.add(&at("name"), "BASE_TYPE_REQUIRED", "This field is required"),
        Some(n) if kind == 1 && !valid_name(n) => errs.add(
            &at("name"),
            "APPLICATION_COMMAND_INVALID_NAME",
            format!("Command name is invalid: {n:?}"),
        ),
        Some(n) if !(1..=32).contains(&n.chars().count()) => errs.add(
            &at("name"),
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 32 in length.",
        ),
        Some(_) => {}
    }
    if kind == 1 {
        check_str(
            &mut errs,
            &at("description"),
            o.get("description"),
            1,
            100,
            true,
        );
        validate_options(
            &mut errs,
            &at("options"),
            o.get("options").unwrap_or(&Value::Null),
            0,
        );
    } else if o
        .get("description")
        .and_then(Value::as_str)
        .is_some_and(|d| !d.is_empty())
    {
        errs.add(
            &at("description"),
            "APPLICATION_COMMAND_DESCRIPTION_INVALID",
            "Description must be empty for user and message commands",
        );
    }
    if let Some(dmp) = o.get("default_member_permissions") {
        let ok = match dmp {
            Value::Null => true,
            Value::String(s) => s.parse::<u64>().is_ok(),
            Value::Number(n) => n.as_u64().is_some(),
            _ => false,
        };
        if !ok {
            errs.add(
                &at("default_member_permissions"),
                "NUMBER_TYPE_COERCE",
                "Value is not a valid permission set.",
            );
        }
    }
    errs.into_result()?;

    let mut v = Map::new();
    v.insert("type".into(), json!(kind));
    v.insert("name".into(), json!(name.unwrap_or("")));
    v.insert(
        "description".into(),
        o.get("description").cloned().unwrap_or(json!("")),
    );
    let dmp = match o.get("default_member_permissions") {
        Some(Value::Number(n)) => json!(n.to_string()),
        Some(v) => v.clone(),
        None => Value::Null,
    };
    v.insert("default_member_permissions".into(), dmp);
    for key in [
        "name_localizations",
        "description_localizations",
        "contexts",
    ] {
        v.insert(key.into(), o.get(key).cloned().unwrap_or(Value::Null));
    }
    v.insert(
        "integration_types".into(),
        o.get("integration_types")
            .filter(|x| !x.is_null())
            .cloned()
            .unwrap_or(json!([0])),
    );
    v.insert(
        "nsfw".into(),
        json!(o.get("nsfw").and_then(Value::as_bool).unwrap_or(false)),
    );
    if let Some(dm) = o.get("dm_permission").filter(|d| !d.is_null()) {
        v.insert("dm_permission".into(), dm.clone());
    }
    if let Some(opts) = o
        .get("options")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        v.insert(
            "options".into(),
            Value::Array(opts.iter().map(strip_nulls).collect()),
        );
    }
    Ok(Value::Object(v))
}

fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

/// Finish a validated command: assign the server fields.
pub(crate) fn finish(
    st: &State,
    mut v: Value,
    id: u64,
    version: u64,
    guild_id: Option<u64>,
) -> Value {
    v["id"] = json!(id.to_string());
    v["application_id"] = json!(st.app_id.to_string());
    v["version"] = json!(version.to_string());
    match guild_id {
        Some(g) => {
            v["guild_id"] = json!(g.to_string());
            if let Some(o) = v.as_object_mut() {
                o.remove("dm_permission");
            }
        }
        None => {
            if v.get("dm_permission").is_none() {
                v["dm_permission"] = json!(true);
            }
        }
    }
    v
}

/// Definition equality ignoring server-assigned fields (decides whether `version` changes).
/// A command's version after an update: unchanged when the definition is the same, else new.
pub(crate) fn version_after(st: &mut State, old: &Value, new: &Value, id: u64) -> u64 {
    if same_definition(old, new) {
        old["version"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(id)
    } else {
        st.next_id()
    }
}

pub(crate) fn same_definition(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            for k in ["id", "application_id", "version", "guild_id"] {
                o.remove(k);
            }
        }
        v
    };
    strip(a) == strip(b)
}

/// The `data` of an INTERACTION_CREATE built from the registered command definitions.
pub(crate) struct Invocation {
    pub data: Value,
    /// Full command path, e.g. `session start`.
    pub name: String,
    pub default_member_permissions: Option<u64>,
}

fn snowflake_arg(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Build the interaction `data` for `path` (`"session start"`) with `options`
/// (`{"name": value}`); `focused` names the option being autocompleted.
pub(crate) fn invocation(
    st: &State,
    path: &str,
    options: &Value,
    focused: Option<&str>,
) -> anyhow::Result<Invocation> {
    let words: Vec<&str> = path.split_whitespace().collect();
    let Some(root) = words.first() else {
        bail!("empty command path");
    };
    let root = root.trim_start_matches('/');
    let cmd: &CommandRec = st
        .commands
        .iter()
        .filter(|c| c.kind() == 1 && c.name() == root)
        .max_by_key(|c| c.guild_id.is_some())
        .ok_or_else(|| {
            let names: Vec<&str> = st.commands.iter().map(CommandRec::name).collect();
            anyhow!("/{root} is not registered (registered: {names:?})")
        })?;
    let empty = Map::new();
    let given = match options {
        Value::Object(o) => o,
        Value::Null => &empty,
        _ => bail!("options must be a JSON object of option name → value"),
    };

    // Walk the subcommand (group) path.
    let mut level: Vec<Value> = cmd.value["options"].as_array().cloned().unwrap_or_default();
    let mut chain: Vec<(String, u64)> = Vec::new();
    for w in &words[1..] {
        let next = level
            .iter()
            .find(|o| {
                o["name"] == *w
                    && matches!(
                        o["type"].as_u64(),
                        Some(OPT_SUB_COMMAND | OPT_SUB_COMMAND_GROUP)
                    )
            })
            .cloned()
            .ok_or_else(|| {
                anyhow!("/{root}: no registered subcommand (group) {w:?} in {path:?}")
            })?;
        chain.push((w.to_string(), next["type"].as_u64().unwrap_or(1)));
        level = next["options"].as_array().cloned().unwrap_or_default();
    }
    if level.iter().any(|o| {
        matches!(
            o["type"].as_u64(),
            Some(OPT_SUB_COMMAND | OPT_SUB_COMMAND_GROUP)
        )
    }) {
        let subs: Vec<&str> = level.iter().filter_map(|o| o["name"].as_str()).collect();
        bail!("/{path} needs a subcommand: one of {subs:?}");
    }
    if let Some((_, OPT_SUB_COMMAND_GROUP)) = chain.last() {
        bail!("/{path} is a subcommand group; name a subcommand");
    }

    for key in given.keys() {
        if !level.iter().any(|o| o["name"] == key.as_str()) {
            let names: Vec<&str> = level.iter().filter_map(|o| o["name"].as_str()).collect();
            bail!("/{path}: no registered option {key:?} (registered: {names:?})");
        }
    }
    if let Some(f) = focused {
        let def = level
            .iter()
            .find(|o| o["name"] == f)
            .ok_or_else(|| anyhow!("/{path}: focused option {f:?} is not registered"))?;
        if !def["autocomplete"].as_bool().unwrap_or(false) {
            bail!("/{path}: option {f:?} is not registered with autocomplete: true");
        }
    }

    let mut resolved = Map::new();
    let mut out = Vec::new();
    for def in &level {
        let name = def["name"].as_str().unwrap_or("");
        let kind = def["type"].as_u64().unwrap_or(0);
        let is_focused = focused == Some(name);
        let value = match (given.get(name), is_focused) {
            (Some(v), true) => Some(match v {
                Value::String(s) => json!(s),
                other => json!(other.to_string()),
            }),
            (None, true) => Some(json!("")),
            (Some(v), false) => Some(typed_value(st, path, def, kind, v, &mut resolved)?),
            (None, false) => {
                if def["required"].as_bool().unwrap_or(false) && focused.is_none() {
                    bail!("/{path}: required option {name:?} is missing");
                }
                None
            }
        };
        if let Some(value) = value {
            let mut o = json!({"name": name, "type": kind, "value": value});
            if is_focused {
                o["focused"] = json!(true);
            }
            out.push(o);
        }
    }

    // Wrap in subcommand (group) layers, innermost first.
    let mut options_json = Value::Array(out);
    for (name, kind) in chain.iter().rev() {
        options_json = json!([{"name": name, "type": kind, "options": options_json}]);
    }
    let mut data = json!({
        "id": cmd.id.to_string(),
        "name": cmd.name(),
        "type": 1,
    });
    if options_json.as_array().is_some_and(|a| !a.is_empty()) {
        data["options"] = options_json;
    }
    if let Some(g) = cmd.guild_id {
        data["guild_id"] = json!(g.to_string());
    }
    if !resolved.is_empty() {
        data["resolved"] = Value::Object(resolved);
    }
    let default_member_permissions = match &cmd.value["default_member_permissions"] {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    };
    Ok(Invocation {
        data,
        name: words.join(" "),
        default_member_permissions,
    })
}

fn typed_value(
    st: &State,
    path: &str,
    def: &Value,
    kind: u64,
    v: &Value,
    resolved: &mut Map<String, Value>,
) -> anyhow::Result<Value> {
    let name = def["name"].as_str().unwrap_or("");
    let choices = def["choices"].as_array().filter(|c| !c.is_empty());
    let check_choice = |v: &Value| -> anyhow::Result<()> {
        if let Some(cs) = choices {
            if !cs.iter().any(|c| c["value"] == *v) {
                let allowed: Vec<&Value> = cs.iter().map(|c| &c["value"]).collect();
                bail!(
                    "/{path}: {v} is not one of the registered choices for {name:?}: {allowed:?}"
                );
            }
        }
        Ok(())
    };
    let mut insert = |kind: &str, id: u64, obj: Value| {
        resolved
            .entry(kind.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("resolved map")
            .insert(id.to_string(), obj);
    };
    Ok(match kind {
        OPT_STRING => {
            let s = v
                .as_str()
                .ok_or_else(|| anyhow!("/{path}: option {name:?} is a string, got {v}"))?;
            let n = s.chars().count() as u64;
            if def["min_length"].as_u64().is_some_and(|m| n < m)
                || def["max_length"].as_u64().is_some_and(|m| n > m)
            {
                bail!("/{path}: option {name:?} length {n} is outside the registered bounds");
            }
            check_choice(v)?;
            json!(s)
        }
        OPT_INTEGER => {
            let i = v
                .as_i64()
                .ok_or_else(|| anyhow!("/{path}: option {name:?} is an integer, got {v}"))?;
            if def["min_value"].as_f64().is_some_and(|m| (i as f64) < m)
                || def["max_value"].as_f64().is_some_and(|m| (i as f64) > m)
            {
                bail!("/{path}: option {name:?} = {i} is outside the registered bounds");
            }
            check_choice(v)?;
            json!(i)
        }
        OPT_NUMBER => {
            let f = v
                .as_f64()
                .ok_or_else(|| anyhow!("/{path}: option {name:?} is a number, got {v}"))?;
            if def["min_value"].as_f64().is_some_and(|m| f < m)
                || def["max_value"].as_f64().is_some_and(|m| f > m)
            {
                bail!("/{path}: option {name:?} = {f} is outside the registered bounds");
            }
            check_choice(v)?;
            v.clone()
        }
        OPT_BOOLEAN => json!(v
            .as_bool()
            .ok_or_else(|| anyhow!("/{path}: option {name:?} is a boolean, got {v}"))?),
        OPT_USER | OPT_MENTIONABLE | OPT_ROLE | OPT_CHANNEL => {
            let id = snowflake_arg(v)
                .ok_or_else(|| anyhow!("/{path}: option {name:?} needs a snowflake id, got {v}"))?;
            let user = st.users.get(&id);
            let role = st.roles.iter().find(|r| r.id == id);
            let channel = st.channel(id);
            match kind {
                OPT_USER | OPT_MENTIONABLE if user.is_some() => {
                    let u = user.expect("checked");
                    insert("users", id, payloads::user(u));
                    let mut m = payloads::member(st, u, true);
                    if let Some(o) = m.as_object_mut() {
                        o.remove("user");
                    }
                    insert("members", id, m);
                }
                OPT_ROLE | OPT_MENTIONABLE if role.is_some() => {
                    insert("roles", id, payloads::role(role.expect("checked")));
                }
                OPT_CHANNEL if channel.is_some() => {
                    let c = channel.expect("checked");
                    if let Some(types) = def["channel_types"].as_array().filter(|t| !t.is_empty())
                    {
                        if !types.iter().any(|t| t.as_u64() == Some(0)) {
                            bail!("/{path}: option {name:?} does not accept text channels");
                        }
                    }
                    insert("channels", id, payloads::channel_partial(st, c));
                }
                _ => bail!("/{path}: option {name:?}: {id} is not a known user/role/channel of the right kind"),
            }
            json!(id.to_string())
        }
        OPT_ATTACHMENT => bail!("/{path}: attachment options are not supported by the simulator"),
        other => bail!("/{path}: option {name:?} has unsupported type {other}"),
    })
}

/// Validate an autocomplete result's choices (type 8 callback).
pub(crate) fn validate_choices(data: &Value) -> Result<Vec<Value>, ApiError> {
    let mut errs = FormErrors::default();
    let choices = data
        .get("choices")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if choices.len() > 25 {
        errs.add(
            &p(&["data", "choices"]),
            "BASE_TYPE_MAX_LENGTH",
            "Must be 25 or fewer in length.",
        );
    }
    for (i, c) in choices.iter().enumerate() {
        let i = i.to_string();
        check_str(
            &mut errs,
            &p(&["data", "choices", &i, "name"]),
            c.get("name"),
            1,
            100,
            true,
        );
        match c.get("value") {
            Some(Value::String(s)) if s.chars().count() <= 100 => {}
            Some(Value::Number(_)) => {}
            _ => errs.add(
                &p(&["data", "choices", &i, "value"]),
                "BASE_TYPE_REQUIRED",
                "This field is required",
            ),
        }
    }
    errs.into_result()?;
    Ok(choices)
}
