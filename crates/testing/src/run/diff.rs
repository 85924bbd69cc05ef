//! A unified line diff (expected against actual), small and dependency-free: common prefix and
//! suffix stripped, then a longest-common-subsequence table over what remains when it is
//! small enough; past that (two huge, very different outputs) the first differing lines of
//! each side only, so a report never costs more than a bounded amount of time and memory.

/// At most this many cells in the LCS table (4 MB of `u32`).
const MAX_CELLS: usize = 1 << 20;
/// Lines of each side shown when the table would be too large.
const MAX_FALLBACK_LINES: usize = 40;
/// Unchanged lines shown around each change.
const CONTEXT: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Same,
    Removed,
    Added,
}

/// `--- expected` / `+++ actual` and `@@` hunks; empty when the texts are equal.
pub fn unified(expected: &str, actual: &str) -> String {
    if expected == actual {
        return String::new();
    }
    let old: Vec<&str> = expected.lines().collect();
    let new: Vec<&str> = actual.lines().collect();
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (a, b) = (
        &old[prefix..old.len() - suffix],
        &new[prefix..new.len() - suffix],
    );
    let mut ops = vec![Op::Same; prefix];
    let mut truncated = false;
    if a.len().saturating_mul(b.len()) <= MAX_CELLS {
        ops.extend(lcs(a, b));
    } else {
        // Too large to align: every middle line differs; show the first ones only.
        truncated = true;
        ops.extend(std::iter::repeat_n(Op::Removed, a.len()));
        ops.extend(std::iter::repeat_n(Op::Added, b.len()));
    }
    ops.extend(std::iter::repeat_n(Op::Same, suffix));
    render(&old, &new, &ops, truncated)
}

/// The edit script of `a` → `b` from the LCS table (suffix lengths, so the walk goes forward
/// and prefers removals before additions, as `diff -u` prints them).
fn lcs(a: &[&str], b: &[&str]) -> Vec<Op> {
    let (n, m) = (a.len(), b.len());
    let width = m + 1;
    let mut table = vec![0u32; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            table[i * width + j] = if a[i] == b[j] {
                table[(i + 1) * width + j + 1] + 1
            } else {
                table[(i + 1) * width + j].max(table[i * width + j + 1])
            };
        }
    }
    let mut ops = Vec::with_capacity(n + m);
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if a[i] == b[j] {
            ops.push(Op::Same);
            i += 1;
            j += 1;
        } else if table[(i + 1) * width + j] >= table[i * width + j + 1] {
            ops.push(Op::Removed);
            i += 1;
        } else {
            ops.push(Op::Added);
            j += 1;
        }
    }
    ops.extend(std::iter::repeat_n(Op::Removed, n - i));
    ops.extend(std::iter::repeat_n(Op::Added, m - j));
    ops
}

fn render(old: &[&str], new: &[&str], ops: &[Op], truncated: bool) -> String {
    let mut out = String::from("--- expected\n+++ actual\n");
    // Position of each op in the old and new texts.
    let mut at = Vec::with_capacity(ops.len());
    let (mut i, mut j) = (0usize, 0usize);
    for op in ops {
        at.push((i, j));
        match op {
            Op::Same => {
                i += 1;
                j += 1;
            }
            Op::Removed => i += 1,
            Op::Added => j += 1,
        }
    }
    let changes: Vec<usize> = (0..ops.len()).filter(|&k| ops[k] != Op::Same).collect();
    let mut k = 0;
    while k < changes.len() {
        // A hunk: changes closer than 2 × CONTEXT unchanged lines share one.
        let start = changes[k].saturating_sub(CONTEXT);
        let mut last = changes[k];
        while k + 1 < changes.len() && changes[k + 1] - last <= 2 * CONTEXT {
            k += 1;
            last = changes[k];
        }
        k += 1;
        let end = (last + 1 + CONTEXT).min(ops.len());
        let (old_start, new_start) = at[start];
        let old_len = ops[start..end].iter().filter(|o| **o != Op::Added).count();
        let new_len = ops[start..end]
            .iter()
            .filter(|o| **o != Op::Removed)
            .count();
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(old_start, old_len),
            range(new_start, new_len)
        ));
        let (mut removed, mut added) = (0, 0);
        for (op, &(i, j)) in ops[start..end].iter().zip(&at[start..end]) {
            let (sign, line) = match op {
                Op::Same => (' ', old[i]),
                Op::Removed => {
                    removed += 1;
                    if truncated && removed > MAX_FALLBACK_LINES {
                        continue;
                    }
                    ('-', old[i])
                }
                Op::Added => {
                    added += 1;
                    if truncated && added > MAX_FALLBACK_LINES {
                        continue;
                    }
                    ('+', new[j])
                }
            };
            out.push(sign);
            out.push_str(line);
            out.push('\n');
        }
        if truncated {
            let hidden = removed.saturating_sub(MAX_FALLBACK_LINES)
                + added.saturating_sub(MAX_FALLBACK_LINES);
            if hidden > 0 {
                out.push_str(&format!(
                    "… {hidden} more differing lines (the outputs are too large to align)\n"
                ));
            }
        }
    }
    out
}

/// `start,len` as `diff -u` writes it (1-based; `start` is the line before for an empty range).
fn range(start: usize, len: usize) -> String {
    match len {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        _ => format!("{},{len}", start + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: usize, f: impl Fn(usize) -> String) -> String {
        (0..n).map(|i| f(i) + "\n").collect()
    }

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a\nb\n", "a\nb\n"), "");
    }

    #[test]
    fn a_change_with_context() {
        let old = lines(10, |i| format!("l{i}"));
        let new = old.replace("l5\n", "L5\n").replace("l6\n", "");
        assert_eq!(
            unified(&old, &new),
            "--- expected\n+++ actual\n@@ -3,8 +3,7 @@\n l2\n l3\n l4\n-l5\n-l6\n+L5\n l7\n l8\n l9\n"
        );
    }

    #[test]
    fn distant_changes_make_separate_hunks_and_additions_count_from_zero() {
        let old = lines(20, |i| format!("l{i}"));
        let new = old.replace("l1\n", "x\n").replace("l18\n", "y\n");
        let diff = unified(&old, &new);
        assert_eq!(diff.matches("@@ -").count(), 2, "{diff}");
        assert!(diff.contains("@@ -1,5 +1,5 @@\n l0\n-l1\n+x\n"), "{diff}");
        assert_eq!(
            unified("", "a\n"),
            "--- expected\n+++ actual\n@@ -0,0 +1 @@\n+a\n"
        );
    }

    #[test]
    fn huge_unalignable_inputs_show_the_first_lines_only() {
        let old = lines(3000, |i| format!("a{i}"));
        let new = lines(3000, |i| format!("b{i}"));
        let started = std::time::Instant::now();
        let diff = unified(&old, &new);
        assert!(started.elapsed().as_secs() < 2);
        assert!(diff.lines().count() < 100, "{}", diff.lines().count());
        assert!(diff.contains("-a0\n") && diff.contains("+b0\n"));
        assert!(
            diff.ends_with("… 5920 more differing lines (the outputs are too large to align)\n")
        );
        // Large but mostly equal: the prefix and suffix are stripped, the rest aligned.
        let new = old.replace("a1500\n", "changed\n");
        let diff = unified(&old, &new);
        assert!(diff.contains("-a1500\n+changed\n"), "{diff}");
    }
}
