//! Printing for people: aligned tables whose every number has a unit, and the assumptions
//! block that follows each answer.

use xisuan_estimate::Assumption;

/// A two-or-more-column table, aligned on print. Numeric columns are right-aligned.
#[derive(Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table { header: header.iter().map(|s| s.to_string()).collect(), rows: Vec::new() }
    }
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
    pub fn render(&self) -> String {
        let n = self.header.len().max(self.rows.iter().map(Vec::len).max().unwrap_or(0));
        let mut width = vec![0usize; n];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (i, c) in r.iter().enumerate() {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let numeric = |s: &str| s.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') && s.chars().any(|c| c.is_ascii_digit());
        let mut out = String::new();
        let line = |r: &Vec<String>, out: &mut String, header: bool| {
            let mut cells = Vec::new();
            for (i, w) in width.iter().enumerate() {
                let c = r.get(i).map(String::as_str).unwrap_or("");
                let pad = w - c.chars().count();
                if !header && numeric(c) {
                    cells.push(format!("{}{}", " ".repeat(pad), c));
                } else {
                    cells.push(format!("{}{}", c, " ".repeat(pad)));
                }
            }
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        };
        if self.header.iter().any(|h| !h.is_empty()) {
            line(&self.header, &mut out, true);
            let total: usize = width.iter().sum::<usize>() + 2 * (n.saturating_sub(1));
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
        for r in &self.rows {
            line(r, &mut out, false);
        }
        out
    }
}

pub fn human(x: f64) -> String {
    xisuan_model::units::human(x)
}

/// Prints the assumptions an answer rests on, with their sources and confidence.
pub fn assumptions_block(items: &[Assumption]) -> String {
    let mut t = Table::new(&["assumption", "value", "unit", "confidence", "source"]);
    for a in items {
        t.row(vec![a.name.clone(), a.value.clone(), a.unit.clone(), a.confidence.to_string(), a.source.clone()]);
    }
    format!("\nAssumptions (override any with its flag):\n{}", t.render())
}

pub fn notes_block(notes: &[String]) -> String {
    if notes.is_empty() {
        return String::new();
    }
    let mut s = String::from("\nNotes:\n");
    for n in notes {
        s.push_str(&format!("  - {n}\n"));
    }
    s
}
