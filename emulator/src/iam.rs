//! The IAM role operations on the query protocol (form-encoded `Action=...` in, XML out). The
//! rules they check their input with are in `iam_rules`.

use axum::{http::StatusCode, response::Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::{
    Catalog, Shared,
    accounts::Caller,
    iam_rules::{
        PolicyKind, check_boundary, check_description, check_inline_size,
        check_max_session_duration, check_path, check_policy_document, check_policy_name,
        check_role_name, check_tags, check_trust_size,
    },
    protocol::{Protocol, iam_ok, xml_element},
    query::{self, Form, QueryError, constraint, missing},
    resources::{Document, Resources, Role},
};

/// The IAM actions the emulator serves.
pub const ACTIONS: [&str; 7] = [
    "CreateRole",
    "GetRole",
    "DeleteRole",
    "PutRolePolicy",
    "GetRolePolicy",
    "DeleteRolePolicy",
    "ListRolePolicies",
];

/// IAM as `query::admit` admits its calls.
pub const SERVICE: query::Service = query::Service {
    catalog: Catalog {
        protocol: Protocol::Iam,
        operations: &ACTIONS,
    },
    version: "2010-05-08",
};

/// The `Tags.member.N.Key` / `Tags.member.N.Value` pairs, by N.
fn tags(form: &Form) -> Result<Vec<(String, String)>, QueryError> {
    let mut by_index = std::collections::BTreeMap::<u32, (Option<String>, Option<String>)>::new();
    for (k, v) in form.pairs() {
        let Some(rest) = k.strip_prefix("Tags.member.") else {
            continue;
        };
        let Some((n, field)) = rest.split_once('.') else {
            continue;
        };
        let n: u32 = n
            .parse()
            .map_err(|_| QueryError::validation(format!("Malformed tag parameter {k}")))?;
        let entry = by_index.entry(n).or_default();
        match field {
            "Key" => entry.0 = Some(v.to_owned()),
            "Value" => entry.1 = Some(v.to_owned()),
            _ => return Err(QueryError::validation(format!("Unknown tag parameter {k}"))),
        }
    }
    by_index
        .into_iter()
        .map(|(n, (key, value))| match (key, value) {
            (Some(key), Some(value)) => Ok((key, value)),
            (None, _) => Err(missing(&format!("tags.{n}.member.key"))),
            (_, None) => Err(missing(&format!("tags.{n}.member.value"))),
        })
        .collect()
}

/// RFC 3986 unreserved characters stay; everything else is percent-encoded, as IAM returns
/// policy documents.
const DOCUMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn url_encoded(text: &str) -> String {
    utf8_percent_encode(text, DOCUMENT).to_string()
}

fn role_xml(role: &Role, last_used: bool) -> String {
    let mut xml = String::from("    <Role>\n");
    let mut add = |line: String| {
        xml.push_str("      ");
        xml.push_str(&line);
        xml.push('\n');
    };
    add(xml_element("Path", &role.path));
    add(xml_element("RoleName", &role.name));
    add(xml_element("RoleId", &role.id));
    add(xml_element("Arn", &role.arn));
    add(xml_element("CreateDate", &role.create_date()));
    add(xml_element(
        "AssumeRolePolicyDocument",
        &url_encoded(&role.trust.text),
    ));
    if let Some(description) = &role.description {
        add(xml_element("Description", description));
    }
    add(xml_element(
        "MaxSessionDuration",
        &role.max_session_duration.to_string(),
    ));
    if let Some(boundary) = &role.boundary {
        add(format!(
            "<PermissionsBoundary>{}{}</PermissionsBoundary>",
            xml_element("PermissionsBoundaryType", "Policy"),
            xml_element("PermissionsBoundaryArn", boundary)
        ));
    }
    if !role.tags.is_empty() {
        let members: String = role
            .tags
            .iter()
            .map(|(k, v)| {
                format!(
                    "<member>{}{}</member>",
                    xml_element("Key", k),
                    xml_element("Value", v)
                )
            })
            .collect();
        add(format!("<Tags>{members}</Tags>"));
    }
    if last_used {
        add("<RoleLastUsed/>".to_owned());
    }
    xml.push_str("    </Role>\n");
    xml
}

fn role_not_found(name: &str) -> QueryError {
    QueryError::no_such_entity(format!("The role with name {name} cannot be found."))
}

/// Serves one IAM query call (`POST /` with a form body) that `query::admit` admitted.
pub async fn call(state: &Shared, operation: &str, caller: Caller, form: &Form) -> Response {
    // Roles are the caller's account's.
    let account = caller.identity.account;
    let mut all = state.resources.lock().await;
    let resources = all.entry(account.clone()).or_default();
    let result = match operation {
        "CreateRole" => create_role(resources, form, &account),
        "GetRole" => get_role(resources, form),
        "DeleteRole" => delete_role(resources, form),
        "PutRolePolicy" => put_role_policy(resources, form),
        "GetRolePolicy" => get_role_policy(resources, form),
        "DeleteRolePolicy" => delete_role_policy(resources, form),
        "ListRolePolicies" => list_role_policies(resources, form),
        _ => unreachable!("every action in ACTIONS is served"),
    };
    match result {
        Ok(result) => iam_ok(operation, result),
        Err(e) => e.response(Protocol::Iam),
    }
}

type Outcome = Result<Option<String>, QueryError>;

fn create_role(resources: &mut Resources, form: &Form, account: &str) -> Outcome {
    let name = form.required("RoleName", "roleName")?;
    check_role_name(name)?;
    let path = form.get("Path").unwrap_or("/");
    check_path(path)?;
    let trust_text = form.required("AssumeRolePolicyDocument", "assumeRolePolicyDocument")?;
    let trust = check_policy_document(trust_text, PolicyKind::Trust)?;
    check_trust_size(trust_text)?;
    let description = form.get("Description");
    if let Some(d) = description {
        check_description(d)?;
    }
    let max_session_duration = match form.get("MaxSessionDuration") {
        None => 3600,
        Some(text) => {
            let seconds = text.parse::<i64>().map_err(|_| {
                QueryError::validation(format!("MaxSessionDuration {text:?} is not a number"))
            })?;
            check_max_session_duration(seconds)?;
            seconds
        }
    };
    let boundary = form.get("PermissionsBoundary");
    if let Some(b) = boundary {
        check_boundary(b)?;
    }
    let tags = tags(form)?;
    check_tags(&tags)?;
    if resources.role(name).is_some() {
        return Err(QueryError::new(
            StatusCode::CONFLICT,
            "EntityAlreadyExists",
            format!("Role with name {name} already exists."),
        ));
    }
    let role = Role::new(
        account,
        name,
        path,
        Document {
            text: trust_text.to_owned(),
            value: trust,
        },
        description.map(str::to_owned),
        max_session_duration,
        boundary.map(str::to_owned),
        tags,
    );
    let xml = role_xml(&role, false);
    resources.put_role(role);
    Ok(Some(xml))
}

fn get_role(resources: &Resources, form: &Form) -> Outcome {
    let name = form.required("RoleName", "roleName")?;
    check_role_name(name)?;
    let role = resources.role(name).ok_or_else(|| role_not_found(name))?;
    Ok(Some(role_xml(role, true)))
}

fn delete_role(resources: &mut Resources, form: &Form) -> Outcome {
    let name = form.required("RoleName", "roleName")?;
    check_role_name(name)?;
    let role = resources.role(name).ok_or_else(|| role_not_found(name))?;
    if !role.inline.is_empty() {
        return Err(QueryError::new(
            StatusCode::CONFLICT,
            "DeleteConflict",
            "Cannot delete entity, must delete policies first.",
        ));
    }
    resources.remove_role(name);
    Ok(None)
}

fn put_role_policy(resources: &mut Resources, form: &Form) -> Outcome {
    let name = form.required("RoleName", "roleName")?;
    check_role_name(name)?;
    let policy_name = form.required("PolicyName", "policyName")?;
    check_policy_name(policy_name)?;
    let text = form.required("PolicyDocument", "policyDocument")?;
    let value = check_policy_document(text, PolicyKind::Permissions)?;
    let role = resources
        .role_mut(name)
        .ok_or_else(|| role_not_found(name))?;
    check_inline_size(
        &role.name,
        role.inline
            .iter()
            .filter(|(n, _)| n.as_str() != policy_name)
            .map(|(_, d)| d.text.as_str())
            .chain([text]),
    )?;
    role.inline.insert(
        policy_name.to_owned(),
        Document {
            text: text.to_owned(),
            value,
        },
    );
    Ok(None)
}

fn get_role_policy(resources: &Resources, form: &Form) -> Outcome {
    let name = form.required("RoleName", "roleName")?;
    check_role_name(name)?;
    let policy_name = form.required("PolicyName", "policyName")?;
    check_policy_name(policy_name)?;
    let role = resources.role(name).ok_or_else(|| role_not_found(name))?;
    let document = role.inline.get(policy_name).ok_or_else(|| {
        QueryError::no_such_entity(format!(
            "The role policy with name {policy_name} cannot be found."
        ))
    })?;
    Ok(Some(format!(
        "    {}\n    {}\n    {}\n",
        xml_element("RoleName", &role.name),
        xml_element("PolicyName", policy_name),
        xml_element("PolicyDocument", &url_encoded(&document.text)),
    )))
}

fn delete_role_policy(resources: &mut Resources, form: &Form) -> Outcome {
    let name = form.required("RoleName", "roleName")?;
    check_role_name(name)?;
    let policy_name = form.required("PolicyName", "policyName")?;
    check_policy_name(policy_name)?;
    let role = resources
        .role_mut(name)
        .ok_or_else(|| role_not_found(name))?;
    role.inline.remove(policy_name).ok_or_else(|| {
        QueryError::no_such_entity(format!(
            "The role policy with name {policy_name} cannot be found."
        ))
    })?;
    Ok(None)
}

fn list_role_policies(resources: &Resources, form: &Form) -> Outcome {
    let name = form.required("RoleName", "roleName")?;
    check_role_name(name)?;
    let max_items = match form.get("MaxItems") {
        None => 100,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(constraint(
                    text,
                    "maxItems",
                    "must have value between 1 and 1000",
                ));
            }
        },
    };
    let start = match form.get("Marker") {
        None => 0,
        Some(marker) => marker
            .parse::<usize>()
            .map_err(|_| QueryError::validation(format!("Invalid Marker {marker:?}")))?,
    };
    let role = resources.role(name).ok_or_else(|| role_not_found(name))?;
    let names: Vec<&String> = role.inline.keys().collect();
    let page = names.iter().skip(start).take(max_items);
    let members: String = page
        .map(|n| format!("      {}\n", xml_element("member", n)))
        .collect();
    let next = start.saturating_add(max_items);
    let truncated = next < names.len();
    let mut xml = format!(
        "    <PolicyNames>\n{members}    </PolicyNames>\n    {}\n",
        xml_element("IsTruncated", if truncated { "true" } else { "false" })
    );
    if truncated {
        xml.push_str(&format!(
            "    {}\n",
            xml_element("Marker", &next.to_string())
        ));
    }
    Ok(Some(xml))
}
