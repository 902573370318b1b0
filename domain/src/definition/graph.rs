//! The step graph: topological order, cycles, and transitive closures.

/// A set of step indices, as a bit set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepSet(Vec<u64>);

impl StepSet {
    pub fn with_capacity(steps: usize) -> Self {
        Self(vec![0; steps.div_ceil(64)])
    }

    pub fn insert(&mut self, index: usize) {
        if self.0.len() <= index / 64 {
            self.0.resize(index / 64 + 1, 0);
        }
        self.0[index / 64] |= 1 << (index % 64);
    }

    pub fn contains(&self, index: usize) -> bool {
        self.0
            .get(index / 64)
            .is_some_and(|word| word & (1 << (index % 64)) != 0)
    }

    pub fn union_with(&mut self, other: &StepSet) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            *mine |= theirs;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(word_index, word)| {
            (0..64)
                .filter(move |bit| word & (1 << bit) != 0)
                .map(move |bit| word_index * 64 + bit)
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|word| *word == 0)
    }
}

/// Orders steps so every step comes after what it needs; ties keep the
/// written order. On a cycle, returns its steps, each needing the next
/// (and the last needing the first).
pub fn topological_order(needs: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let count = needs.len();
    let mut remaining: Vec<usize> = needs.iter().map(Vec::len).collect();
    let mut dependants = vec![Vec::new(); count];
    for (step, step_needs) in needs.iter().enumerate() {
        for &need in step_needs {
            dependants[need].push(step);
        }
    }
    let mut ready: std::collections::BTreeSet<usize> =
        (0..count).filter(|&step| remaining[step] == 0).collect();
    let mut order = Vec::with_capacity(count);
    while let Some(step) = ready.pop_first() {
        order.push(step);
        for &dependant in &dependants[step] {
            remaining[dependant] -= 1;
            if remaining[dependant] == 0 {
                ready.insert(dependant);
            }
        }
    }
    if order.len() == count {
        Ok(order)
    } else {
        Err(find_cycle(needs, &remaining))
    }
}

/// Walks needs among the steps left over by Kahn's algorithm until a step repeats.
fn find_cycle(needs: &[Vec<usize>], remaining: &[usize]) -> Vec<usize> {
    let Some(start) = (0..needs.len()).find(|&step| remaining[step] > 0) else {
        return Vec::new();
    };
    let mut path = vec![start];
    let mut current = start;
    loop {
        let Some(&next) = needs[current].iter().find(|&&need| remaining[need] > 0) else {
            return path;
        };
        if let Some(position) = path.iter().position(|&step| step == next) {
            return path.split_off(position);
        }
        path.push(next);
        current = next;
    }
}

/// For steps in topological order, the transitive closure of `needs`.
pub fn ancestors(needs: &[Vec<usize>]) -> Vec<StepSet> {
    let mut sets: Vec<StepSet> = Vec::with_capacity(needs.len());
    for step_needs in needs {
        let mut set = StepSet::with_capacity(needs.len());
        for &need in step_needs {
            set.insert(need);
            let inherited = sets[need].clone();
            set.union_with(&inherited);
        }
        sets.push(set);
    }
    sets
}

/// For steps in topological order, every step that transitively needs each one.
pub fn descendants(ancestors: &[StepSet]) -> Vec<StepSet> {
    let mut sets = vec![StepSet::with_capacity(ancestors.len()); ancestors.len()];
    for (step, set) in ancestors.iter().enumerate() {
        for ancestor in set.iter() {
            sets[ancestor].insert(step);
        }
    }
    sets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_needs_first_keeping_written_order_on_ties() {
        let needs = vec![vec![2], vec![], vec![1], vec![]];
        assert_eq!(topological_order(&needs).unwrap(), vec![1, 2, 0, 3]);
    }

    #[test]
    fn finds_a_cycle() {
        let needs = vec![vec![], vec![3], vec![1], vec![2]];
        let mut cycle = topological_order(&needs).unwrap_err();
        cycle.sort_unstable();
        assert_eq!(cycle, vec![1, 2, 3]);
    }

    #[test]
    fn closes_over_needs() {
        let needs = vec![vec![], vec![0], vec![1], vec![]];
        let up = ancestors(&needs);
        assert_eq!(up[2].iter().collect::<Vec<_>>(), vec![0, 1]);
        let down = descendants(&up);
        assert_eq!(down[0].iter().collect::<Vec<_>>(), vec![1, 2]);
        assert!(down[3].is_empty());
    }
}
