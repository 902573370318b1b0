//! W3C trace context (`traceparent`) and how spans join a workflow's trace.
//!
//! A workflow instance belongs to one trace for its whole life: the one its
//! start continued (an incoming `traceparent`) or began. The start stores it
//! in the metadata of `WorkflowStarted`, so a command decided much later, on
//! any node, joins the same trace; every task message carries it to its
//! worker. Spans join a trace through the OpenTelemetry layer when one is
//! installed; without it the ids still travel, with fresh span ids.

use std::fmt;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The HTTP header and AMQP message header that carry a [`TraceParent`].
pub const TRACEPARENT: &str = "traceparent";

/// A trace id and the id of the span that is the parent of what comes next.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    trace_id: [u8; 16],
    parent_id: [u8; 8],
    sampled: bool,
}

impl TraceParent {
    /// Reads `00-<32 hex>-<16 hex>-<2 hex>`; `None` for anything else, an
    /// all-zero id included (the W3C rule: such a header is ignored).
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('-');
        let (version, trace, parent, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        // Version 00 has exactly four parts; a later version may add more.
        if version.len() != 2 || version == "ff" || (version == "00" && parts.next().is_some()) {
            return None;
        }
        hex_bytes::<1>(version)?;
        let trace_id = hex_bytes::<16>(trace)?;
        let parent_id = hex_bytes::<8>(parent)?;
        let [flags] = hex_bytes::<1>(flags)?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            parent_id,
            sampled: flags & 1 == 1,
        })
    }

    /// A new trace, sampled, with a random root parent id.
    pub fn root() -> Self {
        let mut trace_id = [0; 16];
        fill_random(&mut trace_id);
        Self {
            trace_id,
            parent_id: random_span_id(),
            sampled: true,
        }
    }

    /// The trace of an instance whose start stored none (started before
    /// trace ids were kept): derived from the instance id, so every node
    /// agrees on it.
    pub fn derived_from(instance: uuid::Uuid, event: uuid::Uuid) -> Self {
        let mut parent_id = [0; 8];
        parent_id.copy_from_slice(&event.as_bytes()[8..]);
        if parent_id == [0; 8] {
            parent_id = random_span_id();
        }
        Self {
            trace_id: *instance.as_bytes(),
            parent_id,
            sampled: true,
        }
    }

    /// The trace id, 32 lowercase hex digits.
    pub fn trace_id(&self) -> String {
        hex(&self.trace_id)
    }

    /// The same trace, with `span_id` as the parent.
    fn with_parent(self, parent_id: [u8; 8]) -> Self {
        Self { parent_id, ..self }
    }

    fn span_context(&self) -> SpanContext {
        SpanContext::new(
            TraceId::from_bytes(self.trace_id),
            SpanId::from_bytes(self.parent_id),
            if self.sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            },
            true,
            TraceState::default(),
        )
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            hex(&self.trace_id),
            hex(&self.parent_id),
            u8::from(self.sampled)
        )
    }
}

impl fmt::Debug for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceParent({self})")
    }
}

/// Makes `span` a child of `parent` (in `parent`'s trace). Call it before
/// the span is first entered; without an OpenTelemetry layer it does nothing.
pub fn join(span: &Span, parent: &TraceParent) {
    let context = opentelemetry::Context::new().with_remote_span_context(parent.span_context());
    // Fails only when no OpenTelemetry layer is installed, or the span
    // already started: it then stays where it is.
    let _ = span.set_parent(context);
}

/// The `traceparent` to give work done on behalf of `span`, in `trace`'s
/// trace: the span's own id when OpenTelemetry records it, else a fresh one.
pub fn hand_on(span: &Span, trace: &TraceParent) -> TraceParent {
    let context = span.context();
    let own = context.span().span_context().clone();
    if own.is_valid() && own.trace_id().to_bytes() == trace.trace_id {
        trace.with_parent(own.span_id().to_bytes())
    } else {
        trace.with_parent(random_span_id())
    }
}

fn random_span_id() -> [u8; 8] {
    let mut id = [0; 8];
    while id == [0; 8] {
        fill_random(&mut id);
    }
    id
}

fn fill_random(bytes: &mut [u8]) {
    // The OS has no entropy only in a broken sandbox; fall back to a v4-like
    // id from the clock then, still unique enough for a trace id.
    if getrandom::fill(bytes).is_err() {
        let fallback = uuid::Uuid::now_v7();
        for (byte, source) in bytes.iter_mut().zip(fallback.as_bytes().iter().rev()) {
            *byte = *source;
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

/// `N` bytes from exactly `2 * N` lowercase hex digits.
fn hex_bytes<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let value = |digit: u8| match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    };
    let mut bytes = [0; N];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (value(pair[0])? << 4) | value(pair[1])?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn reads_and_writes_the_w3c_example() {
        let parent = TraceParent::parse(EXAMPLE).unwrap();
        assert_eq!(parent.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(parent.to_string(), EXAMPLE);
        let unsampled = TraceParent::parse(&EXAMPLE.replace("-01", "-00")).unwrap();
        assert!(unsampled.to_string().ends_with("-00"));
    }

    #[test]
    fn refuses_malformed_and_all_zero_headers() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_root_is_a_new_sampled_trace_and_handing_on_keeps_it() {
        let root = TraceParent::root();
        assert_ne!(root, TraceParent::root());
        assert_eq!(TraceParent::parse(&root.to_string()), Some(root));
        let handed = hand_on(&Span::none(), &root);
        assert_eq!(handed.trace_id(), root.trace_id());
        assert_ne!(handed, root);
    }
}
