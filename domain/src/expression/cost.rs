//! A static bound on what an expression costs to run and on the size of
//! what it returns, as polynomials in `n`, the size of the data it reads.
//! The `cel` crate has no cost API, so the bound is computed from the
//! syntax tree when the expression is compiled and checked against the
//! budget when it runs, once `n` is known (Kubernetes bounds CEL the same
//! way: a static estimate over the sizes the data may have).
//!
//! Sizes count values: one per scalar, list, map and entry, and one per 64
//! bytes of a string. The rules are deliberately rough: a variable is as
//! large as all the data; a comprehension (`all`, `exists`, `exists_one`,
//! `map`, `filter`) iterates once per value of its range (so a pass costs
//! at least the range's whole size, which bounds what reading each of its
//! elements costs, and each element then counts as one); a call costs its arguments' costs, plus
//! what it reads of them (comparing, searching or joining large values)
//! and returns at most their sum.

use std::collections::HashMap;

use cel::IdedExpr;
use cel::common::ast::{Expr, LiteralValue, operators};

use super::limits::children;

/// Bytes of a string that count as one value.
pub const STRING_BYTES_PER_UNIT: usize = 64;

/// The highest power of `n` a bound may reach: nesting comprehensions
/// raises it, and an expression that would go past is refused.
pub const MAX_DEGREE: usize = 6;

/// A polynomial in `n` with coefficients that are never negative, so it
/// grows with `n` and adding or taking the maximum coefficient by
/// coefficient bounds both operands.
#[derive(Clone, Debug, PartialEq)]
pub struct Bound(Vec<f64>);

impl Bound {
    pub fn constant(value: f64) -> Self {
        Bound(vec![value])
    }

    /// `n` itself: the size of the data.
    fn data() -> Self {
        Bound(vec![0.0, 1.0])
    }

    pub fn degree(&self) -> usize {
        self.0.iter().rposition(|&c| c > 0.0).unwrap_or(0)
    }

    /// The bound's value for data of size `n` (infinite when it overflows).
    pub fn at(&self, n: f64) -> f64 {
        self.0.iter().rev().fold(0.0, |total, c| total * n + c)
    }

    fn plus(&self, other: &Bound) -> Bound {
        let mut sum = vec![0.0; self.0.len().max(other.0.len())];
        for (index, slot) in sum.iter_mut().enumerate() {
            *slot = self.0.get(index).unwrap_or(&0.0) + other.0.get(index).unwrap_or(&0.0);
        }
        Bound(sum)
    }

    fn times(&self, other: &Bound) -> Bound {
        let mut product = vec![0.0; self.0.len() + other.0.len() - 1];
        for (i, a) in self.0.iter().enumerate() {
            for (j, b) in other.0.iter().enumerate() {
                product[i + j] += a * b;
            }
        }
        Bound(product)
    }

    fn max(&self, other: &Bound) -> Bound {
        let mut max = vec![0.0; self.0.len().max(other.0.len())];
        for (index, slot) in max.iter_mut().enumerate() {
            *slot = self
                .0
                .get(index)
                .unwrap_or(&0.0)
                .max(*other.0.get(index).unwrap_or(&0.0));
        }
        Bound(max)
    }

    fn sum<'a>(bounds: impl IntoIterator<Item = &'a Bound>) -> Bound {
        bounds
            .into_iter()
            .fold(Bound::constant(0.0), |total, bound| total.plus(bound))
    }
}

/// What evaluating an expression may cost, and how large its value may be.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    pub cost: Bound,
    pub size: Bound,
    /// What an operation that reads the whole value pays for it: its size,
    /// except for a comprehension's element (see the module's comment).
    pub read: Bound,
}

impl Estimate {
    /// The estimate of `root`. Its depth must have been checked: the walk
    /// recurses.
    pub fn of(root: &IdedExpr) -> Self {
        estimate(root, &mut HashMap::new())
    }

    /// The cost of a run over data of size `n`, converting the result
    /// included.
    pub fn cost_at(&self, n: f64) -> f64 {
        self.cost.at(n) + self.size.at(n)
    }

    pub fn degree(&self) -> usize {
        self.cost.degree().max(self.size.degree())
    }
}

impl Estimate {
    fn new(cost: Bound, size: Bound) -> Self {
        Self {
            cost,
            read: size.clone(),
            size,
        }
    }
}

fn leaf(size: Bound) -> Estimate {
    Estimate::new(Bound::constant(1.0), size)
}

/// `bound` maps the variables bound by enclosing comprehensions to the
/// size of their values. Such a variable is read at unit cost: an element
/// (see the module's comment), and the accumulator, which is appended to in
/// place (`cel` recognises the macros' steps).
fn estimate(node: &IdedExpr, bound: &mut HashMap<String, Bound>) -> Estimate {
    match &node.expr {
        Expr::Literal(literal) => leaf(Bound::constant(literal_size(literal))),
        Expr::Ident(name) => match bound.get(name) {
            Some(size) => Estimate {
                cost: Bound::constant(1.0),
                size: size.clone(),
                read: Bound::constant(1.0),
            },
            None => leaf(Bound::data()),
        },
        Expr::Select(select) => {
            let operand = estimate(&select.operand, bound);
            let cost = operand.cost.plus(&Bound::constant(1.0));
            if select.test {
                leaf(Bound::constant(1.0))
            } else {
                Estimate { cost, ..operand }
            }
        }
        Expr::Comprehension(comprehension) => {
            let range = estimate(&comprehension.iter_range, bound);
            let saved: Vec<_> = [
                Some(&comprehension.iter_var),
                comprehension.iter_var2.as_ref(),
                Some(&comprehension.accu_var),
            ]
            .into_iter()
            .flatten()
            .map(|name| (name.clone(), bound.get(name).cloned()))
            .collect();
            // An element counts as one value: a pass is multiplied by the
            // range's whole size, which is at least the sum of its elements'.
            bound.insert(comprehension.iter_var.clone(), Bound::constant(1.0));
            if let Some(second) = &comprehension.iter_var2 {
                bound.insert(second.clone(), Bound::constant(1.0));
            }
            let init = estimate(&comprehension.accu_init, bound);
            // The macros' steps use the accumulator once, added to (`accu +
            // [x]`, `accu + 1`) or combined with a condition: what one step
            // adds is its size with an empty accumulator.
            bound.insert(comprehension.accu_var.clone(), Bound::constant(0.0));
            let growth = estimate(&comprehension.loop_step, bound).size;
            let accumulated = init.size.plus(&range.size.times(&growth));
            bound.insert(comprehension.accu_var.clone(), accumulated);
            let condition = estimate(&comprehension.loop_cond, bound);
            let step = estimate(&comprehension.loop_step, bound);
            let result = estimate(&comprehension.result, bound);
            for (name, previous) in saved {
                match previous {
                    Some(previous) => bound.insert(name, previous),
                    None => bound.remove(&name),
                };
            }
            let per_iteration = condition.cost.plus(&step.cost).plus(&Bound::constant(1.0));
            let cost = Bound::sum([
                &range.cost,
                &init.cost,
                &range.size.times(&per_iteration),
                &result.cost,
            ]);
            Estimate::new(cost, result.size)
        }
        Expr::Call(call) => {
            let parts: Vec<_> = children(node)
                .into_iter()
                .map(|child| estimate(child, bound))
                .collect();
            call_estimate(&call.func_name, call.target.is_some(), parts)
        }
        Expr::List(_) | Expr::Map(_) | Expr::Struct(_) => {
            let parts: Vec<_> = children(node)
                .into_iter()
                .map(|child| estimate(child, bound))
                .collect();
            let one = Bound::constant(1.0 + parts.len() as f64);
            Estimate::new(
                Bound::sum(parts.iter().map(|part| &part.cost)).plus(&one),
                Bound::sum(parts.iter().map(|part| &part.size)).plus(&one),
            )
        }
        Expr::Unspecified => leaf(Bound::constant(0.0)),
    }
}

fn call_estimate(function: &str, method: bool, parts: Vec<Estimate>) -> Estimate {
    let costs = Bound::sum(parts.iter().map(|part| &part.cost)).plus(&Bound::constant(1.0));
    let reads = Bound::sum(parts.iter().map(|part| &part.read));
    match (function, parts.as_slice()) {
        (operators::CONDITIONAL, [_, yes, no]) => Estimate {
            cost: costs,
            size: yes.size.max(&no.size),
            read: yes.read.max(&no.read),
        },
        (operators::LOGICAL_AND | operators::LOGICAL_OR | operators::LOGICAL_NOT, _) => {
            leaf_with_cost(costs)
        }
        (operators::INDEX | operators::OPT_INDEX, [target, _]) => Estimate {
            cost: costs,
            ..target.clone()
        },
        // `size(x)` and `x.size()` count without reading the values.
        ("size", _) if parts.len() == 1 || method => leaf_with_cost(costs),
        _ => {
            let sizes = Bound::sum(parts.iter().map(|part| &part.size));
            Estimate::new(costs.plus(&reads), sizes.plus(&Bound::constant(1.0)))
        }
    }
}

fn leaf_with_cost(cost: Bound) -> Estimate {
    Estimate::new(cost, Bound::constant(1.0))
}

fn literal_size(literal: &LiteralValue) -> f64 {
    let bytes = match literal {
        LiteralValue::String(text) => text.inner().len(),
        LiteralValue::Bytes(bytes) => bytes.inner().len(),
        _ => 0,
    };
    1.0 + (bytes / STRING_BYTES_PER_UNIT) as f64
}
