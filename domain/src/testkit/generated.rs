//! Generated workflows of any size, for benchmarks.

/// A valid workflow of `steps` task steps for benchmarks: a few parallel
/// lanes with cross links, inputs templated from upstream outputs, and a
/// condition on every tenth step.
pub fn generated_workflow(steps: usize) -> String {
    let mut yaml = format!(
        "name: generated-{steps}\nversion: 1\ninput:\n  schema: {{type: object}}\ndefaults:\n  retry: {{max_attempts: 3, initial: 1s, jitter: false}}\nsteps:\n"
    );
    for index in 0..steps {
        yaml.push_str(&format!("  s{index}:\n    type: task\n    queue: work\n"));
        let mut needs = Vec::new();
        if index >= 4 {
            needs.push(index - 4);
        }
        if index >= 7 && index % 3 == 0 {
            needs.push(index - 7);
        }
        if !needs.is_empty() {
            let list: Vec<String> = needs.iter().map(|need| format!("s{need}")).collect();
            yaml.push_str(&format!("    needs: [{}]\n", list.join(", ")));
            yaml.push_str(&format!("    input: {{ from: \"${{ steps.s{}.output.id }}\", amount: \"${{ input.amount }}\" }}\n", needs[0]));
        }
        if index % 10 == 9 {
            yaml.push_str("    when: input.amount < 1000\n");
        }
        yaml.push_str("    compensate: { type: task, queue: undo }\n");
    }
    yaml
}
