//! What an expression reads: found by walking its syntax tree, so validation
//! can check every `steps.X` against the graph before anything runs.

use std::collections::BTreeSet;

use cel::IdedExpr;
use cel::common::ast::{EntryExpr, Expr};

/// The variables an expression reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct References {
    pub input: bool,
    pub workflow: bool,
    /// Step ids read through `steps.X` or `steps['X']`.
    pub steps: BTreeSet<String>,
    /// `steps` read as a whole, so the steps it reads cannot be known.
    pub steps_dynamic: bool,
    /// Secret names read through `secrets.NAME`.
    pub secrets: BTreeSet<String>,
    /// `secrets` read in any other way.
    pub secrets_dynamic: bool,
    /// Free identifiers that are none of the known variables.
    pub unknown: BTreeSet<String>,
    /// The data it reads, as paths of field names from a variable
    /// (`input.order.items` is `["input", "order", "items"]`): every value
    /// it reads lies under one of them.
    pub paths: BTreeSet<Vec<String>>,
}

impl References {
    pub(super) fn of(root: &IdedExpr) -> Self {
        let mut references = Self::default();
        let mut bound = Vec::new();
        references.walk(root, &mut bound);
        references.paths(root, &mut Vec::new());
        references
    }

    /// Collects the paths of the data `node` reads: each chain of field
    /// selections from a free variable, whole.
    fn paths(&mut self, node: &IdedExpr, bound: &mut Vec<String>) {
        if let Some(path) = data_path(node, bound) {
            self.paths.insert(path);
            return;
        }
        let depth = bound.len();
        if let Expr::Comprehension(comprehension) = &node.expr {
            self.paths(&comprehension.iter_range, bound);
            bound.push(comprehension.iter_var.clone());
            bound.extend(comprehension.iter_var2.clone());
            bound.push(comprehension.accu_var.clone());
        }
        for child in super::limits::children(node) {
            if let Expr::Comprehension(comprehension) = &node.expr
                && std::ptr::eq(child, &comprehension.iter_range)
            {
                continue;
            }
            self.paths(child, bound);
        }
        bound.truncate(depth);
    }

    fn walk(&mut self, node: &IdedExpr, bound: &mut Vec<String>) {
        match &node.expr {
            Expr::Select(select) => {
                if let Expr::Ident(root) = &select.operand.expr
                    && !bound.contains(root)
                {
                    match root.as_str() {
                        "steps" => {
                            self.steps.insert(select.field.clone());
                            return;
                        }
                        "secrets" => {
                            self.secrets.insert(select.field.clone());
                            return;
                        }
                        _ => {}
                    }
                }
                self.walk(&select.operand, bound);
            }
            Expr::Ident(name) => {
                if !bound.contains(name) {
                    self.root(name);
                }
            }
            Expr::Call(call) => {
                if call.func_name == "_[_]"
                    && let [target, index] = call.args.as_slice()
                    && let Expr::Ident(root) = &target.expr
                    && root == "steps"
                    && !bound.contains(root)
                    && let Expr::Literal(cel::common::ast::LiteralValue::String(key)) = &index.expr
                {
                    self.steps.insert(key.to_string());
                    return;
                }
                if let Some(target) = &call.target {
                    self.walk(target, bound);
                }
                for arg in &call.args {
                    self.walk(arg, bound);
                }
            }
            Expr::Comprehension(comprehension) => {
                self.walk(&comprehension.iter_range, bound);
                let depth = bound.len();
                bound.push(comprehension.iter_var.clone());
                if let Some(second) = &comprehension.iter_var2 {
                    bound.push(second.clone());
                }
                bound.push(comprehension.accu_var.clone());
                self.walk(&comprehension.accu_init, bound);
                self.walk(&comprehension.loop_cond, bound);
                self.walk(&comprehension.loop_step, bound);
                self.walk(&comprehension.result, bound);
                bound.truncate(depth);
            }
            Expr::List(list) => {
                for element in &list.elements {
                    self.walk(element, bound);
                }
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(entry) = &entry.expr {
                        self.walk(&entry.key, bound);
                        self.walk(&entry.value, bound);
                    }
                }
            }
            Expr::Struct(structure) => {
                for entry in &structure.entries {
                    match &entry.expr {
                        EntryExpr::StructField(field) => self.walk(&field.value, bound),
                        EntryExpr::MapEntry(entry) => {
                            self.walk(&entry.key, bound);
                            self.walk(&entry.value, bound);
                        }
                    }
                }
            }
            Expr::Literal(_) | Expr::Unspecified => {}
        }
    }

    fn root(&mut self, name: &str) {
        match name {
            "input" => self.input = true,
            "workflow" => self.workflow = true,
            "steps" => self.steps_dynamic = true,
            "secrets" => self.secrets_dynamic = true,
            // Type names and constants CEL resolves by itself.
            "int" | "uint" | "double" | "string" | "bool" | "bytes" | "list" | "map"
            | "null_type" | "type" | "dyn" => {}
            other => {
                self.unknown.insert(other.to_owned());
            }
        }
    }
}

/// The variables that hold data.
const DATA: [&str; 3] = ["input", "steps", "workflow"];

/// `node` as a path of fields from a free data variable, if it is one.
fn data_path(node: &IdedExpr, bound: &[String]) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut current = node;
    loop {
        match &current.expr {
            Expr::Select(select) if !select.test => {
                fields.push(select.field.clone());
                current = &select.operand;
            }
            Expr::Ident(root) if DATA.contains(&root.as_str()) && !bound.contains(root) => {
                fields.push(root.clone());
                fields.reverse();
                return Some(fields);
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::expression::Expression;

    #[test]
    fn finds_the_steps_an_expression_reads() {
        let expression = Expression::compile(
            "steps.charge.output.id != '' && steps['ship'].status == 'completed' && input.x",
        )
        .unwrap();
        let references = expression.references();
        assert!(references.input);
        assert_eq!(
            references
                .steps
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["charge", "ship"]
        );
        assert!(references.unknown.is_empty());
    }

    #[test]
    fn comprehension_variables_are_not_unknown() {
        let expression = Expression::compile("input.items.all(item, item.qty > 0)").unwrap();
        assert!(expression.references().unknown.is_empty());
        let expression = Expression::compile("inptu.amount > 3").unwrap();
        assert_eq!(
            expression.references().unknown.iter().collect::<Vec<_>>(),
            ["inptu"]
        );
    }

    #[test]
    fn finds_secrets() {
        let expression = Expression::compile("secrets.api_token").unwrap();
        assert!(expression.references().secrets.contains("api_token"));
        assert!(!expression.references().secrets_dynamic);
    }
}
