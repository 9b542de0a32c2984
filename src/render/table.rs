//! A small aligned text table: a header, a rule, rows; columns sized to their widest cell.

pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    right: Vec<bool>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table { header: header.iter().map(|s| s.to_string()).collect(), rows: vec![], right: vec![false; header.len()] }
    }

    /// Right-aligns the given columns (numbers).
    pub fn right(&mut self, cols: &[usize]) {
        for &c in cols {
            if let Some(r) = self.right.get_mut(c) {
                *r = true;
            }
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let width = |s: &str| s.chars().count();
        let mut w: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if i < w.len() {
                    w[i] = w[i].max(width(c));
                }
            }
        }
        let fmt_row = |cells: &[String]| {
            let mut line = String::new();
            for (i, wi) in w.iter().enumerate() {
                let c = cells.get(i).map(String::as_str).unwrap_or("");
                let pad = wi - width(c).min(*wi);
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right[i] {
                    line.extend(std::iter::repeat(' ').take(pad));
                    line.push_str(c);
                } else {
                    line.push_str(c);
                    if i + 1 < w.len() {
                        line.extend(std::iter::repeat(' ').take(pad));
                    }
                }
            }
            line.truncate(line.trim_end().len());
            line.push('\n');
            line
        };
        let mut out = fmt_row(&self.header);
        out.push_str(&w.iter().map(|n| "─".repeat(*n)).collect::<Vec<_>>().join("  "));
        out.push('\n');
        for r in &self.rows {
            out.push_str(&fmt_row(r));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns() {
        let mut t = Table::new(&["a", "num"]);
        t.right(&[1]);
        t.row(vec!["long cell".into(), "7".into()]);
        let s = t.render();
        assert_eq!(s, "a          num\n─────────  ───\nlong cell    7\n");
    }
}
