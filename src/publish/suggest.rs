//! Suggested fixes: the changed line rewritten so that the check passes,
//! for the checks a single scalar fixes. A suggestion keeps the line's
//! indentation, its quoting and its trailing comment; it is offered only
//! when the line's key is the field's own key (so the rewrite cannot touch
//! anything else), and never for a line it cannot parse.

/// The scalar fix of a check: the field's last key, the values that fail,
/// and the value that passes.
struct Fix {
    check: &'static str,
    key: &'static str,
    bad: &'static [&'static str],
    good: &'static str,
}

const FIXES: &[Fix] = &[
    Fix {
        check: "privileged",
        key: "privileged",
        bad: &["true"],
        good: "false",
    },
    Fix {
        check: "hostNamespaces",
        key: "hostNetwork",
        bad: &["true"],
        good: "false",
    },
    Fix {
        check: "hostNamespaces",
        key: "hostPID",
        bad: &["true"],
        good: "false",
    },
    Fix {
        check: "hostNamespaces",
        key: "hostIPC",
        bad: &["true"],
        good: "false",
    },
    Fix {
        check: "allowPrivilegeEscalation",
        key: "allowPrivilegeEscalation",
        bad: &["true"],
        good: "false",
    },
    Fix {
        check: "runAsNonRoot",
        key: "runAsNonRoot",
        bad: &["false"],
        good: "true",
    },
    Fix {
        check: "readOnlyRootFilesystem",
        key: "readOnlyRootFilesystem",
        bad: &["false"],
        good: "true",
    },
    Fix {
        check: "automountServiceAccountToken",
        key: "automountServiceAccountToken",
        bad: &["true"],
        good: "false",
    },
    Fix {
        check: "seccompProfile_baseline",
        key: "type",
        bad: &["Unconfined"],
        good: "RuntimeDefault",
    },
    Fix {
        check: "seccompProfile_restricted",
        key: "type",
        bad: &["Unconfined"],
        good: "RuntimeDefault",
    },
];

/// The line `text` with its value fixed for `check` on `field` (the
/// finding's field path), or None when no safe rewrite exists.
pub fn fixed_line(check: &str, field: &str, text: &str) -> Option<String> {
    let last = field.rsplit('.').next()?;
    let fix = FIXES.iter().find(|f| f.check == check && f.key == last)?;
    // `  key: value  # comment`, the value plain or quoted.
    let indent = text.len() - text.trim_start().len();
    let rest = &text[indent..];
    let rest = rest.strip_prefix("- ").unwrap_or(rest);
    let (key, after) = rest.split_once(':')?;
    if key.trim() != fix.key {
        return None;
    }
    let value_start = text.len() - after.len() + (after.len() - after.trim_start().len());
    let value_part = &text[value_start..];
    let (value, quote) = match value_part.chars().next()? {
        q @ ('"' | '\'') => {
            let end = value_part[1..].find(q)? + 1;
            (&value_part[1..end], Some(q))
        }
        _ => (
            value_part
                .split(|c: char| c.is_whitespace() || c == '#')
                .next()?,
            None,
        ),
    };
    if !fix.bad.iter().any(|b| b.eq_ignore_ascii_case(value)) {
        return None;
    }
    let len = value.len() + if quote.is_some() { 2 } else { 0 };
    let replacement = match quote {
        Some(q) => format!("{q}{}{q}", fix.good),
        None => fix.good.to_string(),
    };
    Some(format!(
        "{}{replacement}{}",
        &text[..value_start],
        &text[value_start + len..]
    ))
}

#[cfg(test)]
mod tests {
    use super::fixed_line;

    #[test]
    fn scalar_fixes_keep_the_line_as_written() {
        let f = "spec.template.spec.containers[name=app].securityContext.privileged";
        assert_eq!(
            fixed_line(
                "privileged",
                f,
                "          privileged: true   # for the debugger"
            )
            .as_deref(),
            Some("          privileged: false   # for the debugger")
        );
        assert_eq!(
            fixed_line("privileged", f, "  privileged: \"true\"").as_deref(),
            Some("  privileged: \"false\"")
        );
        assert_eq!(
            fixed_line("hostNamespaces", "spec.hostPID", "  hostPID: True").as_deref(),
            Some("  hostPID: false")
        );
        assert_eq!(
            fixed_line(
                "seccompProfile_restricted",
                "spec.securityContext.seccompProfile.type",
                "      type: 'Unconfined'"
            )
            .as_deref(),
            Some("      type: 'RuntimeDefault'")
        );
        assert_eq!(
            fixed_line(
                "runAsNonRoot",
                "spec.securityContext.runAsNonRoot",
                "- runAsNonRoot: false"
            )
            .as_deref(),
            Some("- runAsNonRoot: true")
        );
    }

    #[test]
    fn no_suggestion_where_a_rewrite_is_not_safe() {
        let f = "spec.template.spec.containers[name=app].securityContext.privileged";
        // Another key on the line, a template expression, a value that passes.
        assert_eq!(fixed_line("privileged", f, "  debug: true"), None);
        assert_eq!(
            fixed_line("privileged", f, "  privileged: {{ .Values.p }}"),
            None
        );
        assert_eq!(fixed_line("privileged", f, "  privileged: false"), None);
        // Checks no scalar fixes.
        assert_eq!(
            fixed_line(
                "hostPathVolumes",
                "spec.volumes[name=x].hostPath",
                "  hostPath: {}"
            ),
            None
        );
        assert_eq!(fixed_line("privileged", f, "  privileged: \"true"), None);
    }
}
