-- An API key holds any number of roles: the permission roles (viewer,
-- operator, approver, admin) and business roles that approval steps name
-- (`role:manager`), space-separated. A key made before holds its one role.
alter table api_keys rename column role to roles;
