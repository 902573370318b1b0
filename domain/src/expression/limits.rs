//! The limits an expression must keep: its size and nesting are checked
//! when a definition is validated, its cost and its result's size when it
//! runs. They are fixed; `docs/security.md` lists them.

use cel::IdedExpr;
use cel::common::ast::{EntryExpr, Expr};

/// The longest expression text, in bytes. Also what keeps the parser's
/// own recursion far from the stack's end.
pub const MAX_SOURCE_BYTES: usize = 4096;
/// The most syntax nodes an expression may have (macros expanded).
pub const MAX_NODES: usize = 1000;
/// The deepest nesting of an expression's syntax tree: `a + b + c` nests
/// two deep, so a chain of 64 terms is the longest one.
pub const MAX_DEPTH: usize = 64;
/// The cost budget of one evaluation, in the units of the static estimate
/// (about one step of the evaluator each: 10 to 20 ns in a release build,
/// so the budget is about 0.1 s of one core): an expression whose estimate
/// for the data it reads is over this is not run, and its step fails.
pub const COST_BUDGET: f64 = 10_000_000.0;
/// The largest value an expression, a rendered template or a step's output
/// may be once written as JSON. A step over it fails.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;

/// The longest error message a step may record, in bytes; a longer one is
/// cut, and says so.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// The size and nesting of a syntax tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    pub nodes: usize,
    pub depth: usize,
    /// How many comprehensions (`all`, `exists`, `map`, ...) it holds.
    pub comprehensions: usize,
}

impl Shape {
    /// Measures `root` without recursion (its depth is not known yet), and
    /// stops counting past the limits.
    pub fn of(root: &IdedExpr) -> Self {
        let mut shape = Shape::default();
        let mut pending = vec![(root, 1usize)];
        while let Some((node, depth)) = pending.pop() {
            shape.nodes += 1;
            shape.depth = shape.depth.max(depth);
            shape.comprehensions += usize::from(matches!(node.expr, Expr::Comprehension(_)));
            if shape.nodes > MAX_NODES || shape.depth > MAX_DEPTH {
                break;
            }
            pending.extend(children(node).into_iter().map(|child| (child, depth + 1)));
        }
        shape
    }

    /// What is wrong with the shape, if it breaks a limit.
    pub fn problem(self) -> Option<String> {
        if self.nodes > MAX_NODES {
            Some(format!(
                "the expression is too large: more than {MAX_NODES} terms"
            ))
        } else if self.depth > MAX_DEPTH {
            Some(format!(
                "the expression nests too deeply: more than {MAX_DEPTH} levels (a chain of operators counts one level per operator)"
            ))
        } else {
            None
        }
    }
}

/// The direct sub-expressions of `node`.
pub(super) fn children(node: &IdedExpr) -> Vec<&IdedExpr> {
    match &node.expr {
        Expr::Call(call) => call
            .target
            .as_deref()
            .into_iter()
            .chain(&call.args)
            .collect(),
        Expr::Comprehension(comprehension) => vec![
            &comprehension.iter_range,
            &comprehension.accu_init,
            &comprehension.loop_cond,
            &comprehension.loop_step,
            &comprehension.result,
        ],
        Expr::List(list) => list.elements.iter().collect(),
        Expr::Map(map) => entries(map.entries.iter().map(|entry| &entry.expr)),
        Expr::Struct(structure) => entries(structure.entries.iter().map(|entry| &entry.expr)),
        Expr::Select(select) => vec![&select.operand],
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Vec::new(),
    }
}

fn entries<'a>(entries: impl Iterator<Item = &'a EntryExpr>) -> Vec<&'a IdedExpr> {
    let mut children = Vec::new();
    for entry in entries {
        match entry {
            EntryExpr::StructField(field) => children.push(&field.value),
            EntryExpr::MapEntry(entry) => children.extend([&entry.key, &entry.value]),
        }
    }
    children
}

/// How many bytes `value` takes written as JSON, without writing it.
pub fn json_bytes(value: &serde_json::Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing to a counter cannot fail, and a JSON value always serialises.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// The problem with a value that is over [`MAX_VALUE_BYTES`], if it is.
pub fn oversized(what: &str, value: &serde_json::Value) -> Option<String> {
    let bytes = json_bytes(value);
    (bytes > MAX_VALUE_BYTES).then(|| {
        format!("{what} is {bytes} bytes of JSON, over the limit of {MAX_VALUE_BYTES} bytes")
    })
}

/// `text` cut to [`MAX_MESSAGE_BYTES`] with a note naming `what`, if it is
/// longer.
pub fn oversized_text(what: &str, text: &str) -> Option<String> {
    if text.len() <= MAX_MESSAGE_BYTES {
        return None;
    }
    let mut end = MAX_MESSAGE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(format!(
        "{}… ({what} was {} bytes, cut to {MAX_MESSAGE_BYTES})",
        &text[..end],
        text.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expression::Expression;
    use crate::expression::scope::Fixture;
    use serde_json::json;

    /// Runs `work` on a thread with a small stack, as a guard against
    /// recursion that only a large stack survives.
    fn on_small_stack<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(work)
            .unwrap()
            .join()
            .unwrap()
    }

    fn chain(terms: usize) -> String {
        vec!["1"; terms].join(" + ") + " > 0"
    }

    #[test]
    fn long_chains_are_refused_when_compiled_not_run() {
        on_small_stack(|| {
            let deep = Expression::compile(&chain(1000)).unwrap_err();
            assert!(deep.over_limit, "{deep:?}");
            assert!(deep.message.contains("nests too deeply"), "{deep:?}");
            let long = Expression::compile(&chain(20_000)).unwrap_err();
            assert!(long.message.contains("bytes long"), "{long:?}");
            let wide = vec!["1"; MAX_NODES].join(", ");
            let wide = Expression::compile(&format!("size([{wide}]) > 0")).unwrap_err();
            assert!(wide.message.contains("too large"), "{wide:?}");
        });
    }

    #[test]
    fn expressions_at_the_limits_evaluate_on_a_small_stack() {
        on_small_stack(|| {
            let longest = Expression::compile(&chain(MAX_DEPTH - 2)).unwrap();
            assert_eq!(longest.evaluate(&Fixture(json!({}))), Ok(json!(true)));
            let nested = "[".repeat(20) + &"]".repeat(20);
            let nested = Expression::compile(&format!("size({nested}) == 1")).unwrap();
            assert_eq!(nested.evaluate(&Fixture(json!({}))), Ok(json!(true)));
        });
    }

    /// Runs `work` on a thread with `bytes` of stack (and a little more for
    /// the test itself).
    fn with_stack<T: Send + 'static>(bytes: usize, work: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(bytes + 256 * 1024)
            .spawn(work)
            .unwrap()
            .join()
            .unwrap()
    }

    /// The deepest sources the parser accepts or refuses, each kind.
    fn deepest_sources() -> Vec<String> {
        let nested = |open: &str, close: &str, depth: usize| {
            format!("{}1{}", open.repeat(depth), close.repeat(depth))
        };
        vec![
            vec!["1"; MAX_SOURCE_BYTES / 4].join(" + "),
            vec!["a"; MAX_SOURCE_BYTES / 2].join("."),
            "a".to_owned() + &"[0]".repeat(MAX_SOURCE_BYTES / 3 - 1),
            nested("[", "]", 30),
            nested("(", ")", 30),
            nested("size(", ")", 30),
            nested("{1: ", "}", 30),
            nested("[1].map(x, ", ")", 30),
        ]
    }

    #[test]
    fn compilation_fits_in_its_stack() {
        with_stack(super::super::compiled::COMPILE_STACK, || {
            for source in deepest_sources() {
                let _ = Expression::compile(&source);
            }
        });
    }

    #[test]
    fn evaluation_fits_in_its_red_zone() {
        let depth = MAX_DEPTH - 2;
        let sources = [
            chain(depth),
            format!("input{} == 1", ".a".repeat(depth - 2)),
            format!("[[1]]{} == 1", "[0]".repeat(depth - 2)),
            format!("{}1{}", "size([".repeat(11), "])".repeat(11)),
            format!("{}1{}", "[1].map(x, ".repeat(4), ")".repeat(4)) + " == []",
            format!("{}true{}", "[1].all(x, ".repeat(6), ")".repeat(6)),
        ];
        for source in sources {
            let expression =
                Expression::compile(&source).unwrap_or_else(|error| panic!("{source}: {error:?}"));
            // Less than the red zone left would make it grow the stack.
            with_stack(expression.red_zone(), move || {
                let _ = expression.evaluate(&Fixture(json!({})));
            });
        }
    }

    #[test]
    fn a_comprehension_over_too_much_data_is_not_run() {
        let quadratic = Expression::compile("input.a.all(x, input.b.exists(y, y == x))").unwrap();
        let small: Vec<u32> = (0..50).collect();
        let fixture = Fixture(json!({"a": small, "b": small}));
        assert_eq!(quadratic.evaluate(&fixture), Ok(json!(true)));
        let large: Vec<u32> = (0..6000).collect();
        let error = quadratic
            .evaluate(&Fixture(json!({"a": large, "b": large})))
            .unwrap_err();
        assert!(error.reason.contains("over the budget"), "{error}");
    }

    #[test]
    fn a_result_over_the_size_limit_is_an_error() {
        let square = Expression::compile("input.a.map(x, input.a)").unwrap();
        let items: Vec<u32> = (0..1500).collect();
        let error = square.evaluate(&Fixture(json!({"a": items}))).unwrap_err();
        assert!(error.reason.contains("larger than the limit"), "{error}");
        let text = "x".repeat(MAX_VALUE_BYTES / 4);
        let doubled = Expression::compile("input.t + input.t + input.t + input.t + input.t");
        let error = doubled
            .unwrap()
            .evaluate(&Fixture(json!({"t": text})))
            .unwrap_err();
        assert!(error.reason.contains("larger than the limit"), "{error}");
    }

    #[test]
    fn iteration_is_told_apart() {
        assert!(
            Expression::compile("input.a.exists(x, x > 1)")
                .unwrap()
                .iterates()
        );
        assert!(!Expression::compile("input.a[0] > 1").unwrap().iterates());
    }

    #[test]
    fn long_messages_are_cut_on_a_character() {
        let long = "é".repeat(MAX_MESSAGE_BYTES);
        let cut = oversized_text("the error", &long).unwrap();
        assert!(cut.len() < MAX_MESSAGE_BYTES + 100);
        assert!(cut.ends_with("cut to 16384)"), "{}", &cut[cut.len() - 40..]);
        assert_eq!(oversized_text("the error", "short"), None);
    }
}
