//! The step graph drawn as Mermaid or Graphviz DOT, with conditions, joins
//! and compensations shown.

use std::fmt::Write;

use super::model::{Join, StepDefinition, StepKind, WorkflowDefinition};

pub fn mermaid(definition: &WorkflowDefinition) -> String {
    let mut out = String::from("flowchart TD\n");
    for step in &definition.steps {
        let shape = match step.kind {
            StepKind::Approval { .. } => ("{{", "}}"),
            StepKind::Signal { .. } => (">", "]"),
            StepKind::Wait(_) => ("([", "])"),
            StepKind::Fail { .. } => ("[/", "/]"),
            _ => ("[", "]"),
        };
        let _ = writeln!(
            out,
            "    {}{}\"{}\"{}",
            node_id(step),
            shape.0,
            escape_mermaid(&label(step)),
            shape.1
        );
    }
    for step in &definition.steps {
        for &need in &step.needs {
            let edge = match &step.when {
                Some(when) => format!("-- \"{}\" -->", escape_mermaid(&condition(when.source()))),
                None => "-->".to_owned(),
            };
            let _ = writeln!(
                out,
                "    {} {edge} {}",
                node_id(&definition.steps[need]),
                node_id(step)
            );
        }
    }
    for step in &definition.steps {
        if let Some(compensate) = &step.compensate {
            let undo = format!("{}_undo", node_id(step));
            let text = format!(
                "undo {}: {} {}",
                step.id,
                compensation_kind(&compensate.action),
                compensate.action.queue()
            );
            let _ = writeln!(out, "    {undo}[\"{}\"]", escape_mermaid(&text));
            let _ = writeln!(out, "    {} -. compensate .-> {undo}", node_id(step));
            let _ = writeln!(out, "    class {undo} compensation");
        }
    }
    out.push_str("    classDef compensation stroke-dasharray: 4 3,fill:#fff4f4,stroke:#c0392b\n");
    out
}

pub fn dot(definition: &WorkflowDefinition) -> String {
    let mut out = format!(
        "digraph \"{}\" {{\n    rankdir=TB;\n    node [shape=box, style=rounded];\n",
        escape_dot(&definition.name)
    );
    for step in &definition.steps {
        let shape = match step.kind {
            StepKind::Approval { .. } => "hexagon",
            StepKind::Signal { .. } => "cds",
            StepKind::Wait(_) => "ellipse",
            StepKind::Fail { .. } => "parallelogram",
            _ => "box",
        };
        let _ = writeln!(
            out,
            "    \"{}\" [label=\"{}\", shape={shape}];",
            escape_dot(step.id.as_str()),
            escape_dot(&label(step))
        );
    }
    for step in &definition.steps {
        for &need in &step.needs {
            let attributes = match &step.when {
                Some(when) => format!(" [label=\"{}\"]", escape_dot(&condition(when.source()))),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "    \"{}\" -> \"{}\"{attributes};",
                escape_dot(definition.steps[need].id.as_str()),
                escape_dot(step.id.as_str())
            );
        }
    }
    for step in &definition.steps {
        if let Some(compensate) = &step.compensate {
            let undo = format!("{}/undo", step.id);
            let text = format!(
                "undo {}: {} {}",
                step.id,
                compensation_kind(&compensate.action),
                compensate.action.queue()
            );
            let _ = writeln!(
                out,
                "    \"{}\" [label=\"{}\", style=\"rounded,dashed\", color=\"#c0392b\"];",
                escape_dot(&undo),
                escape_dot(&text)
            );
            let _ = writeln!(
                out,
                "    \"{}\" -> \"{}\" [style=dashed, color=\"#c0392b\", label=\"compensate\"];",
                escape_dot(step.id.as_str()),
                escape_dot(&undo)
            );
        }
    }
    out.push_str("}\n");
    out
}

fn label(step: &StepDefinition) -> String {
    let detail = match &step.kind {
        StepKind::Task { queue, .. } => format!("task: {queue}"),
        StepKind::Http { .. } => "http".to_owned(),
        StepKind::Approval { approvers, .. } if !approvers.is_empty() => {
            format!("approval: {}", approvers.join(", "))
        }
        StepKind::Signal { name, .. } => format!("signal: {name}"),
        other => other.name().to_owned(),
    };
    let join = if step.join == Join::Any {
        " (join: any)"
    } else {
        ""
    };
    format!("{}\n{detail}{join}", step.id)
}

fn condition(source: &str) -> String {
    format!("when {}", source.trim())
}

fn compensation_kind(action: &super::model::CompensationAction) -> &'static str {
    match action {
        super::model::CompensationAction::Task { .. } => "task",
        super::model::CompensationAction::Http { .. } => "http",
    }
}

fn node_id(step: &StepDefinition) -> String {
    step.id.as_str().replace('-', "_")
}

fn escape_mermaid(text: &str) -> String {
    text.replace('"', "#quot;").replace('\n', "<br/>")
}

fn escape_dot(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
