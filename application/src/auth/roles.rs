//! Roles and the permissions each grants. The whole table:
//!
//! | permission  | what it covers                                       | viewer | operator | approver | admin |
//! |-------------|------------------------------------------------------|--------|----------|----------|-------|
//! | `read`      | read definitions, workflows, tasks, stats, feeds     | yes    | yes      | yes      | yes   |
//! | `operate`   | start, cancel, pause, resume, retry, skip, signal; workers | | yes   |          | yes   |
//! | `approve`   | approve or reject an approval step                   |        |          | yes      | yes   |
//! | `administer`| deploy definitions, manage keys, any unlisted route  |        |          |          | yes   |
//!
//! An approver may decide approvals but not steer workflows: deciding and
//! operating are separate duties. Which approval a caller may decide is
//! further limited by the step's own `approvers`.
//!
//! A caller holds any number of roles: these four grant permissions, any
//! other name (`manager`, `underwriter`) grants none and only matches the
//! `role:NAME` approvers of approval steps.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Operator,
    Approver,
    Admin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Anyone, authenticated or not (liveness).
    Public,
    Read,
    Operate,
    Approve,
    Administer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Approver, Role::Admin];

    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        matches!(
            (self, permission),
            (_, Public | Read)
                | (Role::Admin, _)
                | (Role::Operator, Operate)
                | (Role::Approver, Approve)
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }
}

/// Whether any of `roles` grants `permission` (a business role grants none).
pub fn grants(roles: &[String], permission: Permission) -> bool {
    permission == Permission::Public
        || roles
            .iter()
            .filter_map(|role| Role::from_str(role).ok())
            .any(|role| role.allows(permission))
}

/// Checks a role name as a key stores it: letters, digits, `-`, `_`, `.`,
/// at most 64 characters (no spaces: a key's roles are kept space-separated).
pub fn check_role_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a role name (letters, digits, `-`, `_`, `.`; at most 64)"
        ))
    }
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Public => "public",
            Permission::Read => "read",
            Permission::Operate => "operate",
            Permission::Approve => "approve",
            Permission::Administer => "administer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| format!("unknown role `{text}` (viewer, operator, approver, admin)"))
    }
}

#[cfg(test)]
mod tests {
    use super::Permission::*;
    use super::*;

    #[test]
    fn each_role_holds_exactly_the_permissions_of_the_table() {
        let table = [
            (Role::Viewer, [true, true, false, false, false]),
            (Role::Operator, [true, true, true, false, false]),
            (Role::Approver, [true, true, false, true, false]),
            (Role::Admin, [true, true, true, true, true]),
        ];
        for (role, expected) in table {
            let granted = [Public, Read, Operate, Approve, Administer].map(|p| role.allows(p));
            assert_eq!(granted, expected, "{role}");
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn business_roles_grant_nothing_and_permission_roles_keep_their_meaning() {
        let roles = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        assert!(!grants(&roles(&["manager"]), Approve));
        assert!(!grants(&roles(&["manager"]), Read));
        assert!(grants(&roles(&["manager"]), Public));
        assert!(grants(&roles(&["manager", "approver"]), Approve));
        assert!(!grants(&roles(&["manager", "approver"]), Operate));
        assert!(grants(&roles(&["viewer", "operator"]), Operate));
        assert!(check_role_name("under-writer_2.eu").is_ok());
        assert!(check_role_name("two words").is_err());
        assert!(check_role_name("").is_err());
    }
}
